// memset and memcpy for the Wasm modules, in place of the ones Emscripten links at -Oz.
//
// Linking with -Oz makes Emscripten pick its size-optimised libc ("libc-optz"), whose memset and memcpy
// are one-byte-per-iteration loops with unrolling disabled (system/lib/libc/emscripten_memset.c and
// emscripten_memcpy.c, EMSCRIPTEN_OPTIMIZE_FOR_OZ). Zeroing is on every secret-handling path here: each
// export's StackWipe clears 8 KiB of stack (src/core/stack_wipe.hpp), the zeroing operator delete clears
// every freed block (zeroing_delete.cpp) and libsodium's sodium_memzero calls memset. Byte by byte, the
// 8 KiB stack wipe alone took about 2.4 µs, a third of a 256-byte record seal; eight bytes per store it
// takes about 0.2 µs. These keep the loops small: 8-byte stores once the destination is aligned, bytes
// at the ends.
//
// Compiled with -fno-builtin (CMakeLists.txt), so that the compiler does not turn the loops back into
// calls to memset and memcpy. The native build keeps the C library's functions (nothing here is compiled
// for it).
#include <stddef.h>
#include <stdint.h>

typedef uint64_t __attribute__((__may_alias__, __aligned__(1))) unaligned_u64;
typedef uint64_t __attribute__((__may_alias__)) aligned_u64;

void* memset(void* dest, int c, size_t n) {
  unsigned char* d = (unsigned char*)dest;
  while (n > 0 && ((uintptr_t)d & 7) != 0) {
    *d++ = (unsigned char)c;
    --n;
  }
  const uint64_t word = (uint64_t)(unsigned char)c * 0x0101010101010101ull;
  for (; n >= 32; n -= 32, d += 32) {
    ((aligned_u64*)d)[0] = word;
    ((aligned_u64*)d)[1] = word;
    ((aligned_u64*)d)[2] = word;
    ((aligned_u64*)d)[3] = word;
  }
  for (; n >= 8; n -= 8, d += 8) *(aligned_u64*)d = word;
  while (n > 0) {
    *d++ = (unsigned char)c;
    --n;
  }
  return dest;
}

void* memcpy(void* restrict dest, const void* restrict src, size_t n) {
  unsigned char* d = (unsigned char*)dest;
  const unsigned char* s = (const unsigned char*)src;
  while (n > 0 && ((uintptr_t)d & 7) != 0) {
    *d++ = *s++;
    --n;
  }
  // Wasm loads may be unaligned, so the source needs no alignment of its own.
  for (; n >= 32; n -= 32, d += 32, s += 32) {
    ((aligned_u64*)d)[0] = ((const unaligned_u64*)s)[0];
    ((aligned_u64*)d)[1] = ((const unaligned_u64*)s)[1];
    ((aligned_u64*)d)[2] = ((const unaligned_u64*)s)[2];
    ((aligned_u64*)d)[3] = ((const unaligned_u64*)s)[3];
  }
  for (; n >= 8; n -= 8, d += 8, s += 8) *(aligned_u64*)d = *(const unaligned_u64*)s;
  while (n > 0) {
    *d++ = *s++;
    --n;
  }
  return dest;
}
