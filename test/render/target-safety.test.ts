import t, { type Test } from 'tap';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ErrorCode } from '../../src/errors.js';
import { preflightTargets, type TargetSpec } from '../../src/render/target-safety.js';
import { git, initGitRepo, refusal } from './render-fixture.js';

const run = promisify(execFile);

/** A git repo whose .gitignore ignores every `secrets/` directory, with one service. */
function infraRepo(t: Test, extra: Record<string, unknown> = {}): string {
  const root = t.testdir({
    '.gitignore': 'secrets/\n',
    chat: { 'compose.yaml': 'services: {}\n', secrets: { 'db.secrets.example': 'A=\n' } },
    ...extra,
  });
  return initGitRepo(root);
}

const refusals: Array<{
  name: string;
  extra?: Record<string, unknown>;
  prepare?: (root: string) => void;
  target: (root: string) => string | TargetSpec;
  code: ErrorCode;
  message: RegExp;
}> = [
  {
    name: 'refuses a target git tracks, even when it is also ignored',
    prepare: (root) => {
      writeFileSync(path.join(root, 'chat/secrets/db.secrets'), 'A=1\n');
      git(root, 'add', '-f', 'chat/secrets/db.secrets');
    },
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_TRACKED',
    message: /git tracks chat\/secrets\/db\.secrets.*git rm --cached -- chat\/secrets\/db\.secrets/,
  },
  {
    name: 'refuses a target no ignore rule matches, naming the .gitignore line to add',
    extra: { config: { 'db.env': 'A=1\n' } },
    target: () => 'config/db.env',
    code: 'COFFRE_TARGET_NOT_IGNORED',
    message: /config\/db\.env is not ignored by git \(no ignore rule matches it\): add this line to .*\.gitignore: \/config\/db\.env$/,
  },
  {
    name: 'refuses a target only .git/info/exclude ignores (not committed, so not every clone is protected)',
    prepare: (root) => appendFileSync(path.join(root, '.git/info/exclude'), 'local.env\n'),
    target: () => 'local.env',
    code: 'COFFRE_TARGET_NOT_IGNORED',
    message: /only \.git\/info\/exclude ignores it.*: \/local\.env$/,
  },
  {
    name: 'refuses a target a negated pattern re-includes',
    extra: { '.gitignore': '*.env\n!keep.env\n' },
    target: () => 'keep.env',
    code: 'COFFRE_TARGET_NOT_IGNORED',
    message: /\.gitignore:2 re-includes it with "!keep\.env"/,
  },
  {
    name: 'refuses a target that is a symlink',
    extra: { chat: { secrets: { 'db.secrets': t.fixture('symlink', '../../elsewhere.txt') } }, 'elsewhere.txt': 'x' },
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /chat\/secrets\/db\.secrets is a symlink/,
  },
  {
    name: 'refuses a target reached through a symlinked directory inside the repo',
    extra: { real: { secrets: {} }, linked: t.fixture('symlink', 'real') },
    target: () => 'linked/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /reached through a symlink \(linked\)/,
  },
  {
    name: 'refuses a target reached through a symlinked directory that leaves the repo',
    extra: { chat: { secrets: t.fixture('symlink', os.tmpdir()) } },
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /reached through a symlink \(chat\/secrets\)/,
  },
  {
    name: 'refuses an absolute targetRel',
    target: () => ({ targetRel: '/etc/coffre.secrets' }),
    code: 'COFFRE_TARGET_UNSAFE',
    message: /is an absolute path/,
  },
  {
    name: 'refuses an absolute target path outside the repo root (string form, as compose discovery gives it)',
    target: () => '/etc/coffre/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /target \/etc\/coffre\/db\.secrets is outside the infra repo root/,
  },
  {
    name: 'refuses an absolute target path that climbs out of the root with ".."',
    target: (root) => `${root}/chat/../../x.secrets`,
    code: 'COFFRE_TARGET_UNSAFE',
    message: /contains "\.\."/,
  },
  {
    name: 'refuses an absolute target path that does not match its name',
    target: () => ({ targetRel: 'chat/secrets/db.secrets', target: '/tmp/chat/secrets/db.secrets' }),
    code: 'COFFRE_TARGET_UNSAFE',
    message: /outside the repo root/,
  },
  {
    name: 'refuses ".." in a target name',
    target: () => 'chat/secrets/../../../x.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /contains "\.\."/,
  },
  {
    name: 'refuses a NUL byte in a target name',
    target: () => 'chat/secrets/db\0.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /contains a NUL byte/,
  },
  {
    name: 'refuses a target inside .git',
    target: () => '.git/hooks/pre-commit',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /inside \.git\//,
  },
  {
    name: 'refuses a target directory writable by other users',
    prepare: (root) => chmodSync(path.join(root, 'chat/secrets'), 0o777),
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /directory chat\/secrets is writable by other users/,
  },
  {
    name: 'refuses a repo root writable by other users',
    prepare: (root) => chmodSync(root, 0o777),
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /is writable by other users/,
  },
  {
    name: 'refuses a mode that lets every user read the secrets',
    target: () => ({ targetRel: 'chat/secrets/db.secrets', mode: 0o644 }),
    code: 'COFFRE_TARGET_UNSAFE',
    message: /mode 0644 of chat\/secrets\/db\.secrets lets every user/,
  },
  {
    name: 'refuses a target that is a directory',
    extra: { chat: { secrets: { 'db.secrets': {} } } },
    target: () => 'chat/secrets/db.secrets',
    code: 'COFFRE_TARGET_UNSAFE',
    message: /exists and is not a regular file/,
  },
];

