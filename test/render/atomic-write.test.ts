import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { acquireServiceLock, planTargets, writeTargetsAtomically, type TargetWrite } from '../../src/render/atomic-write.js';
import { acquireRenderLock, lockPathOf } from '../../src/render/render-lock.js';
import { cleanStaleTemps } from '../../src/render/stale-temps.js';
import { git, initGitRepo, listTemps, octal, refusal } from './render-fixture.js';

const OLD = { one: 'A="old one"\n', two: 'B="old two"\n', three: 'C="old three"\n' };
const NEW = { one: 'A="new one"\n', two: 'B="new two"\n', three: 'C="new three"\n' };
const PAST = new Date('2020-01-02T03:04:05Z');

/** A git repo ignoring `secrets/` dirs, with three existing 0600 targets in two directories, mtime in the past. */
function repoWithTargets(t: Test): string {
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/\n', a: { secrets: {} }, b: { secrets: {} } }));
  for (const [rel, content] of [['a/secrets/one.env', OLD.one], ['a/secrets/two.env', OLD.two], ['b/secrets/three.env', OLD.three]] as const) {
    writeFileSync(path.join(root, rel), content, { mode: 0o600 });
    chmodSync(path.join(root, rel), 0o600);
    utimesSync(path.join(root, rel), PAST, PAST);
  }
  return root;
}

function writesOf(contents: { one: string; two: string; three: string }): TargetWrite[] {
  return [
    { targetRel: 'a/secrets/one.env', content: contents.one, mode: 0o600 },
    { targetRel: 'a/secrets/two.env', content: contents.two, mode: 0o600 },
    { targetRel: 'b/secrets/three.env', content: contents.three, mode: 0o600 },
  ];
}

function read(root: string, rel: string): string {
  return readFileSync(path.join(root, rel), 'utf8');
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid;
}

t.test('creates missing targets and directories with owner-only modes (0600 files, 0700 dirs)', async (t) => {
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/\n' }));
  const content = 'DB_PASSWORD="not-a-real-secret"\n';
  const results = await writeTargetsAtomically(root, 'chat', [{ targetRel: 'chat/secrets/db.env', content, mode: 0o600 }]);
  t.same(results, [
    { targetRel: 'chat/secrets/db.env', outcome: 'created', sha256: createHash('sha256').update(content).digest('hex'), permissionsFixed: false },
  ]);
  t.equal(read(root, 'chat/secrets/db.env'), content);
  t.equal(octal(statSync(path.join(root, 'chat/secrets/db.env')).mode), '600');
  t.equal(octal(statSync(path.join(root, 'chat/secrets')).mode), '700');
  t.equal(octal(statSync(path.join(root, 'chat')).mode), '700');
  t.same(listTemps(path.join(root, 'chat/secrets')), []);
});

t.test('defaults to mode 0600 when no mode is given', async (t) => {
  const root = initGitRepo(t.testdir({ '.gitignore': '*.env\n' }));
  await writeTargetsAtomically(root, 'svc', [{ targetRel: 'app.env', content: 'A=1\n' }]);
  t.equal(octal(statSync(path.join(root, 'app.env')).mode), '600');
});

t.test('plans create / update / unchanged in memory without touching anything', async (t) => {
  const root = repoWithTargets(t);
  const plans = await planTargets(root, [
    { targetRel: 'a/secrets/one.env', content: OLD.one },
    { targetRel: 'a/secrets/two.env', content: NEW.two },
    { targetRel: 'c/secrets/four.env', content: 'D=1\n' },
  ]);
  t.same(plans, [
    { targetRel: 'a/secrets/one.env', action: 'unchanged', previous: OLD.one, permissionsDrift: false },
    { targetRel: 'a/secrets/two.env', action: 'update', previous: OLD.two, permissionsDrift: false },
    { targetRel: 'c/secrets/four.env', action: 'create', previous: null, permissionsDrift: false },
  ]);
  t.equal(read(root, 'a/secrets/two.env'), OLD.two);
  t.equal(statSync(path.join(root, 'a/secrets/two.env')).mtimeMs, PAST.getTime());
  t.notOk(existsSync(path.join(root, 'c')), 'no directory created by a plan');
  t.notOk(existsSync(path.join(root, '.coffre')), 'no lock taken by a plan');
});

