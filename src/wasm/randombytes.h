/* libsodium's randombytes implementation for sealpost's Wasm module (see src/wasm/randombytes.c). */
#ifndef SEALPOST_WASM_RANDOMBYTES_H
#define SEALPOST_WASM_RANDOMBYTES_H

#include <stddef.h>
#include <stdint.h>

#include "sodium/randombytes.h"

#ifdef __cplusplus
extern "C" {
#endif

extern randombytes_implementation sealpost_randombytes_implementation;

#ifdef __cplusplus
}
#endif

#endif
