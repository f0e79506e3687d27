// One infra checkout shared by several admins of one group, for real: a test group, two admins and an outsider
// are created (useradd/groupadd, as root), and the built CLI runs as each of them through setpriv on a sops
// service made by the real sops binary. The checkout is set up as the README says: group-writable setgid
// folders (no setfacl on this machine), core.sharedRepository=group, each admin's git trusting it.
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

let bin = path.join(projectRoot, 'bin', 'coffre.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

type TestLike = Pick<typeof t, 'equal'>;

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function requireTool(name: string): string {
  try {
    return sh('sh', ['-c', `command -v ${name}`]).trim();
  } catch {
    throw new Error(`this test needs \`${name}\` (util-linux/passwd) to act as distinct users; it is not installed`);
  }
}

/** Every directory from / down to `target` must let other users traverse it, and `target` itself be readable. */
function assertReachableByOthers(target: string): void {
  let dir = path.dirname(target);
  const dirs: string[] = [];
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) dirs.push(dir);
  dirs.push('/');
  for (const each of dirs) {
    if ((statSync(each).mode & 0o001) === 0) {
      throw new Error(`${each} is not traversable by other users (mode 0${(statSync(each).mode & 0o7777).toString(8)}): the test users cannot run ${target}; chmod o+x ${each}`);
    }
  }
  if ((statSync(target).mode & 0o004) === 0) throw new Error(`${target} is not readable by other users: chmod o+r ${target}`);
}

const suffix = Math.random().toString(36).slice(2, 8);
const groupName = `cofsh${suffix}`;
const otherGroupName = `cofot${suffix}`;
const names = { a: `cofa${suffix}`, b: `cofb${suffix}`, outsider: `cofx${suffix}` };

