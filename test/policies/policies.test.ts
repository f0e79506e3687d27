// The committed policies/*.hcl against a real OpenBao: each role can do exactly what its file says.
// CI lists key names through subkeys but never reads a value; the host reads but cannot write; the admin
// writes with check-and-set and soft-deletes, but cannot destroy.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao, type SharedOpenBao } from '../support/openbao.js';
import { projectRoot } from '../support/tools.js';
import { expectCoffreError } from '../sources/vault-expect.js';

const planted = (): string => `planted-${randomBytes(8).toString('hex')}`;

async function seed(bao: SharedOpenBao, name: string): Promise<{ ref: VaultRef; value: string }> {
  const value = planted();
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/${name}` };
  const r = await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { DB_USER: 'app', DB_PASS: value } });
  if (r.status !== 200) throw new Error(`seed ${name}: ${r.status}`);
  return { ref, value };
}

/** The HTTP status each raw operation gets with `token`. */
async function statuses(bao: SharedOpenBao, token: string, p: string): Promise<Record<string, number>> {
  const dir = p.slice(0, p.lastIndexOf('/'));
  const ops: Array<[string, string, string, unknown?]> = [
    ['read data', 'GET', `secret/data/${p}`],
    ['read subkeys', 'GET', `secret/subkeys/${p}`],
    ['read metadata', 'GET', `secret/metadata/${p}`],
    ['list metadata', 'LIST', `secret/metadata/${dir}/`],
    ['write data', 'POST', `secret/data/${p}`, { options: { cas: 1 }, data: { DB_USER: 'x' } }],
    ['delete latest', 'POST', `secret/delete/${p}`, { versions: [99] }],
    ['undelete', 'POST', `secret/undelete/${p}`, { versions: [99] }],
    ['destroy', 'POST', `secret/destroy/${p}`, { versions: [99] }],
    ['delete all', 'DELETE', `secret/metadata/${p}-absent`],
  ];
  const out: Record<string, number> = {};
  for (const [name, method, apiPath, body] of ops) out[name] = (await bao.vaultHttp(method, apiPath, body, token)).status;
  return out;
}

t.test('every committed policy loads and grants only KV v2 API paths on the secret mount', async (t) => {
  const bao = await sharedOpenBao(t);
  for (const name of ['coffre-ci', 'coffre-host', 'coffre-admin']) {
    const text = readFileSync(path.join(projectRoot, 'policies', `${name}.hcl`), 'utf8');
    const r = await bao.vaultHttp('PUT', `sys/policies/acl/${name}`, { policy: text });
    t.equal(r.status, 204, `${name} loads`);
    const paths = [...text.matchAll(/^path "([^"]+)"/gm)].map((m) => m[1]!);
    t.ok(paths.length > 0, `${name} has path rules`);
    t.ok(paths.every((p) => /^secret\/(data|subkeys|metadata|delete|undelete|config)(\/\*)?$/.test(p)), `${name}: ${paths.join(', ')}`);
    t.notOk(paths.some((p) => p.startsWith('secret/destroy')), `${name} never grants destroy`);
  }
});

t.test('coffre-ci lists key names via subkeys but gets 403 on data/', async (t) => {
  const bao = await sharedOpenBao(t);
  const { ref, value } = await seed(bao, 'apps/ci');
  const token = await bao.tokenWithPolicies(['coffre-ci']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const listing = await source.listKeys(ref);
  t.same([...listing!.keys.keys()].sort(), ['DB_PASS', 'DB_USER'], 'key names visible');
  t.equal(listing!.version, 1);
  await expectCoffreError(t, source.readValues(ref), 'COFFRE_SOURCE_DENIED', [value, token]);
  t.same(await statuses(bao, token, ref.path), {
    'read data': 403,
    'read subkeys': 200,
    'read metadata': 200,
    'list metadata': 200,
    'write data': 403,
    'delete latest': 403,
    undelete: 403,
    destroy: 403,
    'delete all': 403,
  });
  const caps = await bao.vaultHttp('POST', 'sys/capabilities-self', { paths: [`secret/data/${ref.path}`] }, token);
  t.same(caps.body.data[`secret/data/${ref.path}`], ['deny'], 'data/ is an explicit deny');
  const raw = await bao.vaultHttp('GET', `secret/subkeys/${ref.path}`, undefined, token);
  t.notOk(JSON.stringify(raw.body).includes(value), 'the subkeys answer holds no value');
});

t.test('the explicit deny on data/ wins even when another policy grants reads', async (t) => {
  const bao = await sharedOpenBao(t);
  const { ref, value } = await seed(bao, 'apps/both');
  const token = await bao.tokenWithPolicies(['coffre-ci', 'coffre-host']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  await expectCoffreError(t, source.readValues(ref), 'COFFRE_SOURCE_DENIED', [value, token]);
});

t.test('coffre-host reads values and key names and nothing else', async (t) => {
  const bao = await sharedOpenBao(t);
  const { ref, value } = await seed(bao, 'apps/host');
  const token = await bao.tokenWithPolicies(['coffre-host']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  t.equal((await source.readValues(ref))!.values.get('DB_PASS'), value);
  t.ok((await source.listKeys(ref))!.keys.has('DB_USER'));
  await expectCoffreError(t, source.writeValues(ref, { DB_PASS: 'x' }, 1), 'COFFRE_SOURCE_DENIED', [value, token]);
  await expectCoffreError(t, source.readMetadata(ref), 'COFFRE_SOURCE_DENIED', [value, token]);
  t.same(await statuses(bao, token, ref.path), {
    'read data': 200,
    'read subkeys': 200,
    'read metadata': 403,
    'list metadata': 403,
    'write data': 403,
    'delete latest': 403,
    undelete: 403,
    destroy: 403,
    'delete all': 403,
  });
  t.equal((await bao.vaultHttp('GET', `secret/data/${ref.path}`)).body.data.metadata.version, 1, 'still version 1');
});

t.test('coffre-admin writes with check-and-set, reads metadata, soft-deletes, but cannot destroy', async (t) => {
  const bao = await sharedOpenBao(t);
  const { ref } = await seed(bao, 'apps/admin');
  const token = await bao.tokenWithPolicies(['coffre-admin']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const next = planted();
  t.same(await source.writeValues(ref, { DB_USER: 'app', DB_PASS: next }, 1), { version: 2 });
  t.equal((await source.readMetadata(ref))!.currentVersion, 2);
  const s = await statuses(bao, token, ref.path);
  t.same(s, {
    'read data': 200,
    'read subkeys': 200,
    'read metadata': 200,
    'list metadata': 200,
    'write data': 400, // allowed, but cas 1 is stale now: the check-and-set refusal, not a 403
    'delete latest': 204,
    undelete: 204,
    destroy: 403,
    'delete all': 403,
  });
  const created = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/apps/new`, { options: { cas: 0 }, data: { K: 'v' } }, token);
  t.equal(created.status, 200, 'admin creates new secrets');
});
