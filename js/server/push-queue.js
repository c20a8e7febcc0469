/**
 * Fan-out past one process: one BullMQ job per device in Redis, sealed and sent by pushWorker processes
 * (any number, on any machines sharing the Redis). bullmq is imported here on first use only, so
 * sealpost/server works without it.
 *
 *   sent      the job completes
 *   expired   onExpired(device, result), then the job completes (delete the subscription there)
 *   retry     the job is retried after `retryAfter` seconds when the push service gave one, else after an
 *             exponential backoff (backoffMs · 2^(n-1), equal jitter, at most maxBackoffMs), up to `attempts`
 *   rejected  onRejected(device, result), then the job fails for good: its failedReason is
 *             "rejected (<status or error code>): …"
 *
 * Every job of one add() seals the same message `id` and `iat` (filled once, at add), so a push that is
 * delivered twice (an answer lost after the push service took it) is dropped by the device's PushReceiver
 * as `replayed`.
 */
import { randomBytes } from 'node:crypto';

import { SealpostError } from '../errors.js';
// A cycle (server.js re-exports this file); both are only called when a job runs.
import { sealPush, sendSealedPush } from '../server.js';
import { checkDeclarative } from '../push/declarative.js';

export const DEFAULT_PUSH_QUEUE = 'sealpost-push';
const BACKOFF_TYPE = 'sealpost';
const DEFAULT_ATTEMPTS = 8;
const DEFAULT_BACKOFF_MS = 2000;
const DEFAULT_MAX_BACKOFF_MS = 3600 * 1000;
const BULK = 500;

let bullmq = null;

async function loadBullmq() {
  if (!bullmq) {
    try {
      bullmq = await import('bullmq');
    } catch (error) {
      throw new SealpostError('unsupported', 'createPushQueue and pushWorker need the bullmq package '
        + '(npm install bullmq)', { cause: error });
    }
  }
  return bullmq;
}

function invalid(message) {
  return new SealpostError('invalid-argument', message);
}

function positiveInteger(value, name) {
  if (!Number.isInteger(value) || value < 1) throw invalid(`${name} must be a positive integer`);
  return value;
}

/**
 * The producer's side: a BullMQ Queue that takes one message for many devices.
 * @param {{connection: object, name?: string, attempts?: number, backoffMs?: number, jobOptions?: object,
 *   queueOptions?: object}} options
 *   connection: what BullMQ takes (an ioredis client or its options, or a connected node-redis client)
 *   attempts: sends per device before a `retry` outcome fails the job (default 8)
 *   backoffMs: the first retry's delay when the push service gave no Retry-After (default 2000)
 *   jobOptions: BullMQ job options over the defaults (completed jobs kept a day, failed ones a week)
 */
export async function createPushQueue({ connection, name = DEFAULT_PUSH_QUEUE, attempts = DEFAULT_ATTEMPTS,
  backoffMs = DEFAULT_BACKOFF_MS, jobOptions = {}, queueOptions = {} } = {}) {
  if (!connection) throw invalid('connection is required (a Redis client or connection options for BullMQ)');
  positiveInteger(attempts, 'attempts');
  positiveInteger(backoffMs, 'backoffMs');
  const { Queue } = await loadBullmq();
  const queue = new Queue(name, { connection, ...queueOptions });
  const defaults = {
    attempts, backoff: { type: BACKOFF_TYPE, delay: backoffMs },
    // Completed job ids stay a day, so an add() that is retried with the same batchId adds nothing again.
    removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 }, ...jobOptions,
  };
  return {
    queue,
    /**
     * One job per device. Job ids are `<batchId>.<deviceId>`: adding the same batch again adds nothing.
     * @param {Array<{subscription: object, publicKey: string}>} devices  JSON-serializable; handed back to
     *   onExpired and onRejected as they are
     * @param {Record<string, unknown>} message  stored in Redis as it is until a worker seals it
     * @param {{batchId?: string, deviceId?: (device: object, index: number) => string, now?: number,
     *   declarative?: {title: string, navigate: string, body?: string, origin?: string}}} [options]
     *   batchId: default the message id; deviceId: default the device's index; declarative: each job sends a
     *   declarative Web Push message around its envelope (sealPush's option, checked here)
     * @returns {Promise<{batchId: string, messageId: string, jobs: number}>}
     */
    async add(devices, message, { batchId, deviceId = (device, index) => String(index), now = Date.now(),
      declarative } = {}) {
      if (!Array.isArray(devices)) throw invalid('devices must be an array');
      if (!message || typeof message !== 'object' || Array.isArray(message)) throw invalid('message must be an object');
      const generic = declarative === undefined || declarative === null ? undefined : checkDeclarative(declarative);
      const fixed = { ...message };
      if (fixed.id === undefined) fixed.id = randomBytes(16).toString('base64url');
      if (fixed.iat === undefined) fixed.iat = Math.floor(now / 1000);
      const batch = batchId ?? String(fixed.id);
      const jobs = devices.map((device, index) => {
        const id = `${batch}.${deviceId(device, index)}`;
        if (id.includes(':')) throw invalid(`job id ${id} contains ':', which BullMQ refuses`);
        const data = generic ? { device, message: fixed, declarative: generic } : { device, message: fixed };
        return { name: 'push', data, opts: { ...defaults, jobId: id } };
      });
      for (let i = 0; i < jobs.length; i += BULK) await queue.addBulk(jobs.slice(i, i + BULK));
      return { batchId: batch, messageId: String(fixed.id), jobs: jobs.length };
    },
    close: () => queue.close(),
  };
}

