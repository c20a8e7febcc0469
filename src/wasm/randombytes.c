/*
 * Entropy for libsodium inside sealpost.wasm.
 *
 * The module ships without Emscripten's runtime JS, so libsodium's EM_ASM-based source is replaced by
 * this implementation: every byte comes from the host's crypto.getRandomValues through the one import
 * `env.sealpost_random_fill(pointer, length)` that js/wasm/core.js provides. There is no user-space pool and
 * no fallback: if the host cannot give randomness, instantiation fails.
 */
#include "randombytes.h"

__attribute__((import_module("env"), import_name("sealpost_random_fill")))
extern void sealpost_random_fill(void *buf, size_t size);

static const char *implementation_name(void) { return "sealpost-js-getrandomvalues"; }

static uint32_t random_u32(void)
{
    uint32_t value;
    sealpost_random_fill(&value, sizeof value);
    return value;
}

static void buf(void *const out, const size_t size)
{
    if (size > 0) {
        sealpost_random_fill(out, size);
    }
}

randombytes_implementation sealpost_randombytes_implementation = {
    implementation_name, /* implementation_name */
    random_u32,          /* random */
    NULL,                /* stir */
    NULL,                /* uniform: libsodium's own rejection sampling over random() */
    buf,                 /* buf */
    NULL                 /* close */
};
