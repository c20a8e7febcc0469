// The short browser soak of npm test (the full one is npm run soak): 100 notes in 4 groups through the
// demo's worker while the network drops out, 30% of the note requests fail (503/429 with Retry-After, a
// dropped connection, an answer lost after the server stored the write), the worker is stopped 5 times and
// the browser relaunched once on the same profile. Every note must reach the server once, in order within
// its group, and the outbox must end empty.
import test from 'node:test';
import assert from 'node:assert/strict';

import * as sealpost from '../../js/index.js';
import { runSoak, soakLine } from './soak.js';

const needsOutbox = typeof sealpost.Outbox === 'function' ? {} : { skip: 'this build has no Outbox (js/outbox.js)' };

test('soak: 100 notes, 30% faults, offline windows, 5 worker kills, 1 relaunch — each note once, in order per group, outbox empty', needsOutbox, async () => {
  const seed = process.env.SEALPOST_SOAK_SEED ? Number(process.env.SEALPOST_SOAK_SEED) : undefined;
  const figures = await runSoak({ notes: 100, groups: 4, kills: 5, relaunches: 1, seed, drainMs: 240000 });
  console.log(soakLine(figures));
  assert.equal(figures.kills, 5);
  assert.equal(figures.relaunches, 1);
  const faults = Object.values(figures.faults).reduce((a, b) => a + b, 0);
  assert.ok(faults > 0, 'faults were injected');
});