t.test('rewrites only changed targets: unchanged ones keep their inode and mtime', async (t) => {
  const root = repoWithTargets(t);
  const inodeBefore = statSync(path.join(root, 'a/secrets/one.env')).ino;
  const results = await writeTargetsAtomically(root, 'svc', writesOf({ one: OLD.one, two: NEW.two, three: OLD.three }));
  t.same(results.map((result) => [result.targetRel, result.outcome, result.permissionsFixed]), [
    ['a/secrets/one.env', 'unchanged', false],
    ['a/secrets/two.env', 'updated', false],
    ['b/secrets/three.env', 'unchanged', false],
  ]);
  const one = statSync(path.join(root, 'a/secrets/one.env'));
  t.equal(one.mtimeMs, PAST.getTime(), 'unchanged target keeps its mtime');
  t.equal(one.ino, inodeBefore, 'unchanged target is not replaced');
  t.equal(read(root, 'a/secrets/two.env'), NEW.two);
  t.not(statSync(path.join(root, 'a/secrets/two.env')).mtimeMs, PAST.getTime());
  t.equal(statSync(path.join(root, 'b/secrets/three.env')).mtimeMs, PAST.getTime());

  const again = await writeTargetsAtomically(root, 'svc', writesOf({ one: OLD.one, two: NEW.two, three: OLD.three }));
  t.same(again.map((result) => result.outcome), ['unchanged', 'unchanged', 'unchanged'], 'a second identical render changes nothing');
});

t.test('applies a configured 0640 mode and group to the file, and 0750 + group to directories it creates', {
  skip: process.geteuid?.() === 0 ? false : 'chgrp to an arbitrary gid needs root',
}, async (t) => {
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/\n' }));
  const gid = 4242;
  await writeTargetsAtomically(root, 'web', [{ targetRel: 'web/secrets/app.env', content: 'A=1\n', mode: 0o640, group: gid }]);
  const file = statSync(path.join(root, 'web/secrets/app.env'));
  t.equal(octal(file.mode), '640');
  t.equal(file.gid, gid);
  const dir = statSync(path.join(root, 'web/secrets'));
  t.equal(octal(dir.mode), '750');
  t.equal(dir.gid, gid);
});

t.test('a temp file is never readable by others: final mode and owner set before its first byte', async (t) => {
  const root = initGitRepo(t.testdir({ '.gitignore': 'secrets/\n' }));
  const seen: Array<{ mode: string; size: number; gid: number; name: string }> = [];
  const hooks = {
    tempCreated: (temp: string) => {
      const stats = statSync(temp);
      seen.push({ mode: octal(stats.mode), size: stats.size, gid: stats.gid, name: path.basename(temp) });
    },
  };
  const group = process.geteuid?.() === 0 ? 4242 : null;
  await writeTargetsAtomically(
    root,
    'web',
    [
      { targetRel: 'web/secrets/a.env', content: 'A=1\n' },
      { targetRel: 'web/secrets/b.env', content: 'B=1\n', mode: 0o640, group },
    ],
    { hooks },
  );
  t.equal(seen.length, 2);
  t.match(seen[0], { mode: '600', size: 0, name: /^\.a\.env\.coffre-tmp-\d+-[0-9a-f]{12}$/ });
  t.match(seen[1], { mode: '640', size: 0, name: /^\.b\.env\.coffre-tmp-\d+-[0-9a-f]{12}$/ });
  if (group !== null) t.equal(seen[1]!.gid, group, 'group set before the first byte');
});

t.test('fixes mode drift of an unchanged target with chmod, without rewriting it', async (t) => {
  const root = repoWithTargets(t);
  chmodSync(path.join(root, 'a/secrets/one.env'), 0o644);
  utimesSync(path.join(root, 'a/secrets/one.env'), PAST, PAST);
  const [plan] = await planTargets(root, [{ targetRel: 'a/secrets/one.env', content: OLD.one }]);
  t.match(plan, { action: 'unchanged', permissionsDrift: true });
  const [result] = await writeTargetsAtomically(root, 'svc', [{ targetRel: 'a/secrets/one.env', content: OLD.one }]);
  t.match(result, { outcome: 'unchanged', permissionsFixed: true });
  const stats = statSync(path.join(root, 'a/secrets/one.env'));
  t.equal(octal(stats.mode), '600');
  t.equal(stats.mtimeMs, PAST.getTime(), 'content and mtime untouched');
});

t.test('rolls back: when the 2nd of 3 swaps fails, the 1st target is restored and no temp file remains', async (t) => {
  const root = repoWithTargets(t);
  const oneBefore = statSync(path.join(root, 'a/secrets/one.env'));
  const error = await refusal(
    writeTargetsAtomically(root, 'svc', writesOf(NEW), {
      hooks: {
        beforeSwap: (targetRel, index) => {
          if (index === 1) throw Object.assign(new Error(`simulated failure at ${targetRel}`), { code: 'EIO' });
        },
      },
    }),
  );
  t.equal(error.code, 'COFFRE_TARGET_WRITE');
  t.match(error.message, /writing a\/secrets\/two\.env of service "svc" failed \(EIO\); 1 target\(s\) already replaced were restored/);
  for (const value of [...Object.values(OLD), ...Object.values(NEW)]) t.notMatch(error.message, value.trim(), 'no content in the message');
  t.equal(read(root, 'a/secrets/one.env'), OLD.one, 'first target restored');
  t.equal(read(root, 'a/secrets/two.env'), OLD.two);
  t.equal(read(root, 'b/secrets/three.env'), OLD.three);
  const oneAfter = statSync(path.join(root, 'a/secrets/one.env'));
  t.equal(oneAfter.ino, oneBefore.ino, 'the very same file is back (hard-link backup)');
  t.equal(oneAfter.mtimeMs, PAST.getTime());
  t.equal(octal(oneAfter.mode), '600');
  t.same(listTemps(path.join(root, 'a/secrets'), path.join(root, 'b/secrets')), []);
  t.notOk(existsSync(lockPathOf(path.resolve(root), 'svc')), 'lock released');
});

