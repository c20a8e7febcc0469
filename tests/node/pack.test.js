// `npm pack` output installed into an empty folder works: the entry imports, finds its .wasm and seals;
// sealpost/server seals without web-push (an optional peer) and says what to install to send; and the
// tarball's file list.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
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

  // sealpost/server from the tarball: its own module (sealpost-server.wasm); web-push is an optional peer,
  // needed only to send.
  writeFileSync(join(app, 'server.js'), `
    import { generateSignerKeyPair, generateVAPIDKeys, sealPush, sendSealedPush } from 'sealpost/server';
    const signer = generateSignerKeyPair();
    const envelope = sealPush({ recipientPublicKey: new Uint8Array(32).fill(9), message: { title: 't' }, signer });
    let vapid;
    try {
      vapid = typeof generateVAPIDKeys().publicKey;
    } catch (error) {
      vapid = { code: error.code, message: error.message };
    }
    const send = await sendSealedPush({}, envelope, {}).then(() => 'sent', (error) => error.code);
    console.log(JSON.stringify({ length: envelope.length, vapid, send }));
  `);
  const length = 1 + 8 + 48 + 1 + 72 + 256;
  const without = JSON.parse(execFileSync('node', ['server.js'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(without, { length, send: 'unsupported',
    vapid: { code: 'unsupported', message: 'sealpost/server needs the web-push package: npm install web-push' } });
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', 'web-push@3'], app);
  const withWebPush = JSON.parse(execFileSync('node', ['server.js'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(withWebPush, { length, vapid: 'string', send: 'invalid-argument' });
});

test('npm pack ships the js/ tree, the modules, the digests, the classic bundles, README and LICENSE, and nothing else', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set(JSON.parse(out)[0].files.map((f) => f.path));
  const tracked = execFileSync('git', ['ls-files', 'js'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(tracked.length > 20, `git lists the js/ tree (${tracked.length} files)`);
  const expected = [
    ...tracked,
    'dist/sealpost.wasm', 'dist/sealpost-server.wasm', 'dist/sealpost-digest.js',
    'dist/sealpost.classic.js', 'dist/sealpost-sw.classic.js',
    'README.md', 'LICENSE', 'package.json',
  ];
  for (const file of expected) assert.ok(files.has(file), `${file} is in the tarball`);
  const extra = [...files].filter((f) => !expected.includes(f));
  assert.deepEqual(extra, [], 'nothing else (no tests/, src/, build/, sw-demo/, scripts/)');
  assert.ok(![...files].some((f) => /^(tests|src|build)\//.test(f)));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined, 'no runtime dependency');
  assert.deepEqual(pkg.peerDependenciesMeta, { 'web-push': { optional: true } });
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the sealpost authors\n/);
});
