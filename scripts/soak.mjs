// npm run soak [-- --notes N --kills K --aimed-kills A --relaunches R --groups G --seed S --note-ms MS
// --run-ms MS]: the full browser soak (tests/browser/soak.js): by default 1,000 notes, 20 worker kills at
// random moments, 25 aimed at a page's own request, 3 browser relaunches. Prints its seed first, then one
// line of figures; exits non-zero when a note is lost, doubled or out of order, or when a step does not
// settle within its deadline (a note: 90 s; the run: 2 min + 2 s a note + the drain's 5 min).
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
try {
  console.log(soakLine(await runSoak(options)));
} catch (error) {
  console.error(error.stack ?? error);
  process.exitCode = 1;
}