/** The delay before retry n: the push service's Retry-After, else equal-jitter exponential backoff. */
function backoffStrategy(maxBackoffMs) {
  return (attemptsMade, type, error, job) => {
    if (error?.retryAfter !== undefined) return error.retryAfter * 1000;
    const base = job?.opts?.backoff?.delay ?? DEFAULT_BACKOFF_MS;
    const delay = Math.min(maxBackoffMs, base * 2 ** Math.max(0, attemptsMade - 1));
    return Math.ceil(delay / 2 + Math.random() * (delay / 2));
  };
}

/**
 * The consumer's side: a BullMQ Worker that seals and sends each job.
 * @param {{connection: object, name?: string, signer?: {secretKey: string | Uint8Array},
 *   vapidDetails: {subject: string, publicKey: string, privateKey: string},
 *   onExpired?: (device: object, result: object) => unknown, onRejected?: (device: object, result: object) => unknown,
 *   concurrency?: number, maxBackoffMs?: number, maxEnvelopeBytes?: number, workerOptions?: object}
 *   & Record<string, unknown>} options  the rest are sendSealedPush's options (TTL, urgency, timeout, agent, …)
 * @returns {Promise<{worker: object, close: () => Promise<void>}>}
 */
export async function pushWorker({ connection, name = DEFAULT_PUSH_QUEUE, signer, vapidDetails, onExpired, onRejected,
  concurrency = 16, maxBackoffMs = DEFAULT_MAX_BACKOFF_MS, maxEnvelopeBytes, workerOptions = {},
  ...sendOptions } = {}) {
  if (!connection) throw invalid('connection is required (a Redis client or connection options for BullMQ)');
  if (!vapidDetails) throw invalid('vapidDetails are required');
  for (const [hook, value] of [['onExpired', onExpired], ['onRejected', onRejected]]) {
    if (value !== undefined && typeof value !== 'function') throw invalid(`${hook} must be a function`);
  }
  positiveInteger(concurrency, 'concurrency');
  positiveInteger(maxBackoffMs, 'maxBackoffMs');
  const { Worker, UnrecoverableError } = await loadBullmq();

  const reject = async (device, result) => {
    await onRejected?.(device, result);
    const what = result.statusCode ? result.statusCode : result.code ?? 'refused';
    throw new UnrecoverableError(`rejected (${what}): ${result.error ?? ''}`);
  };

  const processor = async (job) => {
    const { device, message, declarative } = job.data;
    let envelope;
    try {
      envelope = sealPush({ recipientPublicKey: device?.publicKey, message, signer, maxEnvelopeBytes, declarative });
    } catch (error) {
      // This device's key, or the message, cannot be sealed: no later attempt would do better.
      return reject(device, { status: 'rejected', statusCode: 0, code: error.code, error: error.message });
    }
    let result;
    try {
      result = await sendSealedPush(device.subscription, envelope, { vapidDetails, ...sendOptions });
    } catch (error) {
      // A subscription web-push refuses, or an endpoint sealpost may not reach.
      return reject(device, { status: 'rejected', statusCode: 0, code: error.code, error: error.message });
    }
    if (result.status === 'sent') return result;
    if (result.status === 'expired') {
      await onExpired?.(device, result);
      return result;
    }
    if (result.status === 'retry') {
      const error = new Error(`retry (${result.statusCode || 'no answer'}): ${result.error ?? ''}`);
      error.retryAfter = result.retryAfter;
      throw error;
    }
    return reject(device, result);
  };

  const worker = new Worker(name, processor, {
    connection, concurrency, ...workerOptions,
    settings: { backoffStrategy: backoffStrategy(maxBackoffMs), ...workerOptions.settings },
  });
  return { worker, close: () => worker.close() };
}