t.test('rolls back a target it created by removing it', async (t) => {
  const root = repoWithTargets(t);
  const error = await refusal(
    writeTargetsAtomically(root, 'svc', [{ targetRel: 'c/secrets/new.env', content: 'N=1\n' }, ...writesOf(NEW)], {
      hooks: { beforeSwap: (_rel, index) => { if (index === 2) throw new Error('simulated'); } },
    }),
  );
  t.equal(error.code, 'COFFRE_TARGET_WRITE');
  t.match(error.message, /2 target\(s\) already replaced were restored/);
  t.notOk(existsSync(path.join(root, 'c/secrets/new.env')), 'created target removed');
  t.equal(read(root, 'a/secrets/one.env'), OLD.one);
  t.same(listTemps(path.join(root, 'a/secrets'), path.join(root, 'b/secrets'), path.join(root, 'c/secrets')), []);
});

t.test('a failure while preparing temps leaves every target and directory listing as before', async (t) => {
  const root = repoWithTargets(t);
  const error = await refusal(
    writeTargetsAtomically(root, 'svc', writesOf(NEW), {
      hooks: { tempCreated: (_temp, rel) => { if (rel === 'b/secrets/three.env') throw new Error('simulated'); } },
    }),
  );
  t.equal(error.code, 'COFFRE_TARGET_WRITE');
  t.same([read(root, 'a/secrets/one.env'), read(root, 'a/secrets/two.env'), read(root, 'b/secrets/three.env')], Object.values(OLD));
  t.same(listTemps(path.join(root, 'a/secrets'), path.join(root, 'b/secrets')), []);
});

t.test('cleanStaleTemps removes temps of dead writers and keeps those of live ones', async (t) => {
  const root = t.testdir({});
  const dead = `.db.env.coffre-tmp-${deadPid()}-aaaaaaaaaaaa`;
  const live = `.db.env.coffre-tmp-${process.pid}-bbbbbbbbbbbb`;
  for (const name of [dead, live, 'db.env', '.db.env.coffre-tmp-not-ours']) writeFileSync(path.join(root, name), 'x');
  t.equal(await cleanStaleTemps(root, { targetNames: ['other.env'] }), 0, 'other targets\' temps only');
  t.equal(await cleanStaleTemps(root), 1);
  t.same(readdirSync(root).sort(), ['.db.env.coffre-tmp-not-ours', live, 'db.env'].sort());
  t.equal(await cleanStaleTemps(path.join(root, 'missing')), 0);
});

t.test('a write removes the temps a crashed run of the service left beside its targets', async (t) => {
  const root = repoWithTargets(t);
  const leftover = path.join(root, 'a/secrets', `.one.env.coffre-tmp-${deadPid()}-cccccccccccc`);
  writeFileSync(leftover, NEW.one, { mode: 0o600 });
  await writeTargetsAtomically(root, 'svc', writesOf(OLD));
  t.notOk(existsSync(leftover));
});

t.test('the lock directory is invisible to git and the lock is released after a write', async (t) => {
  const root = repoWithTargets(t);
  await writeTargetsAtomically(root, 'svc', writesOf(NEW));
  t.equal(git(root, 'status', '--porcelain', '--untracked-files=all'), '?? .gitignore\n', 'only the fixture .gitignore is untracked');
  t.same(readdirSync(path.join(root, '.coffre/locks')), ['.gitignore']);
});

t.test('waits for the service lock, then fails with COFFRE_LOCKED naming the holder', async (t) => {
  const root = repoWithTargets(t);
  const lock = await acquireRenderLock(path.resolve(root), 'svc');
  const started = Date.now();
  const error = await refusal(writeTargetsAtomically(root, 'svc', writesOf(NEW), { lockTimeoutMs: 300 }));
  t.equal(error.code, 'COFFRE_LOCKED');
  t.match(error.message, new RegExp(`service "svc" holds .*svc\\.lock \\(pid ${process.pid} on `));
  t.ok(Date.now() - started >= 300, 'it waited for the timeout');
  t.equal(read(root, 'a/secrets/one.env'), OLD.one, 'nothing written');
  const other = await writeTargetsAtomically(root, 'other-service', writesOf(NEW));
  t.equal(other.length, 3, 'another service is not blocked');
  await lock.release();
  const results = await writeTargetsAtomically(root, 'svc', writesOf(OLD), { lockTimeoutMs: 300 });
  t.same(results.map((result) => result.outcome), ['updated', 'updated', 'updated']);
});

