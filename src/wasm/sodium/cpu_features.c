/*
 * libsodium picks its ChaCha20 implementation at sodium_init() by asking the CPU for SSSE3. In WebAssembly
 * there is no CPUID: the answer is whether the module was compiled with SIMD, and it always is
 * (cmake/libsodium-wasm.cmake builds the SSSE3 code with -msimd128, which Emscripten lowers to Wasm SIMD).
 * runtime.c's own probe is renamed out of the way at compile time so this definition is the one linked.
 */
int sodium_runtime_has_ssse3(void) { return 1; }
