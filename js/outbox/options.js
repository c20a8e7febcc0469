/** The options Outbox.open checks itself (the retry policy is checked in C++, src/core/retry_json.hpp). */
import { SealpostError } from '../errors.js';

function requireLimit(value, fallback, name) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new SealpostError('invalid-argument', `${name} must be a positive integer`, { field: name });
  }
  return value;
}

/** → {ordering, header, limits}; 'invalid-argument' naming the field otherwise. */
export function checkOptions(options) {
  if (!options || typeof options.name !== 'string' || options.name === '') {
    throw new SealpostError('invalid-argument', 'Outbox.open needs a queue name', { field: 'name' });
  }
  const ordering = options.ordering ?? 'fifo';
  if (ordering !== 'fifo' && ordering !== 'independent') {
    throw new SealpostError('invalid-argument', "ordering must be 'fifo' or 'independent'", { field: 'ordering' });
  }
  const header = options.idempotencyHeader === undefined ? 'Idempotency-Key' : options.idempotencyHeader;
  if (header !== null && (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header))) {
    throw new SealpostError('invalid-argument', 'idempotencyHeader must be a header name or null',
      { field: 'idempotencyHeader' });
  }
  if (options.beforeReplay !== undefined && typeof options.beforeReplay !== 'function') {
    throw new SealpostError('invalid-argument', 'beforeReplay must be a function', { field: 'beforeReplay' });
  }
  const keyStore = options.keyStore;
  if (keyStore !== undefined && (typeof keyStore?.load !== 'function' || typeof keyStore.store !== 'function')) {
    throw new SealpostError('invalid-argument', 'keyStore needs load(purpose) and store(purpose, bytes)',
      { field: 'keyStore' });
  }
  const limits = {
    maxEntries: requireLimit(options.maxEntries, 10000, 'maxEntries'),
    maxBytes: requireLimit(options.maxBytes, 50 * 2 ** 20, 'maxBytes'),
  };
  return { ordering, header, limits };
}

