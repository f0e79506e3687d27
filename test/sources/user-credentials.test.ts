// Keys and tokens where users already keep them for sops and the bao/vault CLI: sops' default age key file
// (read in addition to SOPS_AGE_KEY(_FILE), as sops 3.8+ does), `~/.vault-token` written by `bao login`,
// BAO_NAMESPACE / VAULT_NAMESPACE, and an empty BAO_ADDR treated as unset. Against the real OpenBao of the
// test run and files made by the real sops binary; HOME / XDG_CONFIG_HOME come from the env object given.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { coffreFailure } from '../support/coffre-failure.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

const run = promisify(execFile);

const failure = coffreFailure;

async function tempDir(t: { teardown(fn: () => unknown): void }, name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `coffre-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test("sops' default age key file: XDG_CONFIG_HOME, else HOME/.config, read in addition to SOPS_AGE_KEY_FILE (as sops does)", async (t) => {
  const root = await tempDir(t, 'age-default');
  const home = await tempDir(t, 'home');
  const right = await newAgeKey();
  const wrong = await newAgeKey();
  const file = path.join(root, 'app.sops.yaml');
  await writeSopsFile(file, 'DB_PASS: planted-value\n', right);
  const wrongFile = path.join(root, 'wrong.txt');
  await writeFile(wrongFile, `${wrong.identity}\n`);
  const xdg = path.join(home, 'xdg');
  for (const dir of [path.join(xdg, 'sops', 'age'), path.join(home, '.config', 'sops', 'age')]) await mkdir(dir, { recursive: true });
  await writeFile(path.join(xdg, 'sops', 'age', 'keys.txt'), `# created by age-keygen\n${right.identity}\n`);
  await writeFile(path.join(home, '.config', 'sops', 'age', 'keys.txt'), `${right.identity}\n`);
  const ref = { kind: 'sops', file, format: 'yaml' } as const;

  // The real sops agrees: a wrong SOPS_AGE_KEY_FILE does not hide the default file's key.
  const sopsEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: xdg, SOPS_AGE_KEY_FILE: wrongFile };
  t.match((await run(toolPath('sops'), ['decrypt', file], { env: sopsEnv })).stdout, /DB_PASS: planted-value/, 'sops itself decrypts');

  const cases = [
    { name: 'XDG_CONFIG_HOME plus a wrong SOPS_AGE_KEY_FILE', env: { HOME: home, XDG_CONFIG_HOME: xdg, SOPS_AGE_KEY_FILE: wrongFile }, count: 2 },
    { name: 'XDG_CONFIG_HOME plus a wrong SOPS_AGE_KEY', env: { HOME: home, XDG_CONFIG_HOME: xdg, SOPS_AGE_KEY: wrong.identity }, count: 2 },
    { name: 'HOME/.config when XDG_CONFIG_HOME is unset', env: { HOME: home }, count: 1 },
    { name: 'HOME/.config when XDG_CONFIG_HOME is empty', env: { HOME: home, XDG_CONFIG_HOME: '' }, count: 1 },
  ];
  for (const c of cases) {
    const workspace = await openWorkspace({ root, env: c.env });
    t.teardown(() => workspace.close());
    t.equal(workspace.identityCount, c.count, `${c.name}: identities counted`);
    t.same(Object.fromEntries((await workspace.sources.sops!.readValues(ref))!.values), { DB_PASS: 'planted-value' }, `${c.name}: decrypts`);
  }

  // Like Go's os.UserConfigDir: a set XDG_CONFIG_HOME without the file does not fall back to HOME; a relative one gives none.
  for (const env of [{ HOME: home, XDG_CONFIG_HOME: path.join(home, 'nowhere') }, { HOME: home, XDG_CONFIG_HOME: 'xdg' }]) {
    const workspace = await openWorkspace({ root, env });
    t.teardown(() => workspace.close());
    t.equal(workspace.identityCount, 0, `XDG_CONFIG_HOME=${env.XDG_CONFIG_HOME}: no identity`);
  }

  // A default file with a bad line is refused naming the file, never quoting it.
  const bad = path.join(home, 'bad');
  await mkdir(path.join(bad, 'sops', 'age'), { recursive: true });
  await writeFile(path.join(bad, 'sops', 'age', 'keys.txt'), `${right.identity.slice(0, 40)}\n`);
  const error = await failure(openWorkspace({ root, env: { XDG_CONFIG_HOME: bad } }));
  t.equal(error.code, 'COFFRE_AGE_IDENTITY_INVALID');
  t.match(error.message, path.join(bad, 'sops', 'age', 'keys.txt'));
  t.notOk(error.message.includes(right.identity.slice(16, 40)), 'the key text is not quoted');

  // A named key file that does not exist is refused (only sops' default one may be absent).
  const missing = path.join(home, 'no-such-keys.txt');
  const absent = await failure(openWorkspace({ root, env: { HOME: home, SOPS_AGE_KEY_FILE: missing } }));
  t.equal(absent.code, 'COFFRE_AGE_IDENTITY_INVALID');
  t.match(absent.message, `${missing}: ENOENT`);
});

