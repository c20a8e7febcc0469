// fanout_sends_s: pushes sent per second by one Node process to a push endpoint on loopback (HTTPS with a
// throwaway certificate, keep-alive, answering 201), `concurrency` requests in flight.
//   sealpost  sendToMany: per device a seal (sealPush's: seal + sign in Wasm, the signer imported once per call)
//             and sendSealedPush (web-push's VAPID JWT and RFC 8291 encryption, sealpost's request and status
//             mapping)
//   web_push  web-push's sendNotification of the same message as plain JSON, the same concurrency and agent
// Both paths are checked first: one request of each is decrypted (RFC 8291) and its payload read back.
// The endpoint runs in the same process, so it costs both paths alike.
import https from 'node:https';
import { createRequire } from 'node:module';

import { generateSignerKeyPair, generateVAPIDKeys, sendToMany } from '../js/server.js';
import { selfSignedCertificate } from '../sw-demo/push-service.js';
import { browserSubscription, decryptRfc8291 } from '../tests/node/push-support.js';
import { interleavedBatches } from './lib/measure.mjs';

const require = createRequire(import.meta.url);
const MESSAGE = { title: 'Reply from Ada', body: 'See you at 6 by the station.', url: '/notes/42', tag: 'note-42' };

/** A loopback push endpoint that answers 201 to everything; `capture` sees each body. */
async function endpoint() {
  const tls = selfSignedCertificate();
  const state = { received: 0, capture: null };
  const server = https.createServer({ key: tls.key, cert: tls.cert, keepAliveTimeout: 60000 }, (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      state.received += 1;
      state.capture?.(req.url, Buffer.concat(chunks));
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state, cert: tls.cert, origin: `https://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); return new Promise((resolve) => server.close(resolve)); },
  };
}

/**
 * @param {{sodium: object, count: number, runs: number, concurrency?: number}} options
 *   count: devices per batch (each path sends to all of them once per run)
 * @returns {Promise<{sealpost: number, web_push: number}>}  sends per second (median of the runs)
 */
export async function fanout({ sodium, count, runs, concurrency = 16 }) {
  const webpush = require('web-push');
  const service = await endpoint();
  const agent = new https.Agent({ ca: service.cert, keepAlive: true, maxSockets: concurrency });
  try {
    const vapid = generateVAPIDKeys();
    const vapidDetails = { subject: 'mailto:bench@sealpost.invalid', publicKey: vapid.publicKey, privateKey: vapid.privateKey };
    const signer = generateSignerKeyPair();
    const devices = Array.from({ length: count }, (_, i) => {
      const browser = browserSubscription(service.origin, `d${i}`);
      const box = sodium.crypto_box_keypair();
      return { subscription: browser.json, publicKey: box.publicKey, browser, box };
    });
    const json = JSON.stringify(MESSAGE);

    const sealpost = async (list) => {
      const results = await sendToMany(list, MESSAGE, { signer, vapidDetails, agent, concurrency, TTL: 60,
        allowPrivateAddresses: true });
      const failed = results.find((r) => r.status !== 'sent');
      if (failed) throw new Error(`sealpost fan-out: ${failed.status} ${failed.statusCode} ${failed.error ?? ''}`);
      return list.length;
    };
    const webPush = async (list) => {
      let next = 0;
      const worker = async () => {
        while (next < list.length) {
          const device = list[next];
          next += 1;
          const { statusCode } = await webpush.sendNotification(device.subscription, json, { vapidDetails, agent, TTL: 60 });
          if (statusCode !== 201) throw new Error(`web-push fan-out: HTTP ${statusCode}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
      return list.length;
    };

    // Check each path once: what arrives decrypts (RFC 8291) to the sealed envelope / the JSON.
    const first = devices[0];
    const captured = [];
    service.state.capture = (url, body) => { if (url === '/push/d0') captured.push(body); };
    await sealpost([first]);
    await webPush([first]);
    service.state.capture = null;
    if (captured.length !== 2) throw new Error(`fan-out check: ${captured.length} requests reached /push/d0, not 2`);
    const envelope = decryptRfc8291(captured[0], first.browser);
    const inner = sodium.crypto_box_seal_open(envelope.subarray(9), first.box.publicKey, first.box.privateKey);
    const opened = JSON.parse(Buffer.from(inner.subarray(1 + 8 + 64)).toString('utf8'));
    if (inner[0] !== 1 || opened.title !== MESSAGE.title) throw new Error('fan-out check: the sealed envelope did not open');
    if (decryptRfc8291(captured[1], first.browser).toString('utf8') !== json) throw new Error('fan-out check: web-push payload differs');

    const before = service.state.received;
    const rates = await interleavedBatches({ sealpost: () => sealpost(devices), web_push: () => webPush(devices) },
      { runs });
    if (service.state.received - before !== 2 * runs * count) throw new Error('fan-out: a request went missing');
    return { sealpost: rates.sealpost, web_push: rates.web_push };
  } finally {
    agent.destroy();
    await service.close();
  }
}
