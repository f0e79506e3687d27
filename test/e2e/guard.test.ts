// `coffre guard` end to end, with real git, sops files made by the real sops binary and a real OpenBao: each
// refusal (rendered target, sops file without metadata or with clear values, target no longer ignored, a store
// value in a line), a clean tree passing, --staged reading the index (not the work tree: files, compose files,
// .gitignore rules), --tree seeing untracked files, a hostile repo config running nothing, the hook installer
// (and the hook refusing a real `git commit`; a core.hooksPath elsewhere refused), and the canary: no planted
// value in any output.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { runCli } from '../../src/cli/main.js';
import { GUARD_FINDING_CODES } from '../../src/core/guard-report.js';
import { ERROR_CODES } from '../../src/errors.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot, toolPath } from '../support/tools.js';

const execFileAsync = promisify(execFile);
const key = await newAgeKey();
const REFUSED = ERROR_CODES.COFFRE_GUARD_REFUSED.exit;
const canary = {
  sops: `canary-sops-${Math.random().toString(36).slice(2)}`,
  vault: `canary-vault-${Math.random().toString(36).slice(2)}`,
  plain: `canary-plain-${Math.random().toString(36).slice(2)}`,
};
/** Every output of every guard run, grepped for planted values at the end. */
const outputs: string[] = [];

async function git(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('git', ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent', LC_ALL: 'C', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function mustGit(dir: string, args: string[]): Promise<string> {
  const result = await git(dir, args);
  if (result.code !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function guard(cwd: string, argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string; report: any }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['guard', ...argv], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd });
  outputs.push(stdout, stderr);
  let report: any = null;
  if (argv.includes('json')) report = JSON.parse(stdout);
  return { code, stdout, stderr, report };
}

const codesOf = (report: any): string[] => report.findings.map((f: { code: string; file: string; line?: number }) => `${f.code} ${f.file}${f.line !== undefined ? `:${f.line}` : ''}`);

const COMPOSE = 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n';

/** A committed infra repo (in `prefix` of a git work tree): service svc, its sops source, its target ignored. */
async function repo(t: Test, options: { prefix?: string } = {}): Promise<{ top: string; root: string; sopsFile: string }> {
  const top = t.testdir({});
  const root = options.prefix ? path.join(top, options.prefix) : top;
  mkdirSync(path.join(root, 'svc', 'secrets'), { recursive: true });
  writeFileSync(path.join(root, 'coffre.yaml'), 'version: 1\n');
  writeFileSync(path.join(root, '.gitignore'), '*.secrets\n');
  writeFileSync(path.join(root, 'svc', 'docker-compose.yml'), COMPOSE);
  writeFileSync(path.join(root, 'svc', 'secrets', 'app.secrets.example'), 'APP_TOKEN=\nAPP_USER=admin\n');
  const sopsFile = path.join(root, 'svc', 'secrets', 'app.secrets.sops.yaml');
  await writeSopsFile(sopsFile, `APP_TOKEN: ${canary.sops}\nAPP_USER: admin\nNOTE_unencrypted: a clear note sops leaves alone\n`, key);
  // The rendered target, on disk and ignored: normal on a host.
  writeFileSync(path.join(root, 'svc', 'secrets', 'app.secrets'), `APP_TOKEN="${canary.sops}"\nAPP_USER="admin"\n`, { mode: 0o600 });
  await mustGit(top, ['init', '-q']);
  await mustGit(top, ['add', '-A']);
  await mustGit(top, ['commit', '-q', '-m', 'infra']);
  return { top, root, sopsFile };
}

const env = { SOPS_AGE_KEY: key.identity };

