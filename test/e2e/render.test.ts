// End-to-end `coffre render` through the CLI, on real sops files (made by the sops binary) and a real
// OpenBao: byte-exact output, fail-closed refusals, sealed/unreachable Vault mid-service, and no value in
// any output.
import { execFile } from 'node:child_process';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseEnvFile } from '../../src/core/env-file.js';
import { composeRead, composeReads } from '../support/compose-oracle.js';
import { sharedOpenBao, startOpenBao, vaultHttp } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { runCoffre } from '../support/run-cli.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

const coffre = runCoffre;

async function gitInit(dir: string): Promise<void> {
  await exec('git', ['init', '-q', dir]);
}

/**
 * What docker compose reads from a rendered file: compose-go's own env_file loading (test/oracle), which
 * coffre's compose-exact parser must agree with.
 */
async function readRendered(file: string): Promise<Record<string, string | null>> {
  const text = await readFile(file, 'utf8');
  const coffre = Object.fromEntries(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value]));
  const compose = await composeRead(file);
  if (JSON.stringify(coffre) !== JSON.stringify(Object.fromEntries(Object.keys(coffre).map((k) => [k, compose[k]]))) || Object.keys(compose).length !== Object.keys(coffre).length) {
    throw new Error(`${file}: coffre's parser and docker compose read it differently`);
  }
  return compose;
}

t.test('renders the demo repo: complete services written 0600 and byte-exact, the incomplete one refused', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await gitInit(dir);
  const result = await coffre(['-C', dir, 'render', '--all']);
  t.equal(result.code, 1, 'exit 1: etherpad refused as incomplete');
  t.match(result.stdout, /etherpad: REFUSED/);
  const db = path.join(dir, 'mattermost', 'secrets', 'db.secrets');
  t.equal((await stat(db)).mode & 0o777, 0o600);
  t.same(await readRendered(db), { POSTGRES_USER: 'mattermost', POSTGRES_PASSWORD: 'demo-Only$pa"ss #1', POSTGRES_DB: 'mattermost' });
  const rendered = ['mattermost/secrets/db.secrets', 'mattermost/secrets/app.secrets', 'website/secrets/deploy.secrets'];
  const readings = await composeReads(rendered.map((rel) => path.join(dir, rel)));
  for (const [i, rel] of rendered.entries()) {
    const text = await readFile(path.join(dir, rel), 'utf8');
    const intended = Object.fromEntries(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value]));
    t.ok(Object.keys(intended).length > 0, `${rel} rendered`);
    t.same(readings[i], { env: intended }, `docker compose reads ${rel} as coffre does`);
  }
  await t.rejects(stat(path.join(dir, 'etherpad', 'secrets', 'etherpad.secrets')), { code: 'ENOENT' }, 'nothing written for etherpad');
  const before = (await stat(db)).mtimeMs;
  const again = await coffre(['-C', dir, 'render', 'mattermost', 'website']);
  t.equal(again.code, 0);
  t.match(again.stdout, /mattermost: unchanged/);
  t.equal((await stat(db)).mtimeMs, before, 'an unchanged target is not touched');
});

t.test('refuses a target git does not ignore, naming the .gitignore line, and writes nothing', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await writeFile(path.join(dir, '.gitignore'), '# nothing ignored\n');
  await gitInit(dir);
  const result = await coffre(['-C', dir, 'render', 'website', '--format', 'json']);
  t.equal(result.code, 4);
  const report = JSON.parse(result.stdout);
  t.equal(report.services[0].error.code, 'COFFRE_TARGET_NOT_IGNORED');
  t.match(report.services[0].error.message, /website\/secrets\/deploy\.secrets/);
  await t.rejects(stat(path.join(dir, 'website', 'secrets', 'deploy.secrets')), { code: 'ENOENT' });
});

const hostile = {
  DB_PASS: 'p$a"s\'s\\w#o ${HOME} $$ `x`\t é 😀',
  MULTI: 'line1\nline2\r\nline3',
  SPACES: '  leading and trailing  ',
  HASH: 'value # not a comment',
  EQUALS: 'a=b=c',
};

t.test('a Vault-backed service renders hostile values that compose reads back identically', async (t) => {
  const bao = await sharedOpenBao(t);
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n',
      secrets: { 'app.secrets.example': Object.keys(hostile).map((k) => `${k}=\n`).join('') },
    },
  });
  await gitInit(dir);
  const token = await bao.tokenWithPolicies(['coffre-host']);
  t.equal((await bao.vaultHttp('POST', `secret/data/${bao.prefix}/app/app`, { data: hostile })).status, 200);
  const result = await coffre(['-C', dir, 'render', 'app'], { VAULT_ADDR: bao.address, VAULT_TOKEN: token });
  t.equal(result.code, 0, result.stderr);
  t.same(await readRendered(path.join(dir, 'app', 'secrets', 'app.secrets')), hostile);
  for (const value of Object.values(hostile)) t.notOk(result.stdout.includes(value) || result.stderr.includes(value), 'no value printed');
});

