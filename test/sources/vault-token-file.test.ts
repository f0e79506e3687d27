// The Vault token from a file (BAO_TOKEN_FILE / VAULT_TOKEN_FILE): how docker compose secrets and systemd
// credentials (`$CREDENTIALS_DIRECTORY/…`) hand it over, instead of an environment variable that `docker
// inspect` or /proc/<pid>/environ would show. Against the real OpenBao of the test run.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { coffreFailure } from '../support/coffre-failure.js';
import { openVaultSession, openWorkspace } from '../../src/use-cases/workspace.js';
import { sharedOpenBao } from '../support/openbao.js';

const failure = coffreFailure;

t.test('BAO_TOKEN_FILE / VAULT_TOKEN_FILE: the token is read from the file, trimmed; BAO_TOKEN wins', async (t) => {
  const bao = await sharedOpenBao(t);
  const root = await mkdtemp(path.join(os.tmpdir(), 'coffre-token-file-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const value = `planted-${randomBytes(8).toString('hex')}`;
  const secretPath = `${bao.prefix}/app/db`;
  t.equal((await bao.vaultHttp('POST', `secret/data/${secretPath}`, { data: { DB_PASS: value } })).status, 200);
  const token = await bao.tokenWithPolicies(['coffre-host']);
  const tokenFile = path.join(root, 'vault-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  for (const variable of ['BAO_TOKEN_FILE', 'VAULT_TOKEN_FILE']) {
    const workspace = await openWorkspace({ root, env: { BAO_ADDR: bao.address, [variable]: tokenFile } });
    t.teardown(() => workspace.close());
    const read = await workspace.vault!.readValues({ kind: 'vault', mount: 'secret', path: secretPath });
    t.same(Object.fromEntries(read!.values), { DB_PASS: value }, `${variable}: read with the token from the file`);
  }

  // coffre serve's long-lived session takes the same route.
  const session = await openVaultSession({ root, env: { BAO_ADDR: bao.address, BAO_TOKEN_FILE: 'vault-token' } });
  t.ok(session, 'a relative file name is relative to the repo root');
  session?.close();

  // A token variable wins over a file (the file is not even read: it does not exist here).
  const direct = await openWorkspace({ root, env: { BAO_ADDR: bao.address, BAO_TOKEN: token, BAO_TOKEN_FILE: path.join(root, 'absent') } });
  t.teardown(() => direct.close());
  t.ok(await direct.vault!.readValues({ kind: 'vault', mount: 'secret', path: secretPath }), 'BAO_TOKEN wins');
});

t.test('a missing, empty or multi-line token file is a named COFFRE_SOURCE_AUTH error that never quotes the file', async (t) => {
  const bao = await sharedOpenBao(t);
  const root = await mkdtemp(path.join(os.tmpdir(), 'coffre-token-file-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const absent = path.join(root, 'absent');
  const missing = await failure(openWorkspace({ root, env: { BAO_ADDR: bao.address, BAO_TOKEN_FILE: absent } }));
  t.equal(missing.code, 'COFFRE_SOURCE_AUTH');
  t.match(missing.message, `cannot read Vault token (BAO_TOKEN_FILE) file ${absent}: ENOENT`);

  const planted = `planted-${randomBytes(8).toString('hex')}`;
  for (const [name, text] of [['empty', '\n'], ['two-lines', `${planted}\nsecond-${planted}\n`], ['spaced', `${planted} ${planted}`]] as const) {
    const file = path.join(root, name);
    await writeFile(file, text);
    const error = await failure(openWorkspace({ root, env: { BAO_ADDR: bao.address, VAULT_TOKEN_FILE: file } }));
    t.equal(error.code, 'COFFRE_SOURCE_AUTH', name);
    t.match(error.message, `the Vault token file ${file} (VAULT_TOKEN_FILE) does not hold one token`);
    t.notOk(error.message.includes(planted), `${name}: the file's content is not quoted`);
  }

  const none = await failure(openWorkspace({ root, env: { BAO_ADDR: bao.address } }));
  t.match(none.message, /no token: set BAO_TOKEN or VAULT_TOKEN, BAO_TOKEN_FILE or VAULT_TOKEN_FILE/);
});
