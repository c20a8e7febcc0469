// npm run soak [-- --notes N --kills K --aimed-kills A --relaunches R --groups G --seed S --note-ms MS
// --run-ms MS --min-page-retries P]: the full browser soak (tests/browser/soak.js): by default 1,000 notes,
// 20 worker kills at random moments, 25 aimed at a page's own request, 3 browser relaunches. Prints its seed
// first, then one line of figures; exits non-zero when a note is lost, doubled or out of order, when a step
// does not settle within its deadline (a note: 90 s; the run: 2 min + 2 s a note + the drain's 5 min), or
// when the page posted again after an aimed kill fewer than P times (default: 20, or the aimed kills if
// fewer), so that the page-retry path is known to have run.
import { parseArgs } from 'node:util';

import { drawSeed, runSoak, soakLine } from '../tests/browser/soak.js';

const { values } = parseArgs({
  options: {
    notes: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '20' },
    'aimed-kills': { type: 'string', default: '25' },
    'note-ms': { type: 'string', default: '90000' },
    'run-ms': { type: 'string' },
    relaunches: { type: 'string', default: '3' },
    groups: { type: 'string', default: '4' },
    seed: { type: 'string' },
    'min-page-retries': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const seed = values.seed === undefined ? drawSeed() : Number(values.seed);
const options = {
  notes: Number(values.notes), kills: Number(values.kills), aimedKills: Number(values['aimed-kills']),
  relaunches: Number(values.relaunches), groups: Number(values.groups), seed,
  noteMs: Number(values['note-ms']), runMs: values['run-ms'] === undefined ? undefined : Number(values['run-ms']),
  log: values.quiet ? () => {} : (line) => console.error(`soak: ${line}`),
};
console.error(`soak: seed ${seed} (--seed ${seed} repeats this run)`);
const minPageRetries = Number(values['min-page-retries'] ?? Math.min(20, options.aimedKills));
try {
  const figures = await runSoak(options);
  console.log(soakLine(figures));
  if (figures.aimedRetries < minPageRetries) {
    throw new Error(`soak (seed ${seed}): the page posted again after an aimed kill ${figures.aimedRetries} times, `
      + `fewer than ${minPageRetries}: the page-retry path was not exercised enough`);
  }
} catch (error) {
  console.error(error.stack ?? error);
  process.exitCode = 1;
}
