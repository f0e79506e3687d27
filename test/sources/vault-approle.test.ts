// AppRole login against a real OpenBao: the source logs in on first use with role_id/secret_id, then reads
// with the login token (not any other); wrong credentials give COFFRE_SOURCE_AUTH without echoing them.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao, type SharedOpenBao } from '../support/openbao.js';
import { expectCoffreError } from './vault-expect.js';

/** Enables AppRole at a mount unique to this test, with a role bound to `policies`. */
async function appRole(bao: SharedOpenBao, policies: string[]): Promise<{ mount: string; roleId: string; secretId: string }> {
  const mount = `approle-${bao.prefix}`;
  for (const name of policies) await bao.tokenWithPolicies([name]); // loads policies/<name>.hcl once
  const ok = (status: number, what: string): void => {
    if (status !== 200 && status !== 204) throw new Error(`AppRole setup: ${what} answered ${status}`);
  };
  ok((await bao.vaultHttp('POST', `sys/auth/${mount}`, { type: 'approle' })).status, 'enable');
  ok(
    (await bao.vaultHttp('POST', `auth/${mount}/role/coffre`, { token_policies: policies, token_ttl: '20m', token_max_ttl: '1h' }))
      .status,
    'role',
  );
  const roleId = (await bao.vaultHttp('GET', `auth/${mount}/role/coffre/role-id`)).body.data.role_id as string;
  // Single-use: a second login with it would fail, so any later success proves the source logged in once.
  const secretId = (await bao.vaultHttp('POST', `auth/${mount}/role/coffre/secret-id`, { num_uses: 1 })).body.data.secret_id as string;
  return { mount, roleId, secretId };
}

t.test('AppRole: logs in once with a single-use secret_id and reads with the login token', async (t) => {
  const bao = await sharedOpenBao(t);
  const { mount, roleId, secretId } = await appRole(bao, ['coffre-host']);
  t.teardown(() => bao.vaultHttp('DELETE', `sys/auth/${mount}`));
  const value = `planted-${randomBytes(8).toString('hex')}`;
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/app` };
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { TOKEN: value } });

  const source = createVaultSource({ address: bao.address, auth: { method: 'approle', roleId, secretId, mount } });
  t.teardown(() => source.close());
  const [listing, snapshot] = await Promise.all([source.listKeys(ref), source.readValues(ref)]);
  t.same([...listing!.keys.keys()], ['TOKEN']);
  t.equal(snapshot!.values.get('TOKEN'), value);
  const health = await source.health();
  t.ok(health.tokenTtlSeconds! > 1000 && health.tokenTtlSeconds! <= 1200, `login token ttl ${health.tokenTtlSeconds} (role token_ttl 20m)`);

  // The role's policy is host (read-only): a write with the login token is denied, proving no root token is used.
  await expectCoffreError(t, source.writeValues(ref, { TOKEN: 'x' }, 1), 'COFFRE_SOURCE_DENIED', [value, secretId]);
  const other: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/other` };
  t.equal(await source.readValues(other), null, 'later reads reuse the login (the secret_id was single-use)');
  const again = await bao.vaultHttp('POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secretId }, '');
  t.equal(again.status, 400, 'the single-use secret_id is spent, so the source logged in exactly once');
});

t.test('AppRole: a wrong secret_id or role_id gives COFFRE_SOURCE_AUTH naming neither', async (t) => {
  const bao = await sharedOpenBao(t);
  const { mount, roleId, secretId } = await appRole(bao, ['coffre-host']);
  t.teardown(() => bao.vaultHttp('DELETE', `sys/auth/${mount}`));
  const wrongSecret = randomBytes(16).toString('hex');
  const wrongRole = randomBytes(16).toString('hex');
  const cases = [
    { name: 'wrong secret_id', roleId, secretId: wrongSecret },
    { name: 'wrong role_id', roleId: wrongRole, secretId },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const source = createVaultSource({ address: bao.address, auth: { method: 'approle', roleId: c.roleId, secretId: c.secretId, mount } });
      t.teardown(() => source.close());
      const e = await expectCoffreError(t, source.listKeys({ kind: 'vault', mount: 'secret', path: `${bao.prefix}/x` }), 'COFFRE_SOURCE_AUTH', [
        c.roleId,
        c.secretId,
        roleId,
        secretId,
      ]);
      t.match(e.message, `auth/${mount}`);
      await expectCoffreError(t, source.health(), 'COFFRE_SOURCE_AUTH', [c.roleId, c.secretId]);
    });
  }
  t.test('empty credentials are refused before any request', async (t) => {
    t.throws(() => createVaultSource({ address: bao.address, auth: { method: 'approle', roleId: '', secretId } }), {
      code: 'COFFRE_SOURCE_AUTH',
    });
  });
});
