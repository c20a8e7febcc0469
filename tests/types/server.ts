// Every call README.md and docs/ show on the app server (sealpost/server), type-checked with Node's types.
import { generateSignerKeyPair, sealPush, sendSealedPush, sendToMany, generateVAPIDKeys, classifyPushStatus }
  from 'sealpost/server';
import type { Device, SendResult, PushSubscriptionJSON, DeclarativeOptions } from 'sealpost/server';

declare function render(value: unknown): void;
declare const device: Device & { subscription: PushSubscriptionJSON; publicKey: string };
declare const devices: Device[];
declare const title: string;
declare const bodyText: string;
declare const url: string;

async function serverCalls(): Promise<void> {
  const signer = generateSignerKeyPair();
  render([signer.publicKey, signer.secretKey]);
  const vapid = generateVAPIDKeys();
  const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey };
  const envelope: Buffer = sealPush({ recipientPublicKey: device.publicKey, message: { title, body: bodyText, url }, signer });
  sealPush({ recipientPublicKey: new Uint8Array(32), message: { title }, maxEnvelopeBytes: 3000, now: Date.now() });
  const result: SendResult = await sendSealedPush(device.subscription, envelope, { vapidDetails, TTL: 3600, urgency: 'high' });
  await sendSealedPush(device.subscription, envelope, { vapidDetails, timeout: 15000, pushServiceHosts: ['*.push.services.mozilla.com'],
    allowPrivateAddresses: false, topic: 't', headers: { 'x-a': 'b' } });
  render([result.status, result.statusCode, result.retryAfter, result.error, classifyPushStatus(410)]);
  const results = await sendToMany(devices, { title }, { signer, vapidDetails, concurrency: 16 });
  for (const r of results) render([r.device, r.status, r.code]);

  // "Declarative Web Push".
  const generic: DeclarativeOptions = { title: 'New message', body: 'Open the app to read it.', navigate: 'https://app.example/inbox' };
  const payload: Buffer = sealPush({ recipientPublicKey: device.publicKey, message: { title, body: bodyText, url: '/inbox/7' },
    signer, declarative: generic });
  await sendSealedPush(device.subscription, payload, { vapidDetails, TTL: 3600 });
  sealPush({ recipientPublicKey: device.publicKey, message: { title }, declarative: { title: 'New message', navigate: '/inbox',
    origin: 'https://app.example' }, maxEnvelopeBytes: 3993 });
  await sendToMany(devices, { title }, { signer, vapidDetails, declarative: generic });
}
render(serverCalls);