t.test('sealed or unreachable OpenBao mid-service: nothing written, previous targets intact', async (t) => {
  const bao = await startOpenBao();
  t.teardown(() => bao.stop());
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    chat: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [./secrets/a.secrets, ./secrets/b.secrets]\n',
      secrets: { 'a.secrets.example': 'A_TOKEN=\n', 'b.secrets.example': 'B_PASS=\n' },
    },
  });
  await gitInit(dir);
  await writeSopsFile(path.join(dir, 'chat', 'secrets', 'a.secrets.sops.yaml'), 'A_TOKEN: sops-old\n', key);
  await vaultHttp(bao.address, bao.rootToken, 'POST', 'secret/data/chat/b', { data: { B_PASS: 'vault-old' } });
  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity };
  t.equal((await coffre(['-C', dir, 'render', 'chat'], env)).code, 0, 'first render');
  const a = path.join(dir, 'chat', 'secrets', 'a.secrets');
  const b = path.join(dir, 'chat', 'secrets', 'b.secrets');
  const before = { a: await readFile(a, 'utf8'), b: await readFile(b, 'utf8') };

  // New values on both sides, then the Vault half becomes unreadable.
  await writeSopsFile(path.join(dir, 'chat', 'secrets', 'a.secrets.sops.yaml'), 'A_TOKEN: sops-new\n', key);
  await vaultHttp(bao.address, bao.rootToken, 'POST', 'secret/data/chat/b', { data: { B_PASS: 'vault-new' } });
  await bao.seal();
  const sealed = await coffre(['-C', dir, 'render', 'chat', '--format', 'json'], env);
  t.equal(sealed.code, 3, 'sealed → exit 3');
  t.equal(JSON.parse(sealed.stdout).services[0].error.code, 'COFFRE_SOURCE_SEALED');
  t.same({ a: await readFile(a, 'utf8'), b: await readFile(b, 'utf8') }, before, 'sealed: both targets unchanged');

  await bao.stop();
  const down = await coffre(['-C', dir, 'render', 'chat', '--format', 'json'], env);
  t.equal(down.code, 3, 'unreachable → exit 3');
  t.equal(JSON.parse(down.stdout).services[0].error.code, 'COFFRE_SOURCE_UNREACHABLE');
  t.same({ a: await readFile(a, 'utf8'), b: await readFile(b, 'utf8') }, before, 'unreachable: both targets unchanged');
  for (const output of [sealed.stdout, sealed.stderr, down.stdout, down.stderr]) {
    for (const value of ['sops-old', 'sops-new', 'vault-old', 'vault-new']) t.notOk(output.includes(value), `${value} not printed`);
  }
});

t.test('an incomplete source refuses the whole service with every problem listed, and --force-incomplete is loud', async (t) => {
  const bao = await sharedOpenBao(t);
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    pad: {
      'docker-compose.yml': 'services:\n  pad:\n    image: pad\n    env_file: ./secrets/pad.secrets\n',
      secrets: { 'pad.secrets.example': 'ADMIN_PASSWORD=changeme\nSESSION_KEY=\n# @optional\nSMTP=\n' },
    },
  });
  await gitInit(dir);
  await bao.vaultHttp('POST', `secret/data/${bao.prefix}/pad/pad`, { data: { ADMIN_PASSWORD: 'changeme' } });
  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken };
  const refused = await coffre(['-C', dir, 'render', 'pad', '--format', 'json'], env);
  t.equal(refused.code, 1);
  const service = JSON.parse(refused.stdout).services[0];
  t.equal(service.status, 'refused');
  t.same(service.problems.map((p: { key: { name: string; status: string } }) => `${p.key.status}:${p.key.name}`), ['placeholder:ADMIN_PASSWORD', 'missing:SESSION_KEY']);
  await t.rejects(stat(path.join(dir, 'pad', 'secrets', 'pad.secrets')), { code: 'ENOENT' });
  const forced = await coffre(['-C', dir, 'render', 'pad'], env);
  t.equal(forced.code, 1, 'still refused without the flag');
  const loud = await coffre(['-C', dir, 'render', 'pad', '--force-incomplete'], env);
  t.equal(loud.code, 0);
  t.match(loud.stderr, /WARNING: --force-incomplete/);
  t.match(loud.stdout, /FORCED/);
});

t.test('the built binary renders and checks the demo repo (dry run prints key names only)', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await gitInit(dir);
  const bin = path.join(projectRoot, 'bin', 'coffre.js');
  const plan = await exec(process.execPath, [bin, '-C', dir, 'render', 'mattermost', '--dry-run'], { env: { PATH: process.env.PATH } });
  t.match(plan.stdout, /create\s+mattermost\/secrets\/db\.secrets/);
  t.match(plan.stdout, /\+ POSTGRES_PASSWORD/);
  t.notOk(plan.stdout.includes('demo-Only'), 'no value in the plan');
  await t.rejects(stat(path.join(dir, 'mattermost', 'secrets', 'db.secrets')), { code: 'ENOENT' }, 'dry run writes nothing');
  const check = await exec(process.execPath, [bin, 'check', '-C', dir, '--format', 'json']).catch((error: { code: number; stdout: string }) => error);
  t.equal((check as { code?: number }).code, 1, 'check exits 1 on the demo');
  t.equal(JSON.parse((check as { stdout: string }).stdout).summary.incomplete, 1);
});