t.test('~/.vault-token (bao login): used without BAO_TOKEN/VAULT_TOKEN/*_TOKEN_FILE; a token variable or file variable wins', async (t) => {
  const bao = await sharedOpenBao(t);
  const root = await tempDir(t, 'vault-token-helper');
  const home = await tempDir(t, 'home');
  const value = `planted-${randomBytes(8).toString('hex')}`;
  const secretPath = `${bao.prefix}/app/db`;
  t.equal((await bao.vaultHttp('POST', `secret/data/${secretPath}`, { data: { DB_PASS: value } })).status, 200);
  const token = await bao.tokenWithPolicies(['coffre-host']);
  const ref = { kind: 'vault', mount: 'secret', path: secretPath } as const;

  // Written as the real CLI writes it: `bao login` with HOME pointing at the temp home.
  await run(toolPath('bao'), ['login', '-no-print', token], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, BAO_ADDR: bao.address } });
  const helper = await failure(openWorkspace({ root, env: { BAO_ADDR: bao.address, HOME: path.join(home, 'absent') } }));
  t.equal(helper.code, 'COFFRE_SOURCE_AUTH', 'no ~/.vault-token: no token');
  t.match(helper.message, /bao login/);

  const workspace = await openWorkspace({ root, env: { BAO_ADDR: bao.address, HOME: home } });
  t.teardown(() => workspace.close());
  t.same(Object.fromEntries((await workspace.vault!.readValues(ref))!.values), { DB_PASS: value }, 'read with the token of bao login');

  // The env token wins over the file, as in the bao CLI: a file holding a useless token is not used.
  await writeFile(path.join(home, '.vault-token'), 'not-a-valid-token');
  const direct = await openWorkspace({ root, env: { BAO_ADDR: bao.address, HOME: home, VAULT_TOKEN: token } });
  t.teardown(() => direct.close());
  t.ok(await direct.vault!.readValues(ref), 'VAULT_TOKEN wins over ~/.vault-token');
  const tokenFile = path.join(root, 'token');
  await writeFile(tokenFile, token);
  const fromFile = await openWorkspace({ root, env: { BAO_ADDR: bao.address, HOME: home, BAO_TOKEN_FILE: tokenFile } });
  t.teardown(() => fromFile.close());
  t.ok(await fromFile.vault!.readValues(ref), 'BAO_TOKEN_FILE wins over ~/.vault-token');

  // A helper file that is not one token is refused without quoting it.
  await writeFile(path.join(home, '.vault-token'), `${value}\nsecond\n`);
  const garbled = await failure(openWorkspace({ root, env: { BAO_ADDR: bao.address, HOME: home } }));
  t.equal(garbled.code, 'COFFRE_SOURCE_AUTH');
  t.match(garbled.message, `${path.join(home, '.vault-token')} does not hold one token`);
  t.notOk(garbled.message.includes(value));
});

t.test('an empty BAO_ADDR counts as unset: VAULT_ADDR is used, or no Vault at all', async (t) => {
  const bao = await sharedOpenBao(t);
  const root = await tempDir(t, 'empty-addr');
  const through = await openWorkspace({ root, env: { BAO_ADDR: '', VAULT_ADDR: bao.address, BAO_TOKEN: '', VAULT_TOKEN: bao.rootToken } });
  t.teardown(() => through.close());
  t.ok(through.vault, 'VAULT_ADDR used');
  t.equal((await through.vault!.readValues({ kind: 'vault', mount: 'secret', path: `${bao.prefix}/nothing` })), null, 'and VAULT_TOKEN behind an empty BAO_TOKEN works');
  const none = await openWorkspace({ root, env: { BAO_ADDR: '' } });
  t.teardown(() => none.close());
  t.equal(none.vault, null, 'no Vault');
});

t.test('BAO_NAMESPACE / VAULT_NAMESPACE fill the namespace when coffre.yaml has none (BAO_ wins; the config wins over both)', async (t) => {
  const bao = await sharedOpenBao(t);
  const root = await tempDir(t, 'namespace');
  const ns = `ns${randomBytes(4).toString('hex')}`;
  const call = async (method: string, apiPath: string, body: unknown, namespace?: string): Promise<number> => {
    const response = await fetch(`${bao.address}/v1/${apiPath}`, {
      method,
      headers: { 'X-Vault-Token': bao.rootToken, 'content-type': 'application/json', ...(namespace ? { 'X-Vault-Namespace': namespace } : {}) },
      body: JSON.stringify(body),
    });
    await response.arrayBuffer();
    return response.status;
  };
  t.ok([200, 204].includes(await call('POST', `sys/namespaces/${ns}`, {})), 'namespace created');
  t.ok([200, 204].includes(await call('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }, ns)), 'kv mounted in it');
  let written = 0;
  for (let i = 0; i < 50 && ![200, 204].includes(written); i++) {
    written = await call('POST', `secret/data/${bao.prefix}/app`, { data: { IN_NS: 'yes' } }, ns);
    if (![200, 204].includes(written)) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(written, 200, 'written in the namespace');
  const ref = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/app` } as const;
  const read = async (env: Record<string, string>): Promise<unknown> => {
    const workspace = await openWorkspace({ root, env: { BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken, ...env } });
    t.teardown(() => workspace.close());
    const snapshot = await workspace.vault!.readValues(ref);
    return snapshot ? Object.fromEntries(snapshot.values) : null;
  };
  t.same(await read({ BAO_NAMESPACE: ns }), { IN_NS: 'yes' }, 'BAO_NAMESPACE');
  t.same(await read({ VAULT_NAMESPACE: ns }), { IN_NS: 'yes' }, 'VAULT_NAMESPACE');
  t.same(await read({ BAO_NAMESPACE: ns, VAULT_NAMESPACE: 'elsewhere' }), { IN_NS: 'yes' }, 'BAO_NAMESPACE wins');
  t.same(await read({ BAO_NAMESPACE: '', VAULT_NAMESPACE: ns }), { IN_NS: 'yes' }, 'an empty BAO_NAMESPACE falls through');
  t.equal(await read({}), null, 'without a namespace: the root namespace, where it is not');
  await writeFile(path.join(root, 'coffre.yaml'), `vault:\n  namespace: ${ns}\n`);
  t.same(await read({ BAO_NAMESPACE: 'elsewhere' }), { IN_NS: 'yes' }, 'coffre.yaml wins over BAO_NAMESPACE');
});