t.test('a clean repo passes in every scope, text and json, exit 0', async (t) => {
  const { root } = await repo(t);
  for (const scope of [[], ['--staged'], ['--tree']]) {
    const text = await guard(root, scope);
    t.equal(text.code, 0, `${scope.join(' ') || 'tracked'}: exit 0 (${text.stdout})`);
    t.match(text.stdout, /^coffre guard: clean \(\d+ /m);
    const json = await guard(root, [...scope, '--format', 'json']);
    t.match(json.report, { version: 1, clean: true, findings: [], withStore: false });
    t.ok(json.report.files >= 5, 'it looked at the files');
  }
  t.equal((await guard(root, ['--staged', '--format', 'json'])).report.scope, 'staged');
});

t.test('a staged rendered target is refused (GUARD_RENDERED_TARGET), in --staged and in the tracked files', async (t) => {
  const { root } = await repo(t);
  await mustGit(root, ['add', '-f', 'svc/secrets/app.secrets']);
  const staged = await guard(root, ['--staged', '--format', 'json']);
  t.equal(staged.code, REFUSED, 'exit code of COFFRE_GUARD_REFUSED');
  t.same(codesOf(staged.report), ['GUARD_RENDERED_TARGET svc/secrets/app.secrets']);
  t.match(staged.report.findings[0].message, /env_file target of service svc.*git rm --cached/);
  const text = await guard(root, []);
  t.equal(text.code, REFUSED);
  t.match(text.stdout, /^GUARD_RENDERED_TARGET svc\/secrets\/app\.secrets {2}/m);
  t.match(text.stdout, /coffre guard: refused, 1 finding/);
});

t.test('a decrypted copy under a sops name is refused (GUARD_SOPS_NO_METADATA); --staged reads the index, not the work tree', async (t) => {
  const { root, sopsFile } = await repo(t);
  const encrypted = readFileSync(sopsFile, 'utf8');
  const { stdout: decrypted } = await execFileAsync(toolPath('sops'), ['decrypt', sopsFile], { env: { PATH: process.env.PATH, HOME: '/nonexistent', SOPS_AGE_KEY: key.identity } });
  t.match(decrypted, canary.sops, 'the real sops decrypted it');
  writeFileSync(sopsFile, decrypted);
  writeFileSync(path.join(root, 'svc', 'secrets', 'other.secrets.sops.env'), `OTHER=${canary.plain}\n`);
  // Where `sops -d … > …` output often lands: a backup suffix after the sops name; an encrypted backup is fine.
  writeFileSync(path.join(root, 'svc', 'secrets', 'app.secrets.sops.yaml.dec'), decrypted);
  writeFileSync(path.join(root, 'svc', 'secrets', 'app.secrets.sops.yaml.bak'), encrypted);
  writeFileSync(path.join(root, 'svc', 'secrets', 'notes.sops.md'), 'how we use sops\n');
  await mustGit(root, ['add', '-A']);
  const staged = await guard(root, ['--staged', '--format', 'json']);
  t.equal(staged.code, REFUSED);
  t.same(codesOf(staged.report).sort(), [
    'GUARD_SOPS_NO_METADATA svc/secrets/app.secrets.sops.yaml',
    'GUARD_SOPS_NO_METADATA svc/secrets/app.secrets.sops.yaml.dec',
    'GUARD_SOPS_NO_METADATA svc/secrets/other.secrets.sops.env',
  ]);
  // Restore the encrypted file in the work tree only: the index still holds the decrypted copy.
  writeFileSync(sopsFile, encrypted);
  const stillStaged = await guard(root, ['--staged', '--format', 'json']);
  t.ok(codesOf(stillStaged.report).includes('GUARD_SOPS_NO_METADATA svc/secrets/app.secrets.sops.yaml'), '--staged judges the staged content');
  const tracked = await guard(root, ['--format', 'json']);
  t.same(
    codesOf(tracked.report),
    ['GUARD_SOPS_NO_METADATA svc/secrets/app.secrets.sops.yaml.dec', 'GUARD_SOPS_NO_METADATA svc/secrets/other.secrets.sops.env'],
    'the tracked files are read from the work tree',
  );
});

t.test('a sops file with a value edited to clear text is refused (GUARD_SOPS_PLAINTEXT) naming the key and line; sops-unencrypted keys are fine', async (t) => {
  const { root, sopsFile } = await repo(t);
  const lines = readFileSync(sopsFile, 'utf8').split('\n');
  const index = lines.findIndex((line) => line.startsWith('APP_USER: ENC['));
  t.ok(index >= 0, 'the real sops encrypted APP_USER');
  lines[index] = `APP_USER: ${canary.plain}`;
  writeFileSync(sopsFile, lines.join('\n'));
  await mustGit(root, ['add', '-A']);
  const staged = await guard(root, ['--staged', '--format', 'json']);
  t.equal(staged.code, REFUSED);
  t.same(staged.report.findings.map((f: any) => [f.code, f.file, f.line, f.key]), [['GUARD_SOPS_PLAINTEXT', 'svc/secrets/app.secrets.sops.yaml', index + 1, 'APP_USER']]);
  t.notMatch(JSON.stringify(staged.report), /NOTE_unencrypted/, 'a key sops itself leaves clear (_unencrypted suffix) is no finding');
});

t.test('a target the ignore rules no longer cover is refused (GUARD_TARGET_NOT_IGNORED), and a re-include is named', async (t) => {
  const { root } = await repo(t);
  writeFileSync(path.join(root, '.gitignore'), '# targets used to be ignored here\n');
  // --staged judges the .gitignore the next commit holds: the rule is still in the index.
  t.equal((await guard(root, ['--staged'])).code, 0, 'the index still ignores the target');
  const tracked = await guard(root, ['--format', 'json']);
  t.same(codesOf(tracked.report), ['GUARD_TARGET_NOT_IGNORED svc/secrets/app.secrets'], 'the work tree no longer does');
  await mustGit(root, ['add', '.gitignore']);
  const gone = await guard(root, ['--staged', '--format', 'json']);
  t.equal(gone.code, REFUSED);
  t.same(codesOf(gone.report), ['GUARD_TARGET_NOT_IGNORED svc/secrets/app.secrets']);
  t.match(gone.report.findings[0].message, /no ignore rule matches it.*\/svc\/secrets\/app\.secrets/);
  // The rule back in the work tree but not staged: the commit would still drop it.
  writeFileSync(path.join(root, '.gitignore'), '*.secrets\n');
  t.equal((await guard(root, [])).code, 0, 'the work tree ignores it again');
  // The index's rules are asked in a scratch folder under TMPDIR: a private one here, to see it left empty.
  const scratchParent = mkdtempSync(path.join(tmpdir(), 'coffre-guard-tmp-'));
  t.teardown(() => rmSync(scratchParent, { recursive: true, force: true }));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = scratchParent;
  try {
    t.same(codesOf((await guard(root, ['--staged', '--format', 'json'])).report), ['GUARD_TARGET_NOT_IGNORED svc/secrets/app.secrets'], '--staged still refuses: the index has no rule');
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  t.same(readdirSync(scratchParent), [], 'no scratch folder left behind');
  await mustGit(root, ['add', '.gitignore']);
  writeFileSync(path.join(root, '.gitignore'), '*.secrets\n!app.secrets\n');
  const reincluded = await guard(root, ['--format', 'json']);
  t.match(reincluded.report.findings[0].message, /\.gitignore:2 re-includes it with "!app\.secrets"/);
  const tree = await guard(root, ['--tree', '--format', 'json']);
  t.same(codesOf(tree.report).sort(), ['GUARD_RENDERED_TARGET svc/secrets/app.secrets', 'GUARD_TARGET_NOT_IGNORED svc/secrets/app.secrets'], '--tree also sees the target git add -A would now stage');
});

t.test('--staged finds the targets in the compose files of the index, not the work tree', async (t) => {
  const { root } = await repo(t);
  const composeFile = path.join(root, 'svc', 'docker-compose.yml');
  writeFileSync(composeFile, `${COMPOSE}      - ./config/app.env\n`.replace('env_file: ./secrets/app.secrets\n', 'env_file:\n      - ./secrets/app.secrets\n'));
  mkdirSync(path.join(root, 'svc', 'config'));
  writeFileSync(path.join(root, 'svc', 'config', 'app.env.example'), 'LOG_LEVEL=info\n');
  await mustGit(root, ['add', 'svc/docker-compose.yml', 'svc/config/app.env.example']);
  writeFileSync(composeFile, COMPOSE); // the work tree back to one target; the index keeps two
  const staged = await guard(root, ['--staged', '--format', 'json']);
  t.same(codesOf(staged.report), ['GUARD_TARGET_NOT_IGNORED svc/config/app.env'], 'the staged compose file names a target no rule ignores');
  t.equal((await guard(root, [])).code, 0, 'the work tree names no such target');
});

t.test('a target outside the repo (an absolute path, a ../ path) is no file of it: guard judges the rest, in every scope', async (t) => {
  const { root } = await repo(t);
  writeFileSync(
    path.join(root, 'svc', 'docker-compose.yml'),
    `${COMPOSE}    secrets: [token]\nsecrets:\n  token:\n    file: \${TOKEN_FILE:-/dev/null}\n  other:\n    file: ../../elsewhere.secrets\n`,
  );
  await mustGit(root, ['add', 'svc/docker-compose.yml']);
  for (const scope of [[], ['--staged'], ['--tree']]) {
    const result = await guard(root, [...scope, '--format', 'json']);
    t.equal(result.code, 0, `${scope.join(' ') || 'tracked'}: clean (${result.stderr})`);
  }
});

t.test('a compose file that cannot be read in full is refused (GUARD_TARGETS_UNKNOWN): its targets cannot be guarded', async (t) => {
  const { root } = await repo(t);
  writeFileSync(path.join(root, 'svc', 'docker-compose.yml'), 'services:\n  app:\n    env_file: [\n');
  const result = await guard(root, ['--format', 'json']);
  t.equal(result.code, REFUSED);
  t.same(result.report.findings.map((f: any) => f.code), ['GUARD_TARGETS_UNKNOWN']);
  t.match(result.report.findings[0], { file: 'svc/docker-compose.yml', message: /^COFFRE_COMPOSE_INVALID: / });
});

t.test('--tree sees untracked files the ignore rules do not exclude; the default looks at tracked files only', async (t) => {
  const { root } = await repo(t);
  writeFileSync(path.join(root, 'svc', 'secrets', 'copy.secrets.sops.yaml'), `APP_TOKEN: ${canary.plain}\n`);
  t.equal((await guard(root, [])).code, 0, 'untracked: not in the tracked files');
  const tree = await guard(root, ['--tree', '--format', 'json']);
  t.equal(tree.code, REFUSED);
  t.same(codesOf(tree.report), ['GUARD_SOPS_NO_METADATA svc/secrets/copy.secrets.sops.yaml']);
});

t.test('--with-store: a staged line holding a current value is refused at file:line with the key, never the value', async (t) => {
  const bao = await sharedOpenBao(t);
  const { root } = await repo(t);
  writeFileSync(path.join(root, 'coffre.yaml'), `version: 1\nvault:\n  prefix: ${bao.prefix}\n`);
  mkdirSync(path.join(root, 'chat', 'secrets'), { recursive: true });
  writeFileSync(path.join(root, 'chat', 'docker-compose.yml'), 'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n');
  writeFileSync(path.join(root, 'chat', 'secrets', 'db.secrets.example'), 'DB_PASS=\nDB_SHORT=\nDB_HOST=postgresql.internal\n');
  const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/chat/db`, { data: { DB_PASS: canary.vault, DB_SHORT: 'short', DB_HOST: 'postgresql.internal' } });
  t.equal(put.status, 200);
  writeFileSync(path.join(root, 'notes.md'), `# Notes\n\nthe db password is ${canary.vault} (oops)\nshort\nhost postgresql.internal\n`);
  writeFileSync(path.join(root, 'chat', 'debug.log'), `token=${canary.sops}\n`);
  await mustGit(root, ['add', '-A']);
  const storeEnv = { ...env, VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken };
  const without = await guard(root, ['--staged', '--format', 'json'], storeEnv);
  t.equal(without.code, 0, 'without --with-store, values are not compared');
  const staged = await guard(root, ['--staged', '--with-store', '--format', 'json'], storeEnv);
  t.equal(staged.code, REFUSED);
  t.same(
    staged.report.findings.map((f: any) => [f.code, f.file, f.line, f.key]),
    [
      ['GUARD_VALUE_LEAK', 'chat/debug.log', 1, 'APP_TOKEN'],
      ['GUARD_VALUE_LEAK', 'notes.md', 3, 'DB_PASS'],
    ],
    'the Vault value and the sops value, each at its line; a value under 8 characters and one the example publishes are not looked for',
  );
  t.equal(staged.report.withStore, true);
  t.match(staged.report.findings[1].message, /DB_PASS \(chat\/secrets\/db\.secrets of service chat, vault secret\//);
  const text = await guard(root, ['--staged', '--with-store'], storeEnv);
  t.match(text.stdout, /^GUARD_VALUE_LEAK notes\.md:3 {2}holds the current value of DB_PASS/m);
  // A store that cannot be read fails the guard (exit 3), it never passes for want of looking.
  const denied = await guard(root, ['--staged', '--with-store'], { ...env, VAULT_ADDR: bao.address, VAULT_TOKEN: 'not-a-token' });
  t.equal(denied.code, 3, denied.stderr);
  t.notOk(text.stdout.includes(bao.rootToken) || denied.stderr.includes('not-a-token'), 'tokens never printed');
});

t.test('a hostile repo config and caller environment make guard run no program', async (t) => {
  const { root } = await repo(t);
  const canaryDir = path.join(t.testdirName, '..', `${path.basename(t.testdirName)}-canaries`);
  mkdirSync(canaryDir, { recursive: true });
  // Filters pass their input through (`cat`), so that plain git can still stage; every other canary exits 1.
  const script = (name: string): string => {
    const file = path.join(canaryDir, `canary-${name}`);
    const tail = name.startsWith('filter-') ? 'cat' : 'exit 1';
    writeFileSync(file, `#!/bin/sh\necho fired >> '${path.join(canaryDir, `fired-${name}`)}'\n${tail}\n`, { mode: 0o755 });
    return file;
  };
  const fired = (): string[] => readdirSync(canaryDir).filter((e) => e.startsWith('fired-')).map((e) => e.slice(6)).sort();
  const hooks = path.join(root, '.git', 'evil-hooks');
  mkdirSync(hooks);
  for (const hook of ['pre-commit', 'post-index-change', 'reference-transaction', 'fsmonitor-watchman']) {
    writeFileSync(path.join(hooks, hook), `#!/bin/sh\nexec '${script(`hook-${hook}`)}'\n`, { mode: 0o755 });
  }
  writeFileSync(path.join(root, '.gitattributes'), '*.yaml filter=pwn diff=pwn\n*.md filter=pwn diff=pwn\n');
  writeFileSync(path.join(root, 'notes.md'), 'hello\n');
  writeFileSync(
    path.join(root, '.git', 'config'),
    [
      '[core]',
      `\tfsmonitor = ${script('fsmonitor')}`,
      `\thooksPath = ${hooks}`,
      `\tpager = ${script('pager')}`,
      '[gpg]',
      `\tprogram = ${script('gpg')}`,
      '[diff]',
      `\texternal = ${script('diff-external')}`,
      '[diff "pwn"]',
      `\ttextconv = ${script('textconv')}`,
      '[filter "pwn"]',
      `\tclean = ${script('filter-clean')}`,
      `\tsmudge = ${script('filter-smudge')}`,
      '',
    ].join('\n'),
    { flag: 'a' },
  );
  // Plain git does run them: staging runs the clean filter, status the fsmonitor hook.
  await git(root, ['add', '.gitattributes', 'notes.md']);
  await git(root, ['status']);
  t.ok(fired().includes('filter-clean') && fired().includes('fsmonitor'), `plain git fires the canaries (${fired().join(', ')})`);
  for (const entry of readdirSync(canaryDir)) if (entry.startsWith('fired-')) writeFileSync(path.join(canaryDir, entry), '', { flag: 'w' });
  const before = fired().map((name) => statSync(path.join(canaryDir, `fired-${name}`)).size);
  t.ok(before.every((size) => size === 0), 'canary records emptied');

  const hostileEnv = { GIT_CONFIG_PARAMETERS: `'core.fsmonitor'='${script('env-fsmonitor')}'`, GIT_EXTERNAL_DIFF: script('env-diff'), GIT_PAGER: script('env-pager') };
  const saved = Object.fromEntries(Object.keys(hostileEnv).map((name) => [name, process.env[name]]));
  Object.assign(process.env, hostileEnv);
  try {
    for (const scope of [[], ['--staged'], ['--tree']]) {
      const result = await guard(root, [...scope, '--format', 'json'], { ...env, ...hostileEnv });
      t.equal(result.code, 0, `${scope.join(' ') || 'tracked'}: clean (${result.stderr})`);
    }
    // The repo's core.hooksPath (the evil hooks) means a hook in .git/hooks would never run: refused, running nothing.
    const installer = await guard(root, ['--install-hook'], env);
    t.equal(installer.code, 2, 'the installer refuses');
    t.match(installer.stderr, /core\.hooksPath is set to .*evil-hooks \(local git config\)/);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  const after = fired().filter((name) => statSync(path.join(canaryDir, `fired-${name}`)).size > 0);
  t.same(after, [], 'no canary fired during guard');
});

t.test('--install-hook writes a pre-commit hook that refuses a bad commit and lets a clean one through; never overwrites another hook', async (t) => {
  const { top, root } = await repo(t, { prefix: 'infra' });
  const installed = await guard(root, ['--install-hook']);
  t.equal(installed.code, 0, installed.stderr);
  const hookFile = path.join(top, '.git', 'hooks', 'pre-commit');
  t.match(installed.stdout, hookFile);
  t.equal(statSync(hookFile).mode & 0o777, 0o755, 'executable');
  const hook = readFileSync(hookFile, 'utf8');
  t.match(hook, /^#!\/bin\/sh\n/);
  t.match(hook, /exec coffre -C infra guard --staged\n/, 'runs guard on the coffre repo inside the work tree');
  const again = await guard(root, ['--install-hook']);
  t.equal(again.code, 0);
  t.match(again.stdout, /already coffre's hook/);

  // A real `git commit` runs the hook: `coffre` on PATH is this checkout's binary.
  const bin = path.join(t.testdirName, '..', `${path.basename(t.testdirName)}-bin`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'coffre'), `#!/bin/sh\nexec '${process.execPath}' '${path.join(projectRoot, 'bin', 'coffre.js')}' "$@"\n`);
  chmodSync(path.join(bin, 'coffre'), 0o755);
  const hookEnv = { PATH: `${bin}:${process.env.PATH}` };
  await mustGit(top, ['add', '-f', 'infra/svc/secrets/app.secrets']);
  const refused = await git(top, ['commit', '-q', '-m', 'oops'], hookEnv);
  outputs.push(refused.stdout, refused.stderr);
  t.not(refused.code, 0, 'the commit is refused');
  t.match(refused.stdout + refused.stderr, /GUARD_RENDERED_TARGET svc\/secrets\/app\.secrets/);
  await mustGit(top, ['rm', '-q', '--cached', 'infra/svc/secrets/app.secrets']);
  writeFileSync(path.join(root, 'README.md'), 'infra\n');
  await mustGit(top, ['add', 'infra/README.md']);
  const clean = await git(top, ['commit', '-q', '-m', 'docs'], hookEnv);
  t.equal(clean.code, 0, `a clean commit goes through (${clean.stderr})`);
  // `git commit -a` builds its own index (GIT_INDEX_FILE): the hook must judge that one, not .git/index.
  writeFileSync(path.join(root, 'svc', 'secrets', 'app.secrets.sops.yaml'), `APP_TOKEN: ${canary.plain}\n`);
  const commitAll = await git(top, ['commit', '-q', '-a', '-m', 'decrypted by mistake'], hookEnv);
  outputs.push(commitAll.stdout, commitAll.stderr);
  t.not(commitAll.code, 0, 'git commit -a of a decrypted sops file is refused');
  t.match(commitAll.stdout + commitAll.stderr, /GUARD_SOPS_NO_METADATA svc\/secrets\/app\.secrets\.sops\.yaml/);
  await mustGit(top, ['checkout', '--', 'infra/svc/secrets/app.secrets.sops.yaml']);

  writeFileSync(hookFile, '#!/bin/sh\necho my own hook\n');
  const other = await guard(root, ['--install-hook']);
  t.equal(other.code, 2, 'refused');
  t.match(other.stderr, /COFFRE_USAGE: .*already exists and is not coffre's hook/);
  t.equal(readFileSync(hookFile, 'utf8'), '#!/bin/sh\necho my own hook\n', 'the other hook is left as is');
});

t.test('--install-hook refuses when core.hooksPath sends git elsewhere (the hook would never run), in the repo or the user config', async (t) => {
  const { top, root } = await repo(t, { prefix: 'infra' });
  const defaultHook = path.join(top, '.git', 'hooks', 'pre-commit');
  await mustGit(top, ['config', 'core.hooksPath', '.githooks']);
  const local = await guard(root, ['--install-hook']);
  t.equal(local.code, 2, 'refused');
  t.match(local.stderr, /COFFRE_USAGE: core\.hooksPath is set to \.githooks \(local git config\)/);
  t.match(local.stderr, path.join(top, '.githooks', 'pre-commit'), 'names the hook git would run');
  t.notOk(existsSync(defaultHook), 'no hook written where git would not run it');

  // core.hooksPath naming the default folder: git runs .git/hooks, the installer goes ahead.
  await mustGit(top, ['config', 'core.hooksPath', '.git/hooks']);
  t.equal((await guard(root, ['--install-hook'])).code, 0, 'core.hooksPath = .git/hooks: installed');
  t.ok(existsSync(defaultHook));
  rmSync(defaultHook);
  await mustGit(top, ['config', '--unset', 'core.hooksPath']);

  // The user's global config counts too (git reads it for every repo).
  const globalConfig = path.join(top, '..', `${path.basename(top)}-gitconfig`);
  writeFileSync(globalConfig, '[core]\n\thooksPath = /srv/shared-hooks\n');
  const saved = process.env.GIT_CONFIG_GLOBAL;
  process.env.GIT_CONFIG_GLOBAL = globalConfig;
  try {
    const global = await guard(root, ['--install-hook']);
    t.equal(global.code, 2, 'refused');
    t.match(global.stderr, /core\.hooksPath is set to \/srv\/shared-hooks \(global git config\)/);
    t.notOk(existsSync(defaultHook));
  } finally {
    if (saved === undefined) delete process.env.GIT_CONFIG_GLOBAL;
    else process.env.GIT_CONFIG_GLOBAL = saved;
  }
  t.equal((await guard(root, ['--install-hook'])).code, 0, 'with no core.hooksPath anywhere, installed');
});

t.test('outside a git work tree, guard refuses to judge (COFFRE_USAGE, exit 2), also as a json document', async (t) => {
  // Outside the project's own checkout (t.testdir is inside it, and git would find this repository).
  const dir = mkdtempSync(path.join(tmpdir(), 'coffre-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'coffre.yaml'), 'version: 1\n');
  const result = await guard(dir, ['--format', 'json']);
  t.equal(result.code, 2);
  t.match(result.report, { version: 1, error: { code: 'COFFRE_USAGE', message: /not in a git work tree/ } });
  t.equal((await guard(dir, ['--staged', '--tree'])).code, 2, '--staged and --tree together are a usage error');
});

t.test('the README lists every guard finding code and the guard exit code', async (t) => {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  for (const code of Object.keys(GUARD_FINDING_CODES)) t.ok(readme.includes(`| \`${code}\` |`), `${code} in the README table`);
  t.ok(new RegExp(`^\\| ${REFUSED} \\| .*guard`, 'm').test(readme), 'exit code row');
  t.ok(existsSync(path.join(projectRoot, '.pre-commit-hooks.yaml')), '.pre-commit-hooks.yaml at the repo top');
  t.match(readFileSync(path.join(projectRoot, '.pre-commit-hooks.yaml'), 'utf8'), /id: coffre-guard[\s\S]*entry: coffre guard --staged/);
});

t.test('canary: no planted value appears in any guard output', async (t) => {
  const all = outputs.join('\n');
  t.ok(all.length > 1000, 'outputs were collected');
  for (const [name, value] of Object.entries(canary)) t.notOk(all.includes(value), `${name} value never printed`);
});
