// Crypto rows of `npm run bench`: XChaCha20-Poly1305 sealing (1 MiB and 256 B) and push opening, through
// sealpost's Wasm, libsodium-wrappers and native libsodium (bench/native/crypto_bench.c), in one run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { createCore, KeyKind } from '../js/wasm/loader.js';
import { equalBytes, interleaved } from './lib/measure.mjs';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

export async function loadSodium() {
  const sodium = require('libsodium-wrappers');
  await sodium.ready;
  return sodium;
}

/** Builds (when missing or older than its source) and runs the native anchor. */
export function runNative({ minMs, runs }) {
  const source = `${root}bench/native/crypto_bench.c`;
  const binary = `${root}build/bench/crypto_bench`;
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(`${root}build/bench`, { recursive: true });
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libsodium'], { encoding: 'utf8' }).trim().split(/\s+/);
    execFileSync('cc', ['-O2', '-o', binary, source, ...flags], { stdio: 'inherit' });
  }
  return JSON.parse(execFileSync(binary, [String(minMs), String(runs)], { encoding: 'utf8' }));
}

/**
 * AEAD sealing with a fresh random nonce per message (what the outbox does for each record), checked to
 * open before it is timed. sealpost goes through WasmCore.sealRecord, the outbox's own path.
 */
export async function aead({ sizes, minMs, runs, sodium }) {
  const core = await createCore();
  const handle = core.keyGenerate(KeyKind.symmetric);
  const place = { database: 'sealpost-bench', queue: 'bench', id: '0123456789abcdef0123456789abcdef' };
  const key = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();
  const results = {};
  for (const size of sizes) {
    const message = sodium.randombytes_buf(size);
    const sealed = core.recordSeal(handle, place, message);
    if (!equalBytes(core.recordOpen(handle, place, sealed), message)) throw new Error('sealpost AEAD self-check failed');
    const nonce = sodium.randombytes_buf(24);
    const c = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, null, null, nonce, key);
    if (!equalBytes(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, c, null, nonce, key), message)) {
      throw new Error('libsodium-wrappers AEAD self-check failed');
    }
    results[size] = interleaved({
      sealpost: () => core.recordSeal(handle, place, message),
      libsodium_wrappers: () => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        message, null, null, sodium.randombytes_buf(24), key),
    }, { minMs, runs });
  }
  core.keyRelease(handle);
  return results;
}

/**
 * A signed 512-byte envelope in the format of DESIGN.md ("Sealed push"), made with libsodium-wrappers:
 * the libsodium-wrappers row times its crypto_box_seal_open + crypto_sign_verify_detached.
 */
export function makeEnvelope(sodium, { size = 512, recipient, signer, body }) {
  const idOf = (pk) => sodium.crypto_generichash(32, pk).slice(0, 8);
  const rid = idOf(recipient.publicKey);
  const innerLength = size - 9 - sodium.crypto_box_SEALBYTES;
  const bodyLength = innerLength - 1 - 8 - 64;
  const text = new TextEncoder().encode(JSON.stringify(body));
  if (text.length > bodyLength) throw new Error('body too long for the envelope size');
  const padded = new Uint8Array(bodyLength).fill(0x20);
  padded.set(text);
  const context = new TextEncoder().encode('sealpost/push/v1');
  const signature = sodium.crypto_sign_detached(concat(context, rid, padded), signer.privateKey);
  const inner = concat(Uint8Array.of(1), idOf(signer.publicKey), signature, padded);
  return { envelope: concat(Uint8Array.of(1), rid, sodium.crypto_box_seal(inner, recipient.publicKey)), rid };
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}

/** Opening the envelope with libsodium-wrappers: seal open, then the detached signature check. */
export function wrappersPushOpen(sodium, { envelope, rid, recipient, signer }) {
  const context = new TextEncoder().encode('sealpost/push/v1');
  return () => {
    const inner = sodium.crypto_box_seal_open(envelope.subarray(9), recipient.publicKey, recipient.privateKey);
    const body = inner.subarray(1 + 8 + 64);
    if (!sodium.crypto_sign_verify_detached(inner.subarray(9, 73), concat(context, rid, body), signer.publicKey)) {
      throw new Error('signature did not verify');
    }
    return JSON.parse(new TextDecoder().decode(body));
  };
}
