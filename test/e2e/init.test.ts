// `coffre init`: a first commented coffre.yaml, the .gitignore lines the targets miss, and an age key pair (outside
// the repo, 0600) with a .sops.yaml rule that `coffre import --to sops` and the real sops binary both use.
import { execFile } from 'node:child_process';
import { cp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCoffre } from '../support/run-cli.js';
import { projectRoot, toolPath } from '../support/tools.js';

const run = promisify(execFile);

async function git(dir: string, ...args: string[]): Promise<{ stdout: string }> {
  return run('git', ['-C', dir, ...args], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
}

function envFor(home: string): Record<string, string | undefined> {
  return { HOME: home, XDG_CONFIG_HOME: path.join(home, 'xdg'), PATH: process.env.PATH };
}

t.test('examples/infra without coffre.yaml: init writes a coffre.yaml check reads, and no .gitignore line twice', async (t) => {
  const dir = t.testdir({ home: {} });
  const repo = path.join(dir, 'infra');
  await cp(path.join(projectRoot, 'examples', 'infra'), repo, { recursive: true });
  await rm(path.join(repo, 'coffre.yaml'));
  await git(repo, 'init', '-q');
  // One target's exact line is already there: it must not be added again.
  await writeFile(path.join(repo, '.gitignore'), '/mattermost/secrets/db.secrets\n');
  const env = envFor(path.join(dir, 'home'));

  const result = await runCoffre(['-C', repo, 'init'], env);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, `wrote ${path.join(repo, 'coffre.yaml')}`);
  t.match(result.stdout, 'sops: a .sops.yaml exists: no key generated', 'the demo .sops.yaml is kept');
  const config = await readFile(path.join(repo, 'coffre.yaml'), 'utf8');
  t.match(config, /^version: 1$/m);
  t.match(config, /^vault:\n(?:  #.*\n)*  prefix: infra$/m, 'the repo folder name as the vault.prefix');
  t.match(config, /^#   mattermost: {4}# mattermost\/docker-compose\.yml$/m, 'services listed as comments');
  t.match(config, /^# {5}secrets\/db\.secrets: {4}# target mattermost\/secrets\/db\.secrets/m, 'targets listed as comments');

  const gitignore = (await readFile(path.join(repo, '.gitignore'), 'utf8')).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  t.same(gitignore.filter((line) => line === '/mattermost/secrets/db.secrets'), ['/mattermost/secrets/db.secrets'], 'the existing line is not duplicated');
  t.equal(new Set(gitignore).size, gitignore.length, 'no line twice');
  t.same(gitignore.sort(), ['/etherpad/secrets/etherpad.secrets', '/mattermost/secrets/app.secrets', '/mattermost/secrets/db.secrets', '/website/secrets/deploy.secrets'], 'the missing lines added');
  const targets = ['etherpad/secrets/etherpad.secrets', 'mattermost/secrets/app.secrets', 'mattermost/secrets/db.secrets', 'website/secrets/deploy.secrets'];
  const ignored = await git(repo, 'check-ignore', '--no-index', ...targets);
  t.equal(ignored.stdout, targets.map((target) => `${target}\n`).join(''), 'every target is ignored afterwards');
  t.equal((await runCoffre(['-C', repo, 'init'], env)).code, 2, 'a second init is refused');

  const check = await runCoffre(['-C', repo, 'check'], { ...env, SOPS_AGE_KEY_FILE: path.join(repo, 'DEMO-ONLY-age-key.txt') });
  t.ok(check.code === 0 || check.code === 1, `check reads the written coffre.yaml (exit ${check.code}): ${check.stderr}`);
  t.notMatch(check.stderr, 'COFFRE_CONFIG', 'no config error');
  t.notMatch(result.stdout + result.stderr, 'AGE-SECRET-KEY');
});

t.test('a fresh repo: .gitignore lines, .sops.yaml, a 0600 key outside the repo; import --to sops and the real sops use them', async (t) => {
  const sops = toolPath('sops');
  const dir = t.testdir({
    home: {},
    repo: {
      alpha: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n    env_file: secrets/app.secrets\n', secrets: { 'app.secrets.example': 'DB_PASS=\nAPI_TOKEN=\n' } },
      beta: { 'compose.yaml': 'services:\n  b:\n    image: x\n    env_file: [b.env]\n', 'b.env.example': 'B_KEY=\n' },
    },
  });
  const repo = path.join(dir, 'repo');
  await git(repo, 'init', '-q');
  const env = envFor(path.join(dir, 'home'));
  const keyFile = path.join(dir, 'home', 'xdg', 'sops', 'age', 'keys.txt');

  const dry = await runCoffre(['-C', repo, 'init', '--dry-run'], env);
  t.equal(dry.code, 0, dry.stderr);
  await t.rejects(stat(path.join(repo, 'coffre.yaml')), 'dry run writes nothing');
  await t.rejects(stat(keyFile));

  const result = await runCoffre(['-C', repo, 'init'], env);
  t.equal(result.code, 0, result.stderr);
  t.notMatch(result.stdout + result.stderr, 'AGE-SECRET-KEY', 'the private key is never printed');
  t.match(result.stdout, `added an age key to ${keyFile}`);
  const recipient = /^public key: (age1[0-9a-z]+)$/m.exec(result.stdout)?.[1];
  t.ok(recipient, 'the public key is printed');

  t.equal((await stat(keyFile)).mode & 0o777, 0o600, 'key file 0600');
  t.match(await readFile(keyFile, 'utf8'), /^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
  const sopsConfig = await readFile(path.join(repo, '.sops.yaml'), 'utf8');
  t.match(sopsConfig, `age: ${recipient}`);
  t.match(sopsConfig, "path_regex: '\\.sops\\.(ya?ml|json|env|ini)$'");
  const gitignore = await readFile(path.join(repo, '.gitignore'), 'utf8');
  t.match(gitignore, /^\/alpha\/secrets\/app\.secrets$/m);
  t.match(gitignore, /^\/beta\/b\.env$/m);
  const ignored = await git(repo, 'check-ignore', '--no-index', 'alpha/secrets/app.secrets', 'beta/b.env');
  t.equal(ignored.stdout, 'alpha/secrets/app.secrets\nbeta/b.env\n', 'git says both targets are ignored');

  // A second key goes after the first one (appended, never overwritten) when another repo is initialised.
  const before = await readFile(keyFile, 'utf8');

  // Adopt a hand-made target into a new sops file, encrypted by the creation rule init wrote.
  await writeFile(path.join(repo, 'alpha', 'secrets', 'app.secrets'), 'DB_PASS=init-test-pass\nAPI_TOKEN=init-test-token\n');
  const imported = await runCoffre(['-C', repo, 'import', 'alpha', '--to', 'sops'], env);
  t.equal(imported.code, 0, `imported and complete: ${imported.stdout}${imported.stderr}`);
  const sopsFile = path.join(repo, 'alpha', 'secrets', 'app.secrets.sops.yaml');
  t.match(await readFile(sopsFile, 'utf8'), recipient as string, 'encrypted to the init key');

  const sopsEnv = { ...process.env, SOPS_AGE_KEY_FILE: keyFile, HOME: path.join(dir, 'home'), XDG_CONFIG_HOME: path.join(dir, 'home', 'xdg') };
  const decrypted = await run(sops, ['decrypt', sopsFile], { env: sopsEnv });
  t.match(decrypted.stdout, /^DB_PASS: init-test-pass$/m, 'the real sops decrypts it');
  await run(sops, ['set', sopsFile, '["DB_PASS"]', '"changed-by-sops"'], { env: sopsEnv });
  t.match((await run(sops, ['decrypt', sopsFile], { env: sopsEnv })).stdout, /^DB_PASS: changed-by-sops$/m, 'the real sops edits it');

  const other = path.join(dir, 'other');
  await cp(path.join(repo, 'beta'), path.join(other, 'beta'), { recursive: true });
  await git(other, 'init', '-q');
  const second = await runCoffre(['-C', other, 'init'], env);
  t.equal(second.code, 0, second.stderr);
  const after = await readFile(keyFile, 'utf8');
  t.ok(after.startsWith(before), 'the existing key is kept');
  t.equal(after.match(/^AGE-SECRET-KEY-1/gm)?.length, 2, 'a second key appended');
  t.equal((await stat(keyFile)).mode & 0o777, 0o600);
});

t.test('init refuses an existing coffre.yaml and a key file inside the repo', async (t) => {
  const dir = t.testdir({
    home: {},
    has: { 'coffre.yaml': 'version: 1\n', app: { 'docker-compose.yml': 'services:\n  a:\n    env_file: a.secrets\n' } },
    fresh: { app: { 'docker-compose.yml': 'services:\n  a:\n    env_file: a.secrets\n' } },
  });
  const env = envFor(path.join(dir, 'home'));
  const exists = await runCoffre(['-C', path.join(dir, 'has'), 'init'], env);
  t.equal(exists.code, 2, 'usage error');
  t.match(exists.stderr, 'COFFRE_USAGE');
  t.match(exists.stderr, 'never overwrites');
  t.equal(await readFile(path.join(dir, 'has', 'coffre.yaml'), 'utf8'), 'version: 1\n', 'untouched');
  await t.rejects(stat(path.join(dir, 'has', '.gitignore')), 'nothing else written');

  const fresh = path.join(dir, 'fresh');
  await git(fresh, 'init', '-q');
  const inside = await runCoffre(['-C', fresh, 'init', '--age-key-file', path.join(fresh, 'keys.txt')], env);
  t.equal(inside.code, 2);
  t.match(inside.stderr, 'inside the repo');
  // Through a symlink to the repo, too.
  await symlink(fresh, path.join(dir, 'home', 'link'));
  const linked = await runCoffre(['-C', fresh, 'init', '--age-key-file', path.join(dir, 'home', 'link', 'sub', 'keys.txt')], env);
  t.equal(linked.code, 2, 'a key path reaching the repo through a symlink is refused');
  t.match(linked.stderr, 'inside the repo');
  for (const name of ['coffre.yaml', '.gitignore', '.sops.yaml', 'keys.txt', 'sub']) await t.rejects(stat(path.join(fresh, name)), `${name} not written`);
  t.notMatch(exists.stdout + exists.stderr + inside.stdout + inside.stderr, 'AGE-SECRET-KEY');
});
