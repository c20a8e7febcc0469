// README.md and docs/*.md link to each other by file and by heading: every relative link and image must name a
// file that exists and, with a #fragment, a heading that file has (GitHub's anchors: lower case, punctuation
// dropped, spaces to hyphens, -1, -2 for repeats). Code blocks and inline code are not links.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks and inline code. */
function prose(markdown) {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()]/g, ' '));
}

/** GitHub's heading anchors of a markdown file. */
export function anchors(markdown) {
  const seen = new Map();
  const out = new Set();
  for (const line of markdown.replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(markdown) {
  const text = prose(markdown);
  const found = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push(m[1]);
  for (const m of text.matchAll(/<img\s[^>]*src="([^"]+)"/g)) found.push(m[1]);
  return found.filter((href) => !/^[a-z][a-z0-9+.-]*:/i.test(href));
}

test('the anchor rule matches GitHub\'s on the headings these files use', () => {
  assert.deepEqual([...anchors('## Exactly once: `idempotency()`\n### `sealpost/page`\n## Sealed records (encryption at rest)\n## A\n## A')],
    ['exactly-once-idempotency', 'sealpostpage', 'sealed-records-encryption-at-rest', 'a', 'a-1']);
});

test('every relative link and image in README.md and docs/*.md resolves, fragments included', () => {
  const broken = [];
  let checked = 0;
  for (const file of FILES) {
    const markdown = readFileSync(join(ROOT, file), 'utf8');
    for (const href of links(markdown)) {
      checked += 1;
      const [path, fragment] = href.split('#');
      const target = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${file}: ${href} (no file ${relative(ROOT, target)})`);
        continue;
      }
      if (fragment !== undefined && !anchors(readFileSync(target, 'utf8')).has(fragment)) {
        broken.push(`${file}: ${href} (no heading #${fragment} in ${relative(ROOT, target)})`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked > 30, `links were found (${checked})`);
});

test('every docs/ page is linked from the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const linked = new Set(links(readme).map((href) => href.split('#')[0]));
  const orphans = FILES.filter((f) => f.startsWith('docs/') && !linked.has(f));
  assert.deepEqual(orphans, []);
});
