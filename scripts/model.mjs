// The long run of the outbox model test (tests/node/outbox-model.js): `npm run model`.
//   SEALPOST_MODEL_RUNS=<n>    runs (default 100000)
//   SEALPOST_MODEL_SEED=<int>  the seed (default: drawn and printed); SEALPOST_MODEL_PATH=<path> with it
//                              replays the one failing case fast-check printed
// Progress goes to stderr every 1000 runs; a failure prints the shrunk command sequence, the seed and its path.
import { fc, property, stats } from '../tests/node/outbox-model.js';

const numRuns = Number(process.env.SEALPOST_MODEL_RUNS ?? 100000);
const seed = Number(process.env.SEALPOST_MODEL_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const path = process.env.SEALPOST_MODEL_PATH;
if (!Number.isSafeInteger(numRuns) || numRuns < 1 || !Number.isSafeInteger(seed)) {
  console.error('model: SEALPOST_MODEL_RUNS must be a positive integer and SEALPOST_MODEL_SEED an integer');
  process.exit(2);
}
console.log(`outbox model: seed ${seed}, ${numRuns} runs (replay: SEALPOST_MODEL_SEED=${seed})`);
const started = Date.now();
const timer = setInterval(() => {
  console.error(`outbox model: ${stats.runs} runs, ${Math.round((Date.now() - started) / 1000)} s`);
}, 30000);
timer.unref();
try {
  await fc.assert(property(), { numRuns, seed, ...(path ? { path } : {}) });
} catch (error) {
  console.error(error.message);
  if (error.cause) console.error(error.cause.message);
  console.error(`outbox model: FAILED with seed ${seed} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(1);
}
console.log(`outbox model: ${numRuns} runs passed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(stats)}`);
