// A browser's side of a push subscription, for tests that run a push service on loopback: a throwaway
// certificate, the subscription's keys, and RFC 8291 (aes128gcm) decryption written with Node's crypto.
import assert from 'node:assert/strict';
import { createECDH, createHmac, createDecipheriv, randomBytes } from 'node:crypto';

export { selfSignedCertificate } from '../../sw-demo/push-service.js';

const b64u = (buffer) => Buffer.from(buffer).toString('base64url');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** A browser's side of a subscription: a P-256 key pair and an auth secret. */
export function browserSubscription(origin, name) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh, auth,
    json: { endpoint: `${origin}/push/${name}`, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } },
  };
}

/** RFC 8291 (aes128gcm, one record) decryption with the subscription's private key and auth secret. */
export function decryptRfc8291(body, { ecdh, auth }) {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idLength = body[20];
  const asPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  assert.equal(idLength, 65, 'keyid is the sender\'s uncompressed P-256 public key');
  assert.ok(ciphertext.length <= rs, 'a single record');
  const uaPublic = ecdh.getPublicKey();
  const secret = ecdh.computeSecret(asPublic);
  const prkKey = hmac(auth, secret);
  const ikm = hmac(prkKey, Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.of(1)]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  assert.equal(padded[end], 2, 'the last record ends with the 0x02 delimiter');
  return padded.subarray(0, end);
}
