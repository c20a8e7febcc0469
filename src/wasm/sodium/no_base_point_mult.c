/*
 * The worker module's stand-in for libsodium's ge25519_scalarmult_base() inside X25519 (see
 * cmake/libsodium-wasm.cmake). Nothing in that module multiplies the base point this way; if a future
 * change did, it traps at once instead of computing a wrong key.
 */
void sealpost_no_base_point_mult(void *h, const unsigned char *a) {
  (void)h;
  (void)a;
  __builtin_trap();
}
