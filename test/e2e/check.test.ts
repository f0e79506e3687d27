// End-to-end `coffre check`: the CLI in-process on real sops files (made by the sops binary) and a real
// OpenBao, every report status and format, plus the canary test: planted values never appear in any output.
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function coffre(argv: string[], env: Record<string, string | undefined> = {}, cwd = projectRoot): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    cwd,
  });
  return { code, stdout, stderr };
}

t.test('the demo repo: etherpad is incomplete with its missing, placeholder and extra keys named at their example lines', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  const result = await coffre(['-C', dir, 'check', '--format', 'json']);
  t.equal(result.code, 1, 'exit 1: incomplete');
  const report = JSON.parse(result.stdout);
  t.equal(report.version, 1);
  t.equal(report.complete, false);
  const byService = Object.fromEntries(report.services.map((s: { name: string }) => [s.name, s]));
  t.same(Object.keys(byService).sort(), ['etherpad', 'mattermost', 'website']);
  for (const name of ['mattermost', 'website']) {
    for (const file of byService[name].files) t.equal(file.status, 'complete', `${name} ${file.target} complete`);
  }
  const pad = byService.etherpad.files[0];
  t.equal(pad.status, 'incomplete');
  t.equal(pad.target, 'etherpad/secrets/etherpad.secrets');
  t.same(pad.source, { kind: 'sops', ref: 'etherpad/secrets/etherpad.secrets.sops.env' });
  const keys = Object.fromEntries(pad.keys.map((k: { name: string }) => [k.name, k]));
  t.match(keys.DB_PASS, { status: 'missing', line: 5 });
  t.match(keys.ADMIN_PASSWORD, { status: 'placeholder', line: 2 });
  t.match(keys.SESSION_KEY, { status: 'ok' });
  t.match(keys.DEFAULT_PAD_TEXT, { status: 'ok' }, '@allow-empty makes an empty value ok');
  t.match(keys.OLD_API_KEY, { status: 'extra', line: null });
});

t.test('keys-only on the demo repo needs no age key and still finds the missing key', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await writeFile(path.join(dir, 'coffre.yaml'), 'version: 1\n');
  const result = await coffre(['-C', dir, 'check', '--keys-only', '--format', 'json', '--service', 'etherpad']);
  t.equal(result.code, 1);
  const report = JSON.parse(result.stdout);
  t.equal(report.keysOnly, true);
  const keys = Object.fromEntries(report.services[0].files[0].keys.map((k: { name: string; status: string }) => [k.name, k.status]));
  t.equal(keys.DB_PASS, 'missing');
  t.equal(keys.OLD_API_KEY, 'extra');
  t.equal(keys.SESSION_KEY, 'ok');
});

t.test('without any age key, a value check of sops files fails with a named error and exit 3', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await writeFile(path.join(dir, 'coffre.yaml'), 'version: 1\n');
  const result = await coffre(['-C', dir, 'check', '--format', 'json', '--service', 'website']);
  t.equal(result.code, 3);
  const file = JSON.parse(result.stdout).services[0].files[0];
  t.equal(file.status, 'error');
  t.equal(file.error.code, 'COFFRE_SOPS_NO_KEY');
});

t.test('an unknown service is a usage error (exit 2) naming the known services', async (t) => {
  const result = await coffre(['-C', 'examples/infra', 'check', '--service', 'nope']);
  t.equal(result.code, 2);
  t.match(result.stderr, /COFFRE_SERVICE_UNKNOWN.*nope.*etherpad/);
});

t.test('a malformed example is reported with file:line and exit 2, other files still checked', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await writeFile(path.join(dir, 'website', 'secrets', 'deploy.secrets.example'), '# token\nWEBHOOK TOKEN=\n');
  const result = await coffre(['-C', dir, 'check']);
  t.equal(result.code, 2);
  t.match(result.stdout, /website\/secrets\/deploy\.secrets\.example:2/);
  t.match(result.stdout, /mattermost/);
});

