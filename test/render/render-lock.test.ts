import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCoffreError } from '../../src/errors.js';
import { acquireRenderLock, acquireSopsWriteLock, lockPathOf, sopsLockPathOf } from '../../src/render/render-lock.js';
import { processStartTime } from '../../src/render/process-liveness.js';
import type { RenderChildJob, RenderChildReport } from './render-child.js';
import { initGitRepo } from './render-fixture.js';

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'render-child.js');

function runChild(job: RenderChildJob): Promise<{ code: number | null; report: RenderChildReport | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string }).find((line) => line.event === 'done');
      resolve({ code, report: (last as RenderChildReport | undefined) ?? null, stderr });
    });
  });
}

async function lockedError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isCoffreError(error) && error.code === 'COFFRE_LOCKED') return error.message;
    throw error;
  }
  throw new Error('expected COFFRE_LOCKED');
}

t.test('two renders of one service in two processes are serialised and never interleave', async (t) => {
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/\n', a: { secrets: {} }, b: { secrets: {} } }));
  const targets = ['a/secrets/one.env', 'a/secrets/two.env', 'b/secrets/three.env'];
  const version = (tag: string): RenderChildJob['writes'] =>
    targets.map((targetRel, index) => ({ targetRel, content: `K${index}="${tag}-${index}-${'x'.repeat(4096)}"\n` }));
  // Both children wait for the same instant; 3 s leaves room for two node start-ups on a loaded machine.
  const startAt = Date.now() + 3_000;
  const common = { root, service: 'svc', startAt, swapDelayMs: 40 };
  const [first, second] = await Promise.all([
    runChild({ ...common, writes: version('alpha') }),
    runChild({ ...common, writes: version('beta') }),
  ]);
  t.equal(first.code, 0, first.stderr);
  t.equal(second.code, 0, second.stderr);
  const [a, b] = [first.report!, second.report!];
  t.ok(a.lastHookAt - a.firstHookAt >= 100 && b.lastHookAt - b.firstHookAt >= 100, 'each held the lock for a while');
  const [earlier, later] = a.firstHookAt <= b.firstHookAt ? [a, b] : [b, a];
  t.ok(later.attemptAt < earlier.lastHookAt, 'the later render tried while the earlier one was writing');
  t.ok(later.firstHookAt >= earlier.lastHookAt, `writes did not overlap: [${earlier.firstHookAt}, ${earlier.lastHookAt}] then [${later.firstHookAt}, ${later.lastHookAt}]`);
  const final = targets.map((rel) => readFileSync(path.join(root, rel), 'utf8'));
  const winner = later === a ? version('alpha') : version('beta');
  t.same(final, winner.map((write) => write.content), 'the final state is the complete version of the later render');
});

t.test('a second acquire in the same process waits (not re-entrant) and names the holder', async (t) => {
  const root = t.testdir({});
  const lock = await acquireRenderLock(root, 'svc');
  const message = await lockedError(acquireRenderLock(root, 'svc', { timeoutMs: 100 }));
  t.match(message, `pid ${process.pid} on ${hostname()}`);
  const other = await acquireRenderLock(root, 'other');
  await other.release();
  await lock.release();
  await lock.release();
  const again = await acquireRenderLock(root, 'svc', { timeoutMs: 0 });
  await again.release();
  t.same(readdirSync(path.join(root, '.coffre/locks')), ['.gitignore'], 'only the self-ignoring .gitignore remains');
  t.match(readFileSync(path.join(root, '.coffre/locks/.gitignore'), 'utf8'), /^\*$/m);
});

const staleness = [
  { name: 'breaks a lock of this process pid with a token it does not hold (a previous incarnation)', holder: () => ({ pid: process.pid, host: hostname(), start: processStartTime(process.pid), token: 'old' }), stale: true },
  { name: 'breaks a lock whose pid now belongs to another process (start time differs)', holder: () => ({ pid: process.ppid, host: hostname(), start: '1', token: 'x' }), stale: true },
  { name: 'waits for a lock of a live process', holder: () => ({ pid: process.ppid, host: hostname(), start: processStartTime(process.ppid), token: 'x' }), stale: false },
  { name: 'waits for a lock taken on another host (a pid means nothing there)', holder: () => ({ pid: 999_999_999, host: `not-${hostname()}`, start: null, token: 'x' }), stale: false },
];
for (const c of staleness) {
  t.test(c.name, async (t) => {
    const root = t.testdir({});
    await (await acquireRenderLock(root, 'svc')).release();
    writeFileSync(lockPathOf(root, 'svc'), JSON.stringify(c.holder()));
    if (c.stale) {
      const lock = await acquireRenderLock(root, 'svc', { timeoutMs: 0 });
      t.match(JSON.parse(readFileSync(lock.path, 'utf8')), { pid: process.pid });
      await lock.release();
    } else {
      t.match(await lockedError(acquireRenderLock(root, 'svc', { timeoutMs: 50 })), `pid ${c.holder().pid}`);
    }
  });
}

