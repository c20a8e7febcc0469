// The .d.ts files as a TypeScript user meets them: tests/types/ makes every call README.md and docs/ show, in a
// worker (the worker's globals only, with Workbox's own types), a page (the DOM's only) and a Node server,
// and `tsc --noEmit` checks each project, the package's .d.ts files included (skipLibCheck off).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = `${root}node_modules/.bin/tsc`;

for (const project of ['sw', 'page', 'server']) {
  test(`tsc --noEmit: the README's ${project} calls type-check against the package's .d.ts files`, () => {
    try {
      execFileSync(tsc, ['--noEmit', '-p', `tests/types/tsconfig.${project}.json`], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      assert.fail(`tsc found errors:\n${error.stdout}${error.stderr}`);
    }
  });
}
