/**
 * What the worker tells pages: events on BroadcastChannel('sealpost') (ids, states, codes and counts,
 * never plaintext), and the {code, message} form errors take in events and message replies.
 */
const CHANNEL = 'sealpost';

/**
 * A broadcast function stamping each event with `source` and `at` (the worker's clock). The channel is
 * opened on the first event.
 * @param {() => number} now
 * @returns {(event: {type: string, [field: string]: unknown}) => void}
 */
export function broadcaster(now) {
  let channel = null;
  return (event) => {
    try {
      if (!channel) {
        channel = new BroadcastChannel(CHANNEL);
        channel.unref?.(); // Node: an open channel must not keep the process alive
      }
      channel.postMessage({ ...event, source: 'sealpost', at: now() });
    } catch {
      // No BroadcastChannel (or it is closing): events are a convenience, never a requirement.
    }
  };
}

/** @returns {{code: string, message: string}} */
export function errorInfo(error) {
  // A DOMException's `code` is a legacy number (11 for InvalidStateError): its name says more.
  const code = typeof error?.code === 'string' ? error.code : error?.name ?? 'error';
  return { code, message: String(error?.message ?? error) };
}
