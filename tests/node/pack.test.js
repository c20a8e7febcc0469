// `npm pack` output installed into an empty folder works: the entry imports, finds its .wasm and seals.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the packed tarball installs into an empty folder and works', { timeout: 180_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root));
  const files = packed[0].files.map((f) => f.path);
  assert.ok(files.includes('dist/sealpost.wasm'), 'the tarball has the .wasm');
  assert.ok(files.includes('dist/sealpost.classic.js'), 'the tarball has the classic build');
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('tests/') || f.startsWith('build/')),
    `the tarball ships only the package: ${files.join(', ')}`);

  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball)], app);
  writeFileSync(join(app, 'main.js'), `
    import { ready, SealpostError, toBase64url } from 'sealpost';
    await ready();
    const err = new SealpostError('quota');
    console.log(JSON.stringify({ ok: true, code: err.code, b64: toBase64url(new Uint8Array([251, 255])) }));
  `);
  const out = JSON.parse(execFileSync('node', ['main.js'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(out, { ok: true, code: 'quota', b64: '-_8' });

  // sealpost/server from the tarball: its own module (sealpost-server.wasm) and web-push are there.
  writeFileSync(join(app, 'server.js'), `
    import { generateSignerKeyPair, generateVAPIDKeys, sealPush } from 'sealpost/server';
    const signer = generateSignerKeyPair();
    const envelope = sealPush({ recipientPublicKey: new Uint8Array(32).fill(9), message: { title: 't' }, signer });
    console.log(JSON.stringify({ length: envelope.length, vapid: typeof generateVAPIDKeys().publicKey }));
  `);
  const server = JSON.parse(execFileSync('node', ['server.js'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(server, { length: 1 + 8 + 48 + 1 + 72 + 256, vapid: 'string' });
});