// The canary: unique values planted in OpenBao and in sops files must never appear in any output.
t.test('canary: no planted value appears in any output of check, in every format and mode', async (t) => {
  const bao = await sharedOpenBao(t);
  const key = await newAgeKey();
  const canaries = {
    vaultUser: `canary-vault-user-${Math.random().toString(36).slice(2)}`,
    vaultPass: `canary-vault-pass-${Math.random().toString(36).slice(2)}`,
    sopsToken: `canary-sops-token-${Math.random().toString(36).slice(2)}`,
    placeholderish: 'changeme',
  };
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    chat: {
      'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'DB_USER=chat\nDB_PASS=changeme\nDB_MISSING=\nDB_EMPTY=\nDB_PLACE=<set me>\n' },
    },
    pad: {
      'docker-compose.yml': 'services:\n  pad:\n    image: pad\n    env_file: [./secrets/pad.secrets]\n',
      secrets: { 'pad.secrets.example': 'PAD_TOKEN=\n' },
    },
    gone: {
      'docker-compose.yml': 'services:\n  x:\n    image: x\n    env_file: ./secrets/x.secrets\n',
      secrets: { 'x.secrets.example': 'X=\n' },
    },
  });
  await mkdir(path.join(dir, 'pad', 'secrets'), { recursive: true });
  await writeSopsFile(path.join(dir, 'pad', 'secrets', 'pad.secrets.sops.yaml'), `PAD_TOKEN: ${canaries.sopsToken}\nPAD_EXTRA: ${canaries.sopsToken}-x\n`, key);
  const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/chat/db`, { data: { DB_USER: canaries.vaultUser, DB_PASS: canaries.vaultPass, DB_EMPTY: '', DB_PLACE: '<set me>', DB_OLD: canaries.vaultPass } });
  t.equal(put.status, 200, 'secret written to OpenBao');

  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity };
  const outputs: string[] = [];
  for (const format of ['text', 'json', 'junit']) {
    for (const keysOnly of [false, true]) {
      const result = await coffre(['-C', dir, 'check', '--format', format, ...(keysOnly ? ['--keys-only'] : [])], env);
      t.equal(result.code, 1, `${format}${keysOnly ? ' keys-only' : ''}: incomplete`);
      outputs.push(result.stdout, result.stderr);
    }
  }
  const json = JSON.parse((await coffre(['-C', dir, 'check', '--format', 'json'], env)).stdout);
  const chat = json.services.find((s: { name: string }) => s.name === 'chat').files[0];
  t.same(
    Object.fromEntries(chat.keys.map((k: { name: string; status: string }) => [k.name, k.status])),
    { DB_USER: 'ok', DB_PASS: 'ok', DB_MISSING: 'missing', DB_EMPTY: 'empty', DB_PLACE: 'placeholder', DB_OLD: 'extra' },
    'every key status from real OpenBao',
  );
  t.equal(chat.source.ref, `secret/${bao.prefix}/chat/db`);
  t.equal(json.services.find((s: { name: string }) => s.name === 'gone').files[0].status, 'source-missing');
  const pad = json.services.find((s: { name: string }) => s.name === 'pad').files[0];
  t.equal(pad.status, 'complete');
  t.same(pad.keys.map((k: { name: string; status: string }) => `${k.name}:${k.status}`), ['PAD_TOKEN:ok', 'PAD_EXTRA:extra']);

  // CI: a coffre-ci policy token checks key names through subkeys, and is denied any value read.
  const ciToken = await bao.tokenWithPolicies(['coffre-ci']);
  const ciEnv = { VAULT_ADDR: bao.address, VAULT_TOKEN: ciToken, SOPS_AGE_KEY: key.identity };
  const ciKeys = await coffre(['-C', dir, 'check', '--keys-only', '--format', 'json', '--service', 'chat'], ciEnv);
  t.equal(ciKeys.code, 1, 'CI token: keys-only check runs (incomplete)');
  t.same(
    Object.fromEntries(JSON.parse(ciKeys.stdout).services[0].files[0].keys.map((k: { name: string; status: string }) => [k.name, k.status])),
    { DB_USER: 'ok', DB_PASS: 'ok', DB_MISSING: 'missing', DB_EMPTY: 'ok', DB_PLACE: 'ok', DB_OLD: 'extra' },
    'names only: emptiness and placeholders are not visible through subkeys',
  );
  const ciValues = await coffre(['-C', dir, 'check', '--format', 'json', '--service', 'chat'], ciEnv);
  t.equal(ciValues.code, 3, 'CI token reading values: exit 3');
  t.equal(JSON.parse(ciValues.stdout).services[0].files[0].error.code, 'COFFRE_SOURCE_DENIED');
  outputs.push(ciKeys.stdout, ciKeys.stderr, ciValues.stdout, ciValues.stderr);

  // Error paths too: a wrong token and an unreachable server.
  outputs.push((await coffre(['-C', dir, 'check'], { ...env, VAULT_TOKEN: 'hvs.not-a-token' })).stderr);
  const unreachable = await coffre(['-C', dir, 'check', '--format', 'json'], { ...env, VAULT_ADDR: 'http://127.0.0.1:9' });
  t.equal(unreachable.code, 3, 'unreachable OpenBao → exit 3');
  t.match(unreachable.stdout, /COFFRE_SOURCE_UNREACHABLE/);
  outputs.push(unreachable.stdout, unreachable.stderr);

  const all = outputs.join('\n');
  t.ok(all.length > 1000, 'outputs were captured');
  for (const [name, value] of Object.entries(canaries)) {
    if (name === 'placeholderish') continue;
    t.notOk(all.includes(value), `${name} never printed`);
  }
  t.notOk(all.includes(bao.rootToken), 'the token is never printed');
});
