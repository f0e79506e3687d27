// Every git run of coffre (git-command.ts) ignores config that can run a program: a committed `.gitconfig`,
// the repo's own .git/config (fsmonitor, hooks, pager, gpg, diff and filter drivers), a hostile HOME or
// XDG_CONFIG_HOME, GIT_* variables of the caller, and a partial clone's remote. Each vector is first shown
// to fire with plain git (so the test can fail), then `versions` (CLI and HTTP), `render` and the git
// exposure check run on the same repos and no canary may fire. Also: the dubious-ownership refusal.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { createTokenRegistry, tokenDigest } from '../../src/http/token-registry.js';
import { checkGitExposure } from '../../src/render/git-exposure.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { refusal } from './render-fixture.js';

const execFileAsync = promisify(execFile);
const key = await newAgeKey();
const SOPS_FILE = 'svc/secrets/app.secrets.sops.yaml';
const SUBJECTS = ['rotate app (signed)', 'add app secrets'];

/** Runs plain git (no coffre hardening) with exactly `env` (plus PATH); never throws. */
async function plainGit(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('git', ['-C', dir, ...args], { env: { PATH: process.env.PATH, HOME: '/nonexistent', LC_ALL: 'C', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const testdirs = new WeakSet<Test>();

/** A fresh folder below the test's own directory (t.testdir gives one per test, removed after it). */
function freshDir(t: Test, name: string): string {
  if (!testdirs.has(t)) {
    t.testdir({});
    testdirs.add(t);
  }
  const dir = path.join(t.testdirName, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes a literal tree of files (strings) and folders (objects) into `dir`. */
function writeTree(dir: string, tree: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(tree)) {
    if (typeof content === 'string') writeFileSync(path.join(dir, name), content);
    else writeTree(path.join(dir, name), content as Record<string, unknown>);
  }
}

/** Canary programs: `script(name)` writes one that records `fired-<name>` in the canary folder when run. */
function canaries(t: Test) {
  const dir = freshDir(t, 'canaries');
  return {
    script(name: string): string {
      const file = path.join(dir, `canary-${name}`);
      writeFileSync(file, `#!/bin/sh\necho "$@" >> '${path.join(dir, `fired-${name}`)}'\nexit 1\n`, { mode: 0o755 });
      return file;
    },
    fired: (): string[] => readdirSync(dir).filter((entry) => entry.startsWith('fired-')).map((entry) => entry.slice('fired-'.length)).sort(),
    clear: () => {
      for (const entry of readdirSync(dir)) if (entry.startsWith('fired-')) rmSync(path.join(dir, entry));
    },
  };
}
type Canaries = ReturnType<typeof canaries>;

const HOOKS = ['pre-commit', 'post-commit', 'post-checkout', 'post-index-change', 'reference-transaction', 'pre-auto-gc', 'post-merge', 'fsmonitor-watchman'];

/**
 * An infra repo: service `svc` with a sops file committed twice, the second time in a commit carrying a
 * (fake) PGP signature, so that log.showSignature has something to verify. `committedGitconfig` commits a
 * hostile `.gitconfig` (the issue's vector: git's global config when HOME is the repo root); `localConfig`
 * then makes .git/config and .gitattributes hostile (after the commits, so that setup runs none of it).
 */
async function infraRepo(t: Test, name: string, canary: Canaries, options: { committedGitconfig?: boolean; localConfig?: boolean }): Promise<string> {
  const root = freshDir(t, name);
  writeTree(root, {
    'coffre.yaml': 'version: 1\n',
    '.gitignore': 'svc/secrets/*.secrets\n',
    '.gitattributes': '*.yaml filter=pwn diff=pwn\n',
    svc: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n', secrets: { 'app.secrets.example': 'APP_USER=\n' } },
    ...(options.committedGitconfig
      ? { '.gitconfig': `[log]\n\tshowSignature = true\n[gpg]\n\tprogram = ${canary.script('committed-gpg')}\n[core]\n\tfsmonitor = ${canary.script('committed-fsmonitor')}\n` }
      : {}),
  });
  const id = ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false'];
  const must = async (args: string[]): Promise<string> => {
    const result = await plainGit(root, args);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };
  await must(['init', '-q']);
  await writeSopsFile(path.join(root, SOPS_FILE), 'APP_USER: first\n', key);
  await must(['add', '-A']);
  await must([...id, 'commit', '-q', '-m', SUBJECTS[1]!]);
  await writeSopsFile(path.join(root, SOPS_FILE), 'APP_USER: second\n', key);
  await must(['add', SOPS_FILE]);
  const tree = await must(['write-tree']);
  const parent = await must(['rev-parse', 'HEAD']);
  const commit =
    `tree ${tree}\nparent ${parent}\nauthor Test <test@example.invalid> 1700000000 +0000\ncommitter Test <test@example.invalid> 1700000000 +0000\n` +
    `gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEfakefakefake\n -----END PGP SIGNATURE-----\n\n${SUBJECTS[0]}\n`;
  const objectFile = path.join(root, '.git', 'signed-commit.txt');
  writeFileSync(objectFile, commit);
  const signed = await must(['hash-object', '-t', 'commit', '-w', objectFile]);
  rmSync(objectFile);
  await must(['update-ref', 'HEAD', signed]);
  if (options.localConfig) {
    const hooks = path.join(root, '.git', 'evil-hooks');
    mkdirSync(hooks);
    for (const hook of HOOKS) writeFileSync(path.join(hooks, hook), `#!/bin/sh\nexec '${canary.script(`hook-${hook}`)}' "$@"\n`, { mode: 0o755 });
    const local = [
      '[core]',
      `\tfsmonitor = ${canary.script('local-fsmonitor')}`,
      `\thooksPath = ${hooks}`,
      `\tpager = ${canary.script('local-pager')}`,
      '[log]',
      '\tshowSignature = true',
      '[gpg]',
      `\tprogram = ${canary.script('local-gpg')}`,
      '[diff]',
      `\texternal = ${canary.script('local-diff-external')}`,
      '[diff "pwn"]',
      `\ttextconv = ${canary.script('local-textconv')}`,
      '[filter "pwn"]',
      `\tclean = ${canary.script('local-filter-clean')}`,
      `\tsmudge = ${canary.script('local-filter-smudge')}`,
    ];
    writeFileSync(path.join(root, '.git', 'config'), `${local.join('\n')}\n`, { flag: 'a' });
  }
  return root;
}

/** `coffre <argv>` in-process from `cwd`, with the age identity. */
async function coffre(cwd: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s) },
    env: { SOPS_AGE_KEY: key.identity },
    cwd,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** Sets process variables for the duration of `body` (the hostile caller environment), then restores them. */
async function withProcessEnv(vars: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Everything coffre asks git on `root`: versions (CLI, HTTP with a check token), render, the exposure check. */
async function exerciseCoffre(t: Test, root: string, expectedSubjects: string[] | null): Promise<void> {
  const cli = await coffre(root, ['versions', 'svc', 'app', '--format', 'json']);
  t.equal(cli.code, 0, cli.stderr);
  const report = JSON.parse(cli.stdout);
  if (expectedSubjects === null) t.equal(report.git, null, 'no history without the missing objects');
  else t.same(report.git.map((entry: { subject: string }) => entry.subject), expectedSubjects, 'CLI versions lists the history');
  if (expectedSubjects !== null) t.match(report.git[0], { commit: /^[0-9a-f]{40}$/, date: '2023-11-14T22:13:20+00:00' });

  const token = 'coffre_test_check_token_for_git_command';
  const app = buildApp({
    openWorkspace: () => openWorkspace({ root, env: { SOPS_AGE_KEY: key.identity } }),
    logger: createLogger({ level: 'silent', destination: { write: () => undefined } }),
    tokens: createTokenRegistry([{ id: 'ci', sha256: tokenDigest(token), role: 'check', services: ['**'] }]),
  });
  t.teardown(() => app.close());
  const answer = await app.inject({ method: 'GET', url: '/v1/services/svc/secrets/app/versions', headers: { authorization: `Bearer ${token}` } });
  t.equal(answer.statusCode, 200, 'HTTP GET …/versions with a check token');
  if (expectedSubjects !== null) t.same(answer.json().git.map((entry: { subject: string }) => entry.subject), expectedSubjects, 'HTTP versions lists the history');

  t.equal(await checkGitExposure(root, ['svc/secrets/app.secrets']), 'checked', 'an ignored, untracked target passes');
  t.match(await refusal(checkGitExposure(root, ['svc/secrets/app.secrets.example'])), { code: 'COFFRE_TARGET_TRACKED' });
  t.match(await refusal(checkGitExposure(root, ['svc/other.env'])), { code: 'COFFRE_TARGET_NOT_IGNORED' });
  const render = await coffre(root, ['render', 'svc']);
  t.equal(render.code, 0, render.stderr);
  t.ok(existsSync(path.join(root, 'svc/secrets/app.secrets')), 'render wrote the target');
  if (expectedSubjects !== null) {
    // render --as-of reads the commit through rev-parse, ls-tree, cat-file and log (tree, blobs, history).
    for (const extra of [[], ['--values-as-of']]) {
      const asOf = await coffre(root, ['render', 'svc', '--as-of', report.git[0].commit, '--dry-run', ...extra]);
      t.equal(asOf.code, 0, `render --as-of ${extra.join(' ')}: ${asOf.stdout}${asOf.stderr}`);
    }
  }
}

t.test('a committed .gitconfig, a hostile HOME, XDG_CONFIG_HOME, GIT_CONFIG_PARAMETERS or GIT_DIR run nothing', async (t) => {
  const canary = canaries(t);
  const repo = await infraRepo(t, 'repo', canary, { committedGitconfig: true });
  const other = await infraRepo(t, 'other', canary, { localConfig: true });
  const home = freshDir(t, 'home');
  writeTree(home, { '.gitconfig': `[core]\n\tfsmonitor = ${canary.script('home-fsmonitor')}\n[log]\n\tshowSignature = true\n[gpg]\n\tprogram = ${canary.script('home-gpg')}\n` });
  const xdg = freshDir(t, 'xdg');
  writeTree(xdg, { git: { config: `[core]\n\tfsmonitor = ${canary.script('xdg-fsmonitor')}\n[log]\n\tshowSignature = true\n[gpg]\n\tprogram = ${canary.script('xdg-gpg')}\n` } });
  const parameters = `'core.fsmonitor'='${canary.script('env-fsmonitor')}'`;

  const proofs: Array<[string, string[], NodeJS.ProcessEnv]> = [
    ['committed-gpg', ['log', '-n1', '--format=%s'], { HOME: repo }], // what versions did: HOME = repo root
    ['committed-fsmonitor', ['ls-files'], { HOME: repo }],
    ['home-fsmonitor', ['ls-files'], { HOME: home }],
    ['home-gpg', ['log', '-n1', '--format=%s'], { HOME: home }],
    ['xdg-fsmonitor', ['ls-files'], { XDG_CONFIG_HOME: xdg }],
    ['xdg-gpg', ['log', '-n1', '--format=%s'], { XDG_CONFIG_HOME: xdg }],
    ['env-fsmonitor', ['ls-files'], { GIT_CONFIG_PARAMETERS: parameters }],
    ['local-fsmonitor', ['ls-files'], { GIT_DIR: path.join(other, '.git') }], // another repo's config
  ];
  for (const [name, args, env] of proofs) {
    await plainGit(repo, args, env);
    t.same(canary.fired(), [name], `plain git runs ${name}`);
    canary.clear();
  }

  await withProcessEnv(
    { HOME: home, XDG_CONFIG_HOME: xdg, GIT_CONFIG_PARAMETERS: parameters, GIT_DIR: path.join(other, '.git'), GIT_WORK_TREE: other, GIT_PAGER: canary.script('env-pager') },
    () => exerciseCoffre(t, repo, SUBJECTS),
  );
  t.same(canary.fired(), [], 'coffre ran no canary');
});

t.test("the repo's own .git/config and .gitattributes run nothing (fsmonitor, hooks, pager, gpg, diff, filters)", async (t) => {
  const canary = canaries(t);
  const repo = await infraRepo(t, 'repo', canary, { localConfig: true });
  const scriptAvailable = await execFileAsync('script', ['--version']).then(
    () => true,
    () => false,
  );
  t.ok(scriptAvailable, 'util-linux `script` (a terminal for the pager proof) is installed');
  const proofs: Array<[string, () => Promise<unknown>]> = [
    ['local-fsmonitor', () => plainGit(repo, ['ls-files'])],
    ['local-gpg', () => plainGit(repo, ['-c', 'core.fsmonitor=false', 'log', '-n1', '--format=%s'])],
    ['local-diff-external', () => plainGit(repo, ['-c', 'core.fsmonitor=false', '-c', 'log.showSignature=false', 'log', '-p', '--ext-diff', '-n1'])],
    ['local-filter-smudge', () => plainGit(repo, ['-c', 'core.fsmonitor=false', '-c', 'log.showSignature=false', 'log', '-p', '--no-ext-diff', '-n1'])], // before textconv
    ['local-textconv', () => plainGit(repo, ['-c', 'core.fsmonitor=false', '-c', 'log.showSignature=false', 'log', '-p', '--no-ext-diff', '-n1'])],
    ['local-filter-clean', () => plainGit(repo, ['-c', 'core.fsmonitor=false', 'hash-object', SOPS_FILE])],
    ['hook-pre-commit', () => plainGit(repo, ['hook', 'run', 'pre-commit'])],
    [
      'local-pager',
      () =>
        execFileAsync('script', ['-qec', `git -C '${repo}' -c core.fsmonitor=false -c log.showSignature=false log -n1 --format=%s`, '/dev/null'], {
          env: { PATH: process.env.PATH, HOME: '/nonexistent', TERM: 'dumb' },
        }).catch(() => undefined),
    ],
  ];
  for (const [name, prove] of proofs) {
    await prove();
    t.ok(canary.fired().includes(name), `plain git runs ${name}`, { fired: canary.fired() });
    canary.clear();
  }

  await exerciseCoffre(t, repo, SUBJECTS);
  t.same(canary.fired(), [], 'coffre ran no canary');
});

t.test("a partial clone's remote is never fetched from (its uploadpack is a program)", async (t) => {
  const canary = canaries(t);
  const origin = await infraRepo(t, 'origin', canary, {});
  const bare = path.join(freshDir(t, 'bare'), 'origin.git');
  t.equal((await plainGit(origin, ['clone', '-q', '--bare', origin, bare])).code, 0);
  t.equal((await plainGit(bare, ['config', 'uploadpack.allowFilter', 'true'])).code, 0);
  const clone = path.join(freshDir(t, 'clones'), 'clone');
  const cloned = await plainGit('/', ['clone', '-q', '--filter=tree:0', `file://${bare}`, clone]);
  t.equal(cloned.code, 0, cloned.stderr);
  t.equal((await plainGit(clone, ['config', 'remote.origin.uploadpack', canary.script('uploadpack')])).code, 0);

  await exerciseCoffre(t, clone, null);
  t.same(canary.fired(), [], 'coffre ran no canary');

  await plainGit(clone, ['log', '--format=%s', '--', SOPS_FILE]);
  t.same(canary.fired(), ['uploadpack'], 'plain git log lazily fetches through the configured uploadpack');
});

t.test('a bare repository committed in a service folder is not used (its config, its forged history)', async (t) => {
  const canary = canaries(t);
  const repo = await infraRepo(t, 'repo', canary, {});
  const secrets = path.join(repo, 'svc', 'secrets');
  const bare = async (args: string[]): Promise<string> => {
    const result = await plainGit(repo, ['--git-dir', secrets, ...args]);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };
  t.equal((await plainGit(repo, ['init', '-q', '--bare', secrets])).code, 0);
  await bare(['config', 'log.showSignature', 'true']);
  await bare(['config', 'gpg.program', canary.script('bare-gpg')]);
  const objectFile = path.join(repo, '.git', 'forged.txt');
  writeFileSync(objectFile, 'forged\n');
  const blob = await bare(['hash-object', '-w', objectFile]);
  const treeFile = writeTreeObject(repo, blob);
  const treeId = await bare(['hash-object', '-t', 'tree', '-w', treeFile]);
  writeFileSync(
    objectFile,
    `tree ${treeId}\nauthor Forger <f@example.invalid> 1600000000 +0000\ncommitter Forger <f@example.invalid> 1600000000 +0000\n` +
      `gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEforged\n -----END PGP SIGNATURE-----\n\nforged history\n`,
  );
  await bare(['update-ref', 'refs/heads/master', await bare(['hash-object', '-t', 'commit', '-w', objectFile])]);
  rmSync(objectFile);
  rmSync(treeFile);
  t.equal((await plainGit(repo, ['add', '-A'])).code, 0);
  const committed = await plainGit(repo, ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'embed a bare repository']);
  t.equal(committed.code, 0, committed.stderr);
  t.match((await plainGit(repo, ['ls-files', 'svc/secrets'])).stdout, 'svc/secrets/HEAD', 'the bare repository is committed content');

  const plain = await plainGit(secrets, ['log', '--format=%s', '--', 'app.secrets.sops.yaml']);
  t.match(plain.stdout, 'forged history', 'plain git in the service folder reads the embedded repository');
  t.same(canary.fired(), ['bare-gpg'], "and runs its committed config's gpg.program");
  canary.clear();

  const versions = await coffre(repo, ['versions', 'svc', 'app', '--format', 'json']);
  t.equal(versions.code, 0, versions.stderr);
  t.equal(JSON.parse(versions.stdout).git, null, 'no history rather than a forged one');
  t.equal(await checkGitExposure(repo, ['svc/secrets/app.secrets']), 'checked');
  t.same(canary.fired(), [], 'coffre ran no canary');
});

/** A tree object (binary format) holding one blob named app.secrets.sops.yaml; returns the file it is in. */
function writeTreeObject(repo: string, blob: string): string {
  const file = path.join(repo, '.git', 'forged-tree.bin');
  writeFileSync(file, Buffer.concat([Buffer.from('100644 app.secrets.sops.yaml\0'), Buffer.from(blob, 'hex')]));
  return file;
}

t.test("dubious ownership: the refusal keeps git's safe.directory hint; the user's own safe.directory is honoured", async (t) => {
  if (process.getuid?.() !== 0) {
    t.pass('skipped: needs root to give the repo to another owner', { skip: true });
    return;
  }
  const canary = canaries(t);
  const repo = await infraRepo(t, 'repo', canary, {});
  const chownTree = (dir: string): void => {
    chownSync(dir, 12345, 12345);
    if (!lstatSync(dir).isDirectory()) return;
    for (const entry of readdirSync(dir)) chownTree(path.join(dir, entry));
  };
  chownTree(repo);

  const refused = await refusal(checkGitExposure(repo, ['svc/secrets/app.secrets']));
  t.equal(refused.code, 'COFFRE_TARGET_UNSAFE');
  t.match(refused.message, `detected dubious ownership in repository at '${repo}'`);
  t.match(refused.message, `git config --global --add safe.directory ${repo}`, 'the hint names the command to run');
  t.notOk(refused.message.includes('\n'), 'one line');

  const home = freshDir(t, 'home');
  writeTree(home, { '.gitconfig': `[safe]\n\tdirectory = ${repo}\n` });
  await withProcessEnv({ HOME: home }, async () => {
    t.equal(await checkGitExposure(repo, ['svc/secrets/app.secrets']), 'checked', 'the global safe.directory entry is honoured');
    const versions = await coffre(repo, ['versions', 'svc', 'app', '--format', 'json']);
    t.equal(versions.code, 0, versions.stderr);
    t.same(JSON.parse(versions.stdout).git?.map((entry: { subject: string }) => entry.subject), SUBJECTS);
  });
  const elsewhere = freshDir(t, 'elsewhere');
  writeTree(elsewhere, { '.gitconfig': `[safe]\n\tdirectory = /somewhere/else\n` });
  await withProcessEnv({ HOME: elsewhere }, async () => {
    t.match(await refusal(checkGitExposure(repo, ['svc/secrets/app.secrets'])), { code: 'COFFRE_TARGET_UNSAFE', message: /dubious ownership/ });
  });
});
