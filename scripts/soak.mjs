// npm run soak [-- --notes N --kills K --relaunches R --groups G --seed S]: the full browser soak
// (tests/browser/soak.js): by default 1,000 notes, 20 worker kills, 3 browser relaunches. Prints one line
// of figures and exits non-zero when a note is lost, doubled or out of order.
import { parseArgs } from 'node:util';

import { runSoak, soakLine } from '../tests/browser/soak.js';

const { values } = parseArgs({
  options: {
    notes: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '20' },
    relaunches: { type: 'string', default: '3' },
    groups: { type: 'string', default: '4' },
    seed: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const options = {
  notes: Number(values.notes), kills: Number(values.kills), relaunches: Number(values.relaunches),
  groups: Number(values.groups), seed: values.seed === undefined ? undefined : Number(values.seed),
  log: values.quiet ? () => {} : (line) => console.error(`soak: ${line}`),
};
try {
  console.log(soakLine(await runSoak(options)));
} catch (error) {
  console.error(error.stack ?? error);
  process.exitCode = 1;
}
