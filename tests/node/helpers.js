// Shared helpers for the node --test suites.
import { after } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('../../', import.meta.url);

export function readVectors(name) {
  return JSON.parse(readFileSync(new URL(`tests/vectors/${name}`, root), 'utf8'));
}

export const hex = (bytes) => Buffer.from(bytes).toString('hex');
export const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'));

/** Index of `needle` in `haystack`, or -1 (a plain scan; fine for tests). */
export function indexOfBytes(haystack, needle) {
  if (needle.length === 0) return 0;
  const first = needle[0];
  for (let i = haystack.indexOf(first); i !== -1 && i <= haystack.length - needle.length; i = haystack.indexOf(first, i + 1)) {
    let match = true;
    for (let j = 1; j < needle.length; j += 1) {
      if (haystack[i + j] !== needle[j]) { match = false; break; }
    }
    if (match) return i;
  }
  return -1;
}

/** A deterministic PRNG (mulberry32) so that failures can be replayed from their seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A maker of temporary folders for one test file (call it at the file's top level): the folders are removed
 * once every test of the file has ended, so never under a server that is still writing into one (a test's
 * own after hooks close its servers first).
 * @returns {(prefix: string) => string}
 */
export function tempFolders() {
  const folders = [];
  after(() => { for (const dir of folders) rmSync(dir, { recursive: true, force: true }); });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    folders.push(dir);
    return dir;
  };
}
