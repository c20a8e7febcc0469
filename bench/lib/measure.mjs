// Timing for `npm run bench`: warm-up, runs of at least `minMs` each, competitors interleaved run by run
// (so a noisy moment hurts all of them alike), median of the runs.

/**
 * @param {Record<string, () => unknown>} cases  name → one operation (synchronous)
 * @param {{minMs?: number, runs?: number, warmup?: number}} [options]
 * @returns {Record<string, number>}  name → median operations per second
 */
export function interleaved(cases, { minMs = 300, runs = 5, warmup = 3 } = {}) {
  const names = Object.keys(cases);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) for (let i = 0; i < warmup; i += 1) cases[name]();
  for (let run = 0; run < runs; run += 1) {
    for (const name of names) {
      const op = cases[name];
      let n = 0;
      const start = performance.now();
      let elapsed;
      do {
        op();
        n += 1;
        elapsed = performance.now() - start;
      } while (elapsed < minMs);
      rates[name].push(n / (elapsed / 1000));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(rates[n])]));
}

/**
 * The same for asynchronous cases measured as a whole batch: each case is `async () => count`
 * (it does `count` operations); the rate is count / seconds.
 * @param {Record<string, () => Promise<number>>} cases
 * @param {{runs?: number}} [options]
 */
export async function interleavedBatches(cases, { runs = 3 } = {}) {
  const names = Object.keys(cases);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (let run = 0; run < runs; run += 1) {
    for (const name of names) {
      const start = performance.now();
      const count = await cases[name]();
      rates[name].push(count / ((performance.now() - start) / 1000));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(rates[n])]));
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