for (const c of refusals) {
  t.test(c.name, async (t) => {
    const root = infraRepo(t, c.extra);
    c.prepare?.(root);
    const error = await refusal(preflightTargets(root, [c.target(root)]));
    t.equal(error.code, c.code);
    t.match(error.message, c.message);
    t.notOk(existsSync(path.join(root, '.coffre')), 'preflight creates nothing');
  });
}

t.test('accepts an ignored, untracked target and creates nothing', async (t) => {
  const root = infraRepo(t);
  const result = await preflightTargets(root, ['chat/secrets/db.secrets', { targetRel: 'web/secrets/app.secrets', mode: 0o640, group: 4242 }]);
  t.equal(result.git, 'checked');
  t.same(result.targets.map((target) => target.targetRel), ['chat/secrets/db.secrets', 'web/secrets/app.secrets']);
  t.same(result.targets[1]!.missingDirs, [path.join(result.root, 'web'), path.join(result.root, 'web/secrets')]);
  t.notOk(existsSync(path.join(root, 'web')), 'missing directories are only planned');
  t.notOk(existsSync(path.join(root, '.coffre')));
});

t.test('accepts an absolute target path inside the repo root, as compose discovery gives it', async (t) => {
  const root = infraRepo(t);
  const result = await preflightTargets(root, [path.join(root, 'chat/secrets/db.secrets')]);
  t.same(result.targets.map((target) => target.targetRel), ['chat/secrets/db.secrets']);
});

t.test('the suggested .gitignore line, once added, makes the target ignored (repo root is a git subfolder)', async (t) => {
  const top = initGitRepo(t.testdir({ '.gitignore': '*.log\n', infra: { 'odd dir': {} } }));
  const root = path.join(top, 'infra');
  for (const name of ['odd dir/a[1]*.env', 'svc/secrets/db.secrets']) {
    const error = await refusal(preflightTargets(root, [name]));
    t.equal(error.code, 'COFFRE_TARGET_NOT_IGNORED', name);
    t.match(error.message, `${path.join(root, '.gitignore')}: `);
    const line = error.message.slice(error.message.lastIndexOf('.gitignore: ') + '.gitignore: '.length);
    appendFileSync(path.join(root, '.gitignore'), `${line}\n`);
    const result = await preflightTargets(root, [name]);
    t.equal(result.git, 'checked', `${name} is ignored after adding ${line}`);
  }
});

t.test('a repo root ignored by the git toplevel .gitignore is accepted', async (t) => {
  const top = initGitRepo(t.testdir({ '.gitignore': 'infra/**/secrets/\n', infra: { chat: { secrets: {} } } }));
  const result = await preflightTargets(path.join(top, 'infra'), ['chat/secrets/db.secrets']);
  t.equal(result.git, 'checked');
});

t.test('a repo root outside any git work tree is accepted: nothing can track the targets', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffre-render-nogit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const result = await preflightTargets(root, ['chat/secrets/db.secrets']);
  t.equal(result.git, 'not-a-repository');
});

t.test('refuses a relative repo root', async (t) => {
  const error = await refusal(preflightTargets('examples/infra', ['a.env']));
  t.equal(error.code, 'COFFRE_TARGET_UNSAFE');
  t.match(error.message, /must be an absolute path/);
});

t.test('refuses a target named twice', async (t) => {
  const root = infraRepo(t);
  const error = await refusal(preflightTargets(root, ['chat/secrets/db.secrets', 'chat/./secrets//db.secrets']));
  t.equal(error.code, 'COFFRE_TARGET_UNSAFE');
  t.match(error.message, /named twice/);
});

/** Whether an unprivileged user can reach `file` (every folder above it searchable, the file readable). */
function reachableByOthers(file: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) break;
  }
  return (statSync(file).mode & 0o004) !== 0;
}

const childModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'render', 'index.js');
const asRootWithoutNobody = process.geteuid?.() === 0 && !(reachableByOthers(childModule) && reachableByOthers(path.resolve('.')));

t.test('refuses a missing write permission before any secret is read', { skip: asRootWithoutNobody ? 'running as root in a checkout an unprivileged user cannot reach' : false }, async (t) => {
  const root = infraRepo(t);
  if (process.geteuid?.() !== 0) {
    chmodSync(path.join(root, 'chat/secrets'), 0o500);
    t.teardown(() => chmodSync(path.join(root, 'chat/secrets'), 0o700));
    const error = await refusal(preflightTargets(root, ['chat/secrets/db.secrets']));
    t.equal(error.code, 'COFFRE_TARGET_WRITE');
    t.match(error.message, /cannot create files in chat\/secrets/);
    return;
  }
  // Root bypasses file permissions: ask as an unprivileged user (nobody) in a child process instead.
  const script = `const { preflightTargets } = await import(${JSON.stringify(childModule)});
    try { await preflightTargets(${JSON.stringify(root)}, ['chat/secrets/db.secrets']); console.log('ACCEPTED'); }
    catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const answer = JSON.parse(stdout.trim()) as { code: string; message: string };
  t.equal(answer.code, 'COFFRE_TARGET_WRITE');
  t.match(answer.message, /cannot create files in chat\/secrets/);
});