t.test('admins of one group share a checkout: render, rotate, render again, as distinct real users', async (t) => {
  if (process.geteuid?.() !== 0) throw new Error('this test creates users and groups: it must run as root (as CI does)');
  requireTool('setpriv');
  requireTool('useradd');
  requireTool('groupadd');
  const runtimeFiles = (root: string) => [path.join(root, 'bin', 'coffre.js'), path.join(root, 'dist', 'src', 'cli', 'main.js'), path.join(root, 'node_modules', 'yaml', 'package.json')];
  try {
    for (const file of runtimeFiles(projectRoot)) assertReachableByOthers(file);
  } catch {
    // A checkout in a private folder (a CI clone in a 0700 temp dir): run a copy of the built CLI that the
    // test users can reach instead.
    const copy = await mkdtemp(path.join(tmpdir(), 'coffre-runtime-'));
    t.teardown(() => rm(copy, { recursive: true, force: true }));
    await chmod(copy, 0o755);
    await mkdir(path.join(copy, 'dist'), { mode: 0o755 });
    for (const part of ['bin', 'dist/src', 'node_modules', 'package.json']) {
      try {
        // Hard links where the temp dir shares the file system (fast: node_modules is large).
        execFileSync('cp', ['-al', path.join(projectRoot, part), path.join(copy, part)], { stdio: 'ignore' });
      } catch {
        await rm(path.join(copy, part), { recursive: true, force: true });
        await cp(path.join(projectRoot, part), path.join(copy, part), { recursive: true, verbatimSymlinks: true });
      }
    }
    bin = path.join(copy, 'bin', 'coffre.js');
    for (const file of runtimeFiles(copy)) assertReachableByOthers(file);
  }

  const base = await mkdtemp(path.join(tmpdir(), 'coffre-shared-'));
  await chmod(base, 0o755);
  t.teardown(async () => {
    for (const name of Object.values(names)) {
      try {
        sh('userdel', [name]);
      } catch {
        // not created
      }
    }
    for (const group of [groupName, otherGroupName]) {
      try {
        sh('groupdel', [group]);
      } catch {
        // not created
      }
    }
    await rm(base, { recursive: true, force: true });
  });
  sh('groupadd', [groupName]);
  sh('groupadd', [otherGroupName]);
  const accounts: Record<keyof typeof names, Account> = {} as never;
  for (const [key, name] of Object.entries(names) as [keyof typeof names, string][]) {
    const home = path.join(base, `home-${key}`);
    const groups = key === 'outsider' ? [] : ['-G', `${groupName},${otherGroupName}`];
    sh('useradd', ['-M', '-d', home, '-s', '/usr/sbin/nologin', '-U', ...groups, name]);
    const uid = Number(sh('id', ['-u', name]).trim());
    const gid = Number(sh('id', ['-g', name]).trim());
    accounts[key] = { name, uid, gid, home };
  }
  const group = Number(sh('getent', ['group', groupName]).split(':')[2]);
  const otherGroup = Number(sh('getent', ['group', otherGroupName]).split(':')[2]);
  const { a, b, outsider } = accounts;

  // The checkout, cloned by admin A and shared with the group.
  const checkout = path.join(base, 'infra');
  const secretsDir = path.join(checkout, 'app', 'secrets');
  await mkdir(secretsDir, { recursive: true });
  await writeFile(path.join(checkout, '.gitignore'), '*.secrets\n');
  await writeFile(path.join(checkout, 'coffre.yaml'), `version: 1\nrender:\n  mode: "0640"\n  group: ${groupName}\n`);
  await writeFile(path.join(checkout, 'app', 'docker-compose.yml'), 'services:\n  web:\n    image: nginx\n    env_file: ./secrets/db.secrets\n');
  await writeFile(path.join(secretsDir, 'db.secrets.example'), 'DB_USER=app\nDB_PASSWORD=changeme\n');
  const key = await newAgeKey();
  await writeSopsFile(path.join(secretsDir, 'db.secrets.sops.yaml'), 'DB_USER: app\nDB_PASSWORD: first-Value-1\n', key);
  const keyFile = path.join(base, 'age-key.txt');
  await writeFile(keyFile, `${key.identity}\n`, { mode: 0o640 });
  await chown(keyFile, 0, group);
  await chmod(keyFile, 0o640);
  const git = (...args: string[]) => sh('git', ['-C', checkout, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
  git('init', '-q', '--shared=group');
  git('config', 'core.sharedRepository', 'group');
  git('add', '.');
  git('commit', '-q', '-m', 'infra');
  sh('chown', ['-R', `${a.uid}:${group}`, checkout]);
  sh('find', [checkout, '-type', 'd', '-exec', 'chmod', '2775', '{}', '+']);
  sh('find', [checkout, '-type', 'f', '-exec', 'chmod', 'g+rw,o-w', '{}', '+']);
  // Each admin's (and root's) git trusts the checkout; nobody else's does.
  const rootHome = path.join(base, 'home-root');
  for (const { home, uid, gid } of [...Object.values(accounts), { home: rootHome, uid: 0, gid: 0 }]) {
    await mkdir(home, { mode: 0o700 });
    await writeFile(path.join(home, '.gitconfig'), uid === outsider.uid ? '' : `[safe]\n\tdirectory = ${checkout}\n`);
    await chown(home, uid, gid);
    await chown(path.join(home, '.gitconfig'), uid, gid);
  }

  const run = (who: Account | 'root', args: string[], stdin = ''): Promise<Run> =>
    new Promise((resolve, reject) => {
      const coffre = [process.execPath, bin, '-C', checkout, ...args];
      const as = who === 'root' ? [] : ['setpriv', `--reuid=${who.uid}`, `--regid=${who.gid}`, '--init-groups', '--'];
      const home = who === 'root' ? rootHome : who.home;
      // `env -i`: the user's own environment only (tap's process tracking, added to every child, is left out).
      const environment = [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, `HOME=${home}`, `SOPS_AGE_KEY_FILE=${keyFile}`, 'GIT_CONFIG_NOSYSTEM=1'];
      const child = spawn('env', ['-i', ...environment, ...as, ...coffre], { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(stdin);
    });
  const show = (result: Run) => `exit ${result.code}\n${result.stdout}\n${result.stderr}`;
  const target = path.join(secretsDir, 'db.secrets');
  const expectRendered = async (t: TestLike, who: string, uid: number, password: string) => {
    const stats = await stat(target);
    t.equal(stats.mode & 0o7777, 0o640, `${who}: the target is 0640`);
    t.equal(stats.gid, group, `${who}: the target belongs to the render group`);
    t.equal(stats.uid, uid, `${who}: the target is owned by its last writer`);
    t.equal(await readFile(target, 'utf8'), `DB_USER="app"\nDB_PASSWORD="${password}"\n`, `${who}: the target holds the current value`);
  };
  const rotate = (who: Account | 'root', value: string) => run(who, ['rotate', 'app', 'db', 'DB_PASSWORD', '--value-stdin'], `${value}\n`);

  t.equal((await stat(path.join(checkout, '.git'))).uid, a.uid, "the repository is A's: git refuses it to B and root unless their safe.directory trusts it");
  const first = await run(a, ['render', 'app']);
  t.equal(first.code, 0, `admin A renders: ${show(first)}`);
  await expectRendered(t, 'A renders', a.uid, 'first-Value-1');
  for (const dir of [path.join(checkout, '.coffre'), path.join(checkout, '.coffre', 'locks')]) {
    const stats = await lstat(dir);
    t.equal(stats.mode & 0o7777, 0o2770, `${path.relative(checkout, dir)} is setgid and group-writable, nothing for others`);
    t.equal(stats.gid, group, `${path.relative(checkout, dir)} belongs to the checkout's group`);
  }

  const second = await run(b, ['render', 'app']);
  t.equal(second.code, 0, `admin B renders the same checkout: ${show(second)}`);
  t.match(second.stdout, /unchanged/);

  const rotated = await rotate(a, 'second-Value-2');
  t.equal(rotated.code, 0, `admin A rotates the sops value: ${show(rotated)}`);
  const sopsStats = await stat(path.join(secretsDir, 'db.secrets.sops.yaml'));
  t.equal(sopsStats.gid, group, 'the rewritten sops file keeps the group');
  t.equal(sopsStats.mode & 0o060, 0o060, 'and its group read/write mode');
  const third = await run(b, ['render', 'app']);
  t.equal(third.code, 0, `admin B renders A's new value over A's target: ${show(third)}`);
  await expectRendered(t, 'B renders', b.uid, 'second-Value-2');

  t.equal((await rotate(a, 'third-Value-3')).code, 0, 'A rotates again');
  const byRoot = await run('root', ['render', 'app']);
  t.equal(byRoot.code, 0, `root renders: ${show(byRoot)}`);
  await expectRendered(t, 'root renders', 0, 'third-Value-3');

  const rotatedByB = await rotate(b, 'fourth-Value-4');
  t.equal(rotatedByB.code, 0, `B rotates the file A rewrote: ${show(rotatedByB)}`);
  const again = await run(a, ['render', 'app']);
  t.equal(again.code, 0, `A renders again, over root's target: ${show(again)}`);
  await expectRendered(t, 'A renders again', a.uid, 'fourth-Value-4');

  // A's unchanged target with a drifted mode: B may not chmod A's file, so the same bytes replace it.
  await chmod(target, 0o660);
  const drift = await run(b, ['render', 'app']);
  t.equal(drift.code, 0, `B fixes the drifted mode of A's unchanged target: ${show(drift)}`);
  await expectRendered(t, "B fixes A's drifted mode", b.uid, 'fourth-Value-4');

  // In a folder without setgid, a sops file rewritten by root keeps its group (else the admins lose it).
  await chmod(secretsDir, 0o775);
  t.equal((await stat(secretsDir)).mode & 0o2000, 0, 'the folder has no setgid bit');
  const rotatedByRoot = await rotate('root', 'fifth-Value-5');
  await chmod(secretsDir, 0o2775);
  t.equal(rotatedByRoot.code, 0, `root rotates: ${show(rotatedByRoot)}`);
  t.equal((await stat(path.join(secretsDir, 'db.secrets.sops.yaml'))).gid, group, "root's rewrite of the sops file keeps the group");

  // Nothing coffre made is writable by others; the lock files left are readable by the group.
  const walk = async (dir: string): Promise<string[]> => {
    const found: string[] = [dir];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      found.push(...(entry.isDirectory() ? await walk(full) : [full]));
    }
    return found;
  };
  for (const file of await walk(path.join(checkout, '.coffre'))) {
    t.equal((await lstat(file)).mode & 0o002, 0, `${path.relative(checkout, file)} is not writable by others`);
  }

  const peek = await new Promise<number>((resolve) => {
    const child = spawn('setpriv', [`--reuid=${outsider.uid}`, `--regid=${outsider.gid}`, '--init-groups', '--', 'cat', target], { stdio: 'ignore' });
    child.on('close', (code) => resolve(code ?? 1));
  });
  t.not(peek, 0, 'a user outside the group cannot read the rendered secrets');

  t.test('what coffre still refuses, it refuses saying why and what to change', async (t) => {
    const intoTarget = async (owner: number) => {
      await writeFile(target, 'DB_USER="app"\nDB_PASSWORD="planted"\n');
      await chown(target, owner, group);
      await chmod(target, 0o640);
    };

    await intoTarget(outsider.uid);
    const foreign = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(foreign.code, 4, `a target owned by a user outside the render group is refused: ${show(foreign)}`);
    const foreignError = JSON.parse(foreign.stdout).services[0].error;
    t.equal(foreignError.code, 'COFFRE_TARGET_WRITE');
    t.match(foreignError.message, new RegExp(`owned by uid ${outsider.uid} \\(${outsider.name}\\), who is not in the render group gid ${group} \\(${groupName}\\)`));
    t.match(foreignError.message, /remove the file/);

    await intoTarget(a.uid);
    await chown(secretsDir, a.uid, otherGroup);
    const otherGroupDir = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(otherGroupDir.code, 4, `a folder writable by a group that is not the render group is refused: ${show(otherGroupDir)}`);
    const otherGroupError = JSON.parse(otherGroupDir.stdout).services[0].error;
    t.equal(otherGroupError.code, 'COFFRE_TARGET_UNSAFE');
    t.match(otherGroupError.message, new RegExp(`app/secrets is writable by group gid ${otherGroup} \\(${otherGroupName}\\), which is not the render group`));
    t.match(otherGroupError.message, new RegExp(`chgrp ${groupName} .*chmod g-w`));
    await chown(secretsDir, a.uid, group);
    await chmod(secretsDir, 0o2775);

    await chown(secretsDir, outsider.uid, group);
    const foreignDir = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(foreignDir.code, 4, `a folder owned by a user outside the render group is refused: ${show(foreignDir)}`);
    const foreignDirError = JSON.parse(foreignDir.stdout).services[0].error;
    t.equal(foreignDirError.code, 'COFFRE_TARGET_UNSAFE');
    t.match(foreignDirError.message, new RegExp(`directory app/secrets is owned by uid ${outsider.uid} \\(${outsider.name}\\), who is not in the render group`));
    await chown(secretsDir, a.uid, group);

    await chmod(secretsDir, 0o2777);
    const worldDir = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(worldDir.code, 4, `a folder writable by others is refused: ${show(worldDir)}`);
    t.match(JSON.parse(worldDir.stdout).services[0].error.message, /writable by other users.*chmod o-w/);
    await chmod(secretsDir, 0o2775);

    const fixed = await run(b, ['render', 'app']);
    t.equal(fixed.code, 0, `with the folder fixed, B replaces A's planted target: ${show(fixed)}`);
    await expectRendered(t, 'B after the fixes', b.uid, 'fifth-Value-5');

    // A lock directory left private (0700) by an older coffre: named, with the fix, not an internal error.
    const locks = path.join(checkout, '.coffre', 'locks');
    await chmod(locks, 0o700);
    await chown(locks, a.uid, a.gid);
    const privateLocks = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(privateLocks.code, 4, `a private lock directory of another admin is refused: ${show(privateLocks)}`);
    const lockError = JSON.parse(privateLocks.stdout).services[0].error;
    t.equal(lockError.code, 'COFFRE_TARGET_WRITE');
    t.match(lockError.message, /cannot create render locks in .*locks \(EACCES\): it is owned by uid \d+ \(cofa\w+\).*mode 0700.*chmod 2770/);
    const privateSops = await rotate(b, 'sixth-Value-6');
    t.equal(privateSops.code, 4, `a sops write (lock taken without a render preflight) says the same: ${show(privateSops)}`);
    t.match(privateSops.stderr, /COFFRE_TARGET_WRITE.*cannot create render locks/s);
    t.notMatch(privateSops.stderr, /COFFRE_INTERNAL/);
    await chown(locks, a.uid, group);
    await chmod(locks, 0o2770);
    const coffreDir = path.join(checkout, '.coffre');
    await chmod(coffreDir, 0o700);
    const privateParent = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(privateParent.code, 4, `a private .coffre of another admin is refused: ${show(privateParent)}`);
    t.match(JSON.parse(privateParent.stdout).services[0].error.message, /cannot create render locks in .*\.coffre \(EACCES\).*mode 0700.*chmod 2770/);
    const privateParentSops = await rotate(b, 'sixth-Value-6');
    t.match(privateParentSops.stderr, /COFFRE_TARGET_WRITE.*cannot create render locks/s, `and so is B's rotation: ${show(privateParentSops)}`);
    await chmod(coffreDir, 0o2770);

    // A sops file (or its folder) the admin may not read (write): named, not an internal error.
    const sopsFile = path.join(secretsDir, 'db.secrets.sops.yaml');
    await chmod(sopsFile, 0o600);
    const unreadable = await run(b, ['render', 'app', '--format', 'json']);
    t.equal(unreadable.code, 3, `a sops file B may not read is refused: ${show(unreadable)}`);
    const unreadableError = JSON.parse(unreadable.stdout).services[0].error;
    t.equal(unreadableError.code, 'COFFRE_SOURCE_DENIED');
    t.match(unreadableError.message, /may not read this sops file \(EACCES\).*chmod g\+r/);
    await chmod(sopsFile, 0o660);
    await chmod(secretsDir, 0o2755);
    const unwritable = await rotate(b, 'sixth-Value-6');
    t.equal(unwritable.code, 3, `a rotation where B may not write the folder is refused: ${show(unwritable)}`);
    t.match(unwritable.stderr, /COFFRE_SOURCE_DENIED.*may not write a new version of this sops file beside it \(EACCES\).*chmod g\+ws/s);
    await chmod(secretsDir, 0o2775);

    const byOutsider = await run(outsider, ['render', 'app', '--format', 'json']);
    t.not(byOutsider.code, 0, 'a user outside the group cannot render');
    t.notMatch(show(byOutsider), /COFFRE_INTERNAL|-Value-/, `and is told why, not with an internal error: ${show(byOutsider)}`);
  });
});
