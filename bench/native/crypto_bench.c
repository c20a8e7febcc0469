/* Native anchor for `npm run bench`: the same libsodium operations sealpost runs in Wasm, timed here
 * against Debian's libsodium-dev. Prints one JSON object on stdout.
 *
 *   crypto_bench [min_ms] [runs]
 *
 * Every case checks its own output (decrypts, verifies) before it is timed. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef void (*op_fn)(void *ctx);

/* Median over `runs` runs of operations per second, each run at least `min_ms` long. */
static double ops_per_second(op_fn op, void *ctx, double min_ms, int runs) {
  double rates[64];
  if (runs > 64) runs = 64;
  for (int i = 0; i < 3; i++) op(ctx); /* warm-up */
  for (int r = 0; r < runs; r++) {
    long n = 0;
    const double start = now_ms();
    double elapsed;
    do {
      op(ctx);
      n++;
      elapsed = now_ms() - start;
    } while (elapsed < min_ms);
    rates[r] = n / (elapsed / 1e3);
  }
  qsort(rates, runs, sizeof rates[0], compare);
  return rates[runs / 2];
}

struct aead_ctx {
  unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  unsigned char *message, *sealed;
  size_t len;
};

/* One seal as the outbox does it: a fresh random nonce, then encrypt. */
static void aead_seal(void *p) {
  struct aead_ctx *c = p;
  unsigned long long out_len;
  randombytes_buf(c->nonce, sizeof c->nonce);
  crypto_aead_xchacha20poly1305_ietf_encrypt(c->sealed, &out_len, c->message, c->len, NULL, 0, NULL,
                                             c->nonce, c->key);
}

static double aead_case(size_t len, double min_ms, int runs, double *mb_s) {
  struct aead_ctx c;
  c.len = len;
  c.message = malloc(len);
  c.sealed = malloc(len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned char *check = malloc(len);
  randombytes_buf(c.key, sizeof c.key);
  randombytes_buf(c.message, len);
  aead_seal(&c);
  unsigned long long check_len;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(check, &check_len, NULL, c.sealed,
                                                 len + crypto_aead_xchacha20poly1305_ietf_ABYTES, NULL, 0,
                                                 c.nonce, c.key) != 0 ||
      check_len != len || memcmp(check, c.message, len) != 0) {
    fprintf(stderr, "aead self-check failed\n");
    exit(1);
  }
  const double ops = ops_per_second(aead_seal, &c, min_ms, runs);
  if (mb_s) *mb_s = ops * len / 1e6;
  free(c.message);
  free(c.sealed);
  free(check);
  return ops;
}

struct push_ctx {
  unsigned char box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];
  unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES], sign_sk[crypto_sign_SECRETKEYBYTES];
  unsigned char *sealed, *inner;
  size_t sealed_len, inner_len, signed_len;
  unsigned char *signed_bytes;
};

/* The crypto of opening a signed envelope: crypto_box_seal_open, then crypto_sign_verify_detached over
 * "sealpost/push/v1" || recipient key id || body. */
static void push_open(void *p) {
  struct push_ctx *c = p;
  if (crypto_box_seal_open(c->inner, c->sealed, c->sealed_len, c->box_pk, c->box_sk) != 0) abort();
  const unsigned char *sig = c->inner + 1 + 8;
  const unsigned char *body = sig + crypto_sign_BYTES;
  const size_t body_len = c->inner_len - (1 + 8 + crypto_sign_BYTES);
  memcpy(c->signed_bytes + 16 + 8, body, body_len);
  if (crypto_sign_verify_detached(sig, c->signed_bytes, 16 + 8 + body_len, c->sign_pk) != 0) abort();
}

static double push_case(size_t envelope_len, double min_ms, int runs) {
  struct push_ctx c;
  crypto_box_keypair(c.box_pk, c.box_sk);
  crypto_sign_keypair(c.sign_pk, c.sign_sk);
  /* envelope = 1 + 8 + (48 + inner); inner = 1 + 8 + 64 + body */
  c.sealed_len = envelope_len - 9;
  c.inner_len = c.sealed_len - crypto_box_SEALBYTES;
  const size_t body_len = c.inner_len - (1 + 8 + crypto_sign_BYTES);
  c.inner = malloc(c.inner_len);
  c.sealed = malloc(c.sealed_len);
  c.signed_bytes = malloc(16 + 8 + body_len);
  memcpy(c.signed_bytes, "sealpost/push/v1", 16);
  memset(c.signed_bytes + 16, 0x42, 8);
  unsigned char *body = malloc(body_len);
  memset(body, ' ', body_len);
  memcpy(body, "{\"id\":\"bench\",\"iat\":1,\"title\":\"t\"}", 34);
  memcpy(c.signed_bytes + 24, body, body_len);
  c.inner[0] = 1;
  memset(c.inner + 1, 0x11, 8);
  crypto_sign_detached(c.inner + 9, NULL, c.signed_bytes, 24 + body_len, c.sign_sk);
  memcpy(c.inner + 9 + crypto_sign_BYTES, body, body_len);
  crypto_box_seal(c.sealed, c.inner, c.inner_len, c.box_pk);
  push_open(&c); /* aborts if it does not open and verify */
  const double ops = ops_per_second(push_open, &c, min_ms, runs);
  free(c.inner);
  free(c.sealed);
  free(c.signed_bytes);
  free(body);
  return ops;
}

int main(int argc, char **argv) {
  const double min_ms = argc > 1 ? atof(argv[1]) : 300;
  const int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (sodium_init() < 0) return 1;
  double mb_s = 0;
  aead_case(1 << 20, min_ms, runs, &mb_s);
  const double small = aead_case(256, min_ms, runs, NULL);
  const double push = push_case(642, min_ms, runs); // a 512-byte padded body, as sealPush makes it
  printf("{\"libsodium\":\"%s\",\"aead_1mib_mb_s\":%.1f,\"aead_256b_ops_s\":%.0f,\"push_open_ops_s\":%.0f}\n",
         sodium_version_string(), mb_s, small, push);
  return 0;
}