t.test('service names map to distinct, file-safe lock names', async (t) => {
  const names = ['chat', 'chat/../x', 'chat_..x', '.hidden'].map((service) => path.basename(lockPathOf('/r', service)));
  t.equal(new Set(names).size, names.length);
  for (const name of names) t.match(name, /^[A-Za-z0-9_][A-Za-z0-9._-]*\.lock$/);
});

t.test('a sops file has its own write lock: one holder at a time, shared through symlinks, named in COFFRE_LOCKED', async (t) => {
  const root = t.testdir({ svc: { 'app.sops.yaml': 'x: 1\n', 'other.sops.yaml': 'y: 1\n' } });
  symlinkSync(path.join(root, 'svc', 'app.sops.yaml'), path.join(root, 'link.sops.yaml'));
  const lock = await acquireSopsWriteLock(root, path.join(root, 'svc', 'app.sops.yaml'));
  t.match(path.basename(lock.path), /^sops~svc_app\.sops\.yaml-[0-9a-f]{16}\.lock$/);
  t.not(path.basename(lock.path), path.basename(lockPathOf(root, 'svc')), 'never the lock of a service');
  const message = await lockedError(acquireSopsWriteLock(root, path.join(root, 'link.sops.yaml'), { timeoutMs: 100 }));
  t.match(message, 'another write of sops file svc/app.sops.yaml holds');
  t.match(message, `pid ${process.pid} on ${hostname()}`);
  const other = await acquireSopsWriteLock(root, path.join(root, 'svc', 'other.sops.yaml'), { timeoutMs: 0 });
  await other.release();
  const service = await acquireRenderLock(root, 'svc', { timeoutMs: 0 });
  await service.release();
  await lock.release();
  const again = await acquireSopsWriteLock(root, path.join(root, 'link.sops.yaml'), { timeoutMs: 0 });
  await again.release();
  t.same(readdirSync(path.join(root, '.coffre/locks')), ['.gitignore'], 'no lock file left');
});

t.test('a sops write lock left by a dead process is broken', async (t) => {
  const root = t.testdir({ 'app.sops.yaml': 'x: 1\n' });
  const file = path.join(root, 'app.sops.yaml');
  await (await acquireSopsWriteLock(root, file)).release();
  const lockPath = sopsLockPathOf(root, file);
  writeFileSync(lockPath, JSON.stringify({ pid: process.ppid, host: hostname(), start: '1', token: 'x' }));
  const lock = await acquireSopsWriteLock(root, file, { timeoutMs: 0 });
  t.equal(lock.path, lockPath);
  t.match(JSON.parse(readFileSync(lock.path, 'utf8')), { pid: process.pid });
  await lock.release();
});

t.test('taking locks creates no file per lock: each is a hard link to one claim of the process, removed with the last lock', async (t) => {
  const root = initGitRepo(t.testdir({}));
  const lockDir = path.join(root, '.coffre', 'locks');
  const locks = await Promise.all(Array.from({ length: 40 }, (_, i) => acquireRenderLock(root, `svc${i}`)));
  const entries = readdirSync(lockDir).sort();
  const claims = entries.filter((entry) => entry.startsWith('~claim.'));
  t.equal(claims.length, 1, `one claim for 40 locks (${entries.length} entries)`);
  const claim = statSync(path.join(lockDir, claims[0]!));
  t.equal(claim.nlink, 41, 'the claim and 40 links to it');
  for (const lock of locks) {
    const stats = statSync(lock.path);
    t.equal(stats.ino, claim.ino, `${path.basename(lock.path)} is the claim's inode`);
    const content = JSON.parse(readFileSync(lock.path, 'utf8')) as { pid: number; host: string };
    t.same({ pid: content.pid, host: content.host }, { pid: process.pid, host: hostname() }, 'and names this process');
  }
  // A second acquire of a held lock still waits and fails, whatever links it shares.
  t.match(await lockedError(acquireRenderLock(root, 'svc3', { timeoutMs: 50 })), /svc3\.lock \(pid \d+ on /);
  await Promise.all(locks.slice(0, 39).map((lock) => lock.release()));
  t.same(readdirSync(lockDir).sort(), ['.gitignore', 'svc39.lock', claims[0]!].sort(), 'the claim stays while a lock holds it');
  await locks[39]!.release();
  t.same(readdirSync(lockDir), ['.gitignore'], 'the last release removes the claim');
});
