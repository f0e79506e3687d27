// Issue 10 item 9: a sops source that git will never commit (matched by the repo's own ignore rules, untracked)
// is a SOPS_SOURCE_IGNORED warning on check, naming the rule and the .gitignore line to add; the suggested
// lines are applied here and the real git then commits the file.
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { runCoffre } from '../support/run-cli.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

const run = promisify(execFile);
const git = (dir: string, ...args: string[]) => run('git', ['-C', dir, ...args], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });

async function fixture(t: Test, gitignore: string): Promise<string> {
  const dir = t.testdir({
    'coffre.yaml': '# defaults\n',
    '.gitignore': gitignore,
    svc: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: secrets/app.env\n', secrets: { 'app.env.example': 'TOKEN=\n' } },
  });
  await git(dir, 'init', '-q');
  await mkdir(path.join(dir, 'svc', 'secrets'), { recursive: true });
  await writeSopsFile(path.join(dir, 'svc', 'secrets', 'app.env.sops.env'), 'TOKEN=t-1\n', await newAgeKey());
  return dir;
}

async function warnings(dir: string): Promise<Array<{ code: string; file: string; message: string }>> {
  const result = await runCoffre(['-C', dir, 'check', '--keys-only', '--format', 'json'], {});
  return JSON.parse(result.stdout).problems;
}

async function gitWouldAdd(dir: string, rel: string): Promise<boolean> {
  const { stdout } = await git(dir, 'add', '--dry-run', '--', rel).catch(() => ({ stdout: '' }));
  return stdout.includes(rel);
}

t.test('a sops file matched by "**/*.env" is reported with the rule and the negation, which works', async (t) => {
  const dir = await fixture(t, '**/*.env\n');
  t.notOk(await gitWouldAdd(dir, 'svc/secrets/app.env.sops.env'), 'git really ignores it');
  const found = await warnings(dir);
  t.same(found.map((p) => [p.code, p.file]), [['SOPS_SOURCE_IGNORED', 'svc/secrets/app.env.sops.env']]);
  t.equal(
    found[0]!.message,
    'svc/secrets/app.env.sops.env is a sops source git will never commit: .gitignore:1 ("**/*.env") ignores it, so a deploy host would have no source: add "!*.sops.*" (or "!/svc/secrets/app.env.sops.env") at the end of .gitignore',
  );
  const text = await runCoffre(['-C', dir, 'check', '--keys-only'], {});
  t.match(text.stdout, /^warning svc\/secrets\/app\.env\.sops\.env: .* add "!\*\.sops\.\*"/m, 'shown in text too');

  await appendFile(path.join(dir, '.gitignore'), '!*.sops.*\n');
  t.ok(await gitWouldAdd(dir, 'svc/secrets/app.env.sops.env'), 'with the suggested line git adds it');
  t.same(await warnings(dir), [], 'and the warning is gone');
});

t.test('the precise negation is relative to the .gitignore that matched', async (t) => {
  const dir = await fixture(t, '');
  await writeFile(path.join(dir, 'svc', '.gitignore'), '*.env\n');
  const [warning] = await warnings(dir);
  t.match(warning, { code: 'SOPS_SOURCE_IGNORED', message: /svc\/\.gitignore:1 \("\*\.env"\) .* \(or "!\/secrets\/app\.env\.sops\.env"\) at the end of svc\/\.gitignore$/ });
  await appendFile(path.join(dir, 'svc', '.gitignore'), '!/secrets/app.env.sops.env\n');
  t.ok(await gitWouldAdd(dir, 'svc/secrets/app.env.sops.env'));
  t.same(await warnings(dir), []);
});

t.test('an ignored folder: the message says git cannot re-include below it, and the fix it names works', async (t) => {
  const dir = await fixture(t, 'secrets/\n');
  const [warning] = await warnings(dir);
  t.match(warning?.message, /git cannot re-include a file below an ignored folder: replace "secrets\/" by "secrets\/\*" in \.gitignore, then add "!\*\.sops\.\*"/);
  await writeFile(path.join(dir, '.gitignore'), 'secrets/*\n!*.sops.*\n');
  t.ok(await gitWouldAdd(dir, 'svc/secrets/app.env.sops.env'));
  t.same(await warnings(dir), []);
});

t.test('no warning for a tracked sops file, nor outside git', async (t) => {
  const dir = await fixture(t, '**/*.env\n');
  await git(dir, 'add', '-f', 'svc/secrets/app.env.sops.env');
  t.same(await warnings(dir), [], 'tracked: git commits its changes whatever the ignore rules');
  // Outside any work tree (the test fixtures folder is inside coffre's own repo).
  const plain = await mkdtemp(path.join(os.tmpdir(), 'coffre-nogit-'));
  t.teardown(() => rm(plain, { recursive: true, force: true }));
  await mkdir(path.join(plain, 'svc'));
  await writeFile(path.join(plain, 'coffre.yaml'), '# defaults\n');
  await writeFile(path.join(plain, '.gitignore'), '**/*.env\n');
  await writeFile(path.join(plain, 'svc', 'docker-compose.yml'), 'services:\n  app:\n    image: app\n    env_file: app.env\n');
  await writeFile(path.join(plain, 'svc', 'app.env.example'), 'TOKEN=\n');
  await writeSopsFile(path.join(plain, 'svc', 'app.env.sops.env'), 'TOKEN=t-1\n', await newAgeKey());
  t.same((await warnings(plain)).filter((p) => p.code === 'SOPS_SOURCE_IGNORED'), [], 'not a git work tree: nothing to say');
});
