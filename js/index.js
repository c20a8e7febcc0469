/**
 * sealpost: an encrypted, crash-safe outbox and sealed push payloads for service workers.
 * Runs in service workers (module and classic), pages, workers and Node >= 20.16.
 */
import { ready as readyCore } from './wasm/loader.js';

export { SealpostError } from './errors.js';
export { toBase64url, fromBase64url } from './base64url.js';
// outbox
export { Outbox } from './outbox/outbox.js';
export { WebCryptoKeyStore } from './storage/keystore.js';
// push
export { PushReceiver } from './push/receiver.js';

/**
 * Loads and compiles sealpost.wasm once for this worker (or page, or process) and resolves when it can
 * be used. Every other entry point calls it lazily; call it yourself to warm up or to catch a load error
 * ('wasm-load-failed') early.
 * @param {{wasmUrl?: string|URL, wasmBinary?: BufferSource, wasmModule?: WebAssembly.Module}} [options]
 * @returns {Promise<void>}
 */
export async function ready(options = {}) {
  await readyCore(options);
}