t.test('writes under a lock the caller already holds, leaves it held, and refuses another service\'s lock', async (t) => {
  const root = repoWithTargets(t);
  const lock = await acquireServiceLock(root, 'svc');
  const results = await writeTargetsAtomically(root, 'svc', writesOf(NEW), { heldLock: lock, lockTimeoutMs: 0 });
  t.same(results.map((result) => result.outcome), ['updated', 'updated', 'updated'], 'no second acquire (the lock is not re-entrant)');
  t.ok(existsSync(lock.path), 'still held: the caller releases it');
  const error = await refusal(writeTargetsAtomically(root, 'other', writesOf(OLD), { heldLock: lock }));
  t.equal(error.code, 'COFFRE_INTERNAL');
  t.equal(read(root, 'a/secrets/one.env'), NEW.one, 'nothing written with the wrong lock');
  await lock.release();
  t.notOk(existsSync(lock.path));
});

t.test('breaks a lock left by a dead process on this host', async (t) => {
  const root = repoWithTargets(t);
  await writeTargetsAtomically(root, 'svc', writesOf(OLD)); // creates the lock directory
  const lockFile = lockPathOf(path.resolve(root), 'svc');
  writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: (await import('node:os')).hostname(), start: null, token: 'dead' }));
  const started = Date.now();
  await writeTargetsAtomically(root, 'svc', writesOf(NEW), { lockTimeoutMs: 2000 });
  t.ok(Date.now() - started < 1500, 'did not wait for the timeout');
  t.equal(read(root, 'a/secrets/one.env'), NEW.one);
  t.notOk(existsSync(lockFile));
});

t.test('a write re-checks safety itself: a tracked target is refused and nothing is written', async (t) => {
  const root = repoWithTargets(t);
  git(root, 'add', '-f', 'a/secrets/two.env');
  const error = await refusal(writeTargetsAtomically(root, 'svc', writesOf(NEW)));
  t.equal(error.code, 'COFFRE_TARGET_TRACKED');
  t.equal(read(root, 'a/secrets/one.env'), OLD.one);
});

t.test('a symlink swapped in at a target after the checks is refused: nothing read, written or chmod-ed through it', async (t) => {
  // Two targets swapped for symlinks while the first target's temp is being prepared (after every check):
  // "two" points at a file holding exactly the content to render (so a read through the link would see
  // "unchanged" and fix the mode of the file behind it), "three" at one holding something else.
  const root = repoWithTargets(t);
  const outside = path.join(root, 'elsewhere');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'same.txt'), NEW.two);
  writeFileSync(path.join(outside, 'other.txt'), 'OUTSIDE=1\n');
  for (const name of ['same.txt', 'other.txt']) chmodSync(path.join(outside, name), 0o644);
  const swapIn = (rel: string, to: string) => {
    unlinkSync(path.join(root, rel));
    symlinkSync(path.join(outside, to), path.join(root, rel));
  };
  for (const [rel, to] of [['a/secrets/two.env', 'same.txt'], ['b/secrets/three.env', 'other.txt']] as const) {
    const error = await refusal(
      writeTargetsAtomically(root, 'svc', writesOf(NEW), {
        hooks: { tempCreated: (_temp, targetRel) => { if (targetRel === 'a/secrets/one.env') swapIn(rel, to); } },
      }),
    );
    t.equal(error.code, 'COFFRE_TARGET_UNSAFE', `${rel} → ${to}`);
    t.match(error.message, `target ${rel} is a symlink`);
    t.equal(readFileSync(path.join(outside, 'same.txt'), 'utf8'), NEW.two, 'the file behind the link is untouched');
    t.equal(readFileSync(path.join(outside, 'other.txt'), 'utf8'), 'OUTSIDE=1\n');
    for (const name of ['same.txt', 'other.txt']) t.equal(octal(statSync(path.join(outside, name)).mode), '644', `${name} keeps its mode`);
    t.ok(lstatSync(path.join(root, rel)).isSymbolicLink(), 'the link itself is left as found');
    t.equal(read(root, 'a/secrets/one.env'), OLD.one, 'the first target is not replaced');
    t.same(listTemps(path.join(root, 'a/secrets'), path.join(root, 'b/secrets')), []);
    // put the regular file back for the next case
    unlinkSync(path.join(root, rel));
    writeFileSync(path.join(root, rel), rel === 'a/secrets/two.env' ? OLD.two : OLD.three, { mode: 0o600 });
  }
});
