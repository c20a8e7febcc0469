/**
 * SealpostError: the one error class sealpost throws, with a stable string `.code`.
 *
 * The numeric statuses that cross the Wasm boundary and their names mirror SEALPOST_STATUS_LIST in
 * src/core/status.hpp; tests/node/errors.test.js checks the two tables against each other.
 */

/** @type {Readonly<Record<number, string>>} */
export const STATUS_NAMES = Object.freeze({
  0: 'ok',
  1: 'invalid-argument',
  2: 'buffer-too-small',
  3: 'out-of-memory',
  4: 'crypto-failure',
  5: 'unknown-key',
  6: 'unsupported',
  10: 'record-tampered',
  11: 'key-lost',
  12: 'wrong-key',
  20: 'too-large',
  21: 'malformed',
  22: 'unsupported-version',
  23: 'unknown-recipient',
  24: 'decrypt-failed',
  25: 'unsigned',
  26: 'unknown-signer',
  27: 'bad-signature',
  28: 'invalid-json',
  29: 'invalid-message',
  30: 'not-yet-valid',
  31: 'expired',
  32: 'replayed',
  40: 'invalid-policy',
  41: 'invalid-request',
  42: 'quota',
  43: 'storage-full',
  44: 'closed',
  45: 'wasm-load-failed',
});

const MESSAGES = {
  'invalid-argument': 'an argument has the wrong type, size or range',
  'buffer-too-small': 'an output buffer was too small',
  'out-of-memory': 'the Wasm module could not allocate memory',
  'crypto-failure': 'a libsodium primitive failed',
  'unknown-key': 'no key is loaded under that handle',
  unsupported: 'this module does not do that (Ed25519 signer keys live in sealpost-server.wasm)',
  'record-tampered': 'a stored record failed authentication (changed, truncated or moved)',
  'key-lost': 'the key that sealed this record is gone',
  'wrong-key': 'the record was sealed under another key',
  'too-large': 'the input is larger than allowed',
  malformed: 'the input is not in the expected format',
  'unsupported-version': 'the format version is not supported',
  'unknown-recipient': 'the envelope is for a key this device does not hold',
  'decrypt-failed': 'the envelope could not be decrypted',
  unsigned: 'the message is not signed but a signer is required',
  'unknown-signer': 'the message is signed by a key that is not trusted',
  'bad-signature': 'the message signature does not verify',
  'invalid-json': 'the message body is not valid UTF-8 JSON',
  'invalid-message': 'the message fields are invalid',
  'not-yet-valid': 'the message is issued in the future',
  expired: 'the message has expired',
  replayed: 'the message id was already seen',
  'invalid-policy': 'the retry policy is invalid',
  'invalid-request': 'the request cannot be queued',
  quota: 'the queue is full (maxEntries or maxBytes)',
  'storage-full': 'the browser refused to store more data',
  closed: 'the object is closed',
  'wasm-load-failed': 'the sealpost.wasm module could not be loaded',
  'display-failed': 'the message is valid but no notification could be shown for it',
  'endpoint-refused': 'the push endpoint is not one sealpost/server may send to',
  destroyed: 'the push keys were destroyed by another context (or with the site\'s data); open a new PushReceiver',
};

export class SealpostError extends Error {
  /**
   * @param {string} code  stable code, e.g. 'record-tampered'
   * @param {string} [message]  human-readable detail
   * @param {{cause?: unknown, status?: number, [key: string]: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    const { cause, ...rest } = details;
    super(message ?? MESSAGES[code] ?? code, cause === undefined ? undefined : { cause });
    this.name = 'SealpostError';
    /** @type {string} */
    this.code = code;
    Object.assign(this, rest);
  }
}

/** The code for a numeric status from the Wasm module. */
export function statusCode(status) {
  return STATUS_NAMES[status] ?? `status-${status}`;
}

/** Status numbers by name (STATUS_NAMES turned around), for callers that test a status before throwing. */
export const STATUS = Object.freeze(Object.fromEntries(
  Object.entries(STATUS_NAMES).map(([status, name]) => [name, Number(status)])));

/**
 * Throws a SealpostError for a non-zero status. `details` go on the error (e.g. `field`, `size`);
 * `details.message` replaces the table's text.
 * @param {number} status
 * @param {string | null} [context]  what was being done, prefixed to the message
 * @param {{message?: string, [key: string]: unknown}} [details]
 */
export function check(status, context, details = {}) {
  if (status === 0) return;
  const code = statusCode(status);
  const { message, ...rest } = details;
  const detail = message ?? MESSAGES[code] ?? `unknown status ${status}`;
  throw new SealpostError(code, context ? `${context}: ${detail}` : detail, { status, ...rest });
}
