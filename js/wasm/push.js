/**
 * WasmCore methods for the sealed-push export area, src/wasm/exports_push.cpp (names in
 * exports_push.txt, and exports_push.server.txt for the server module only), mixed into WasmCore
 * (js/wasm/core.js).
 */
import { SealpostError, STATUS, check } from '../errors.js';
import { decoder, requireBytes, requireText } from './frame.js';

const SEALED_CAPACITY = 4096;

export const pushExports = {
  /**
   * sp_push_open: opens a sealed push envelope (src/core/push.hpp): every check of DESIGN.md except
   * `replayed`, which the caller decides from `id` and `expiresAt` against its seen-id store.
   * @param {number[]} recipients  box key handles that may open it (current key first)
   * @param {Uint8Array[]} trustedSigners  Ed25519 public keys (32 bytes); empty: signatures not required
   * @param {Uint8Array} input  the envelope's bytes, or the UTF-8 bytes of its base64url text
   * @param {number} nowSeconds  Unix seconds
   * @param {number} maxSkewSeconds  how far in the future `iat` may be
   * @returns {{message: Record<string, unknown>, id: string, iat: number, expiresAt: number,
   *   keyId: string, signer: string | null}}
   */
  pushOpen(recipients, trustedSigners, input, nowSeconds, maxSkewSeconds) {
    const bytes = requireBytes(input, 'envelope');
    const signers = new Uint8Array(trustedSigners.length * 32);
    trustedSigners.forEach((key, i) => {
      const pk = requireBytes(key, 'trusted signer');
      if (pk.length !== 32) throw new SealpostError('invalid-argument', 'a trusted signer key must be 32 bytes');
      signers.set(pk, i * 32);
    });
    let capacity = bytes.length + 1024;
    for (;;) {
      const result = this.call((f, x) => {
        const handles = f.alloc(recipients.length * 4);
        const view = new DataView(this.memory.buffer);
        recipients.forEach((handle, i) => view.setInt32(handles + i * 4, handle, true));
        const signersPointer = f.put(signers);
        const inputPointer = f.put(bytes);
        const out = f.alloc(capacity, true);
        const outLen = f.alloc(4);
        const rc = x.sp_push_open(handles, recipients.length, signersPointer, signers.length, inputPointer,
          bytes.length, nowSeconds, maxSkewSeconds, out, capacity, outLen);
        if (rc === STATUS['buffer-too-small']) return { retry: f.u32(outLen) };
        check(rc, 'pushOpen');
        const text = f.read(out, f.u32(outLen));
        try {
          return { value: JSON.parse(decoder.decode(text)) };
        } finally {
          text.fill(0);
        }
      });
      if (result.retry === undefined) return result.value;
      if (result.retry <= capacity) check(STATUS['buffer-too-small'], 'pushOpen');
      capacity = result.retry;
    }
  },

  /**
   * sp_push_seal (server module only): seals a message for one device (src/core/push.hpp): fills `id` and
   * `iat` when absent, pads, signs with `signer` (a sign key handle, or 0 for none) and refuses envelopes
   * over `maxEnvelopeBytes` with 'too-large' carrying `size` and `maxEnvelopeBytes`.
   * @param {Uint8Array} recipientPublicKey  X25519, 32 bytes
   * @param {number} signer
   * @param {string} messageJson  a JSON object
   * @param {number} nowSeconds  Unix seconds
   * @param {number} maxEnvelopeBytes
   * @returns {Uint8Array}
   */
  pushSeal(recipientPublicKey, signer, messageJson, nowSeconds, maxEnvelopeBytes) {
    const pk = requireBytes(recipientPublicKey, 'recipientPublicKey');
    const message = requireText(messageJson, 'message');
    return this.call((f, x) => {
      if (typeof x.sp_push_seal !== 'function') {
        throw new SealpostError('unsupported', 'sealing is in dist/sealpost-server.wasm (sealpost/server), '
          + 'not in the worker module');
      }
      const pkPointer = f.put(pk);
      const [text, textLen] = f.putText(message, true);
      const out = f.alloc(SEALED_CAPACITY);
      const outLen = f.alloc(4);
      const rc = x.sp_push_seal(pkPointer, pk.length, signer, text, textLen, nowSeconds, maxEnvelopeBytes,
        out, SEALED_CAPACITY, outLen);
      if (rc === STATUS['too-large']) {
        const size = f.u32(outLen);
        check(rc, null, { message: `the sealed envelope would be ${size} bytes, over the maximum of ${maxEnvelopeBytes}`,
          size, maxEnvelopeBytes });
      }
      if (rc === STATUS['not-yet-valid']) {
        check(rc, null, { message: 'the message\'s iat is more than 300 s after now: no device would accept it '
          + '(iat is in Unix seconds, not milliseconds)' });
      }
      if (rc === STATUS.expired) check(rc, null, { message: 'the message\'s iat + ttl has already passed' });
      check(rc, 'pushSeal');
      return f.read(out, f.u32(outLen));
    });
  },
};
