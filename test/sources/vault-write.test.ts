// The rotate-side of the Vault source against a real OpenBao: check-and-set writes, conflicts, metadata,
// and that a write refreshes what the same source reads next.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ERROR_CODES } from '../../src/errors.js';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao } from '../support/openbao.js';
import { expectCoffreError } from './vault-expect.js';

const planted = (): string => `planted-${randomBytes(8).toString('hex')}`;

t.test('writeValues creates with cas 0, updates with the current version, and readMetadata follows', async (t) => {
  const bao = await sharedOpenBao(t);
  const token = await bao.tokenWithPolicies(['coffre-admin']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/rotated` };
  const first = { DB_USER: 'app', DB_PASS: planted() };
  const second = { DB_USER: 'app', DB_PASS: planted() };

  t.equal(await source.readMetadata(ref), null, 'no metadata before the first write');
  t.same(await source.writeValues(ref, first, 0), { version: 1 });
  t.same(Object.fromEntries((await source.readValues(ref))!.values), first, 'the same source reads what it wrote');
  t.same(await source.writeValues(ref, second, 1), { version: 2 });
  t.same(Object.fromEntries((await source.readValues(ref))!.values), second, 'a write refreshes the memoised read');
  const listing = await source.listKeys(ref);
  t.equal(listing!.version, 2);
  const metadata = await source.readMetadata(ref);
  t.equal(metadata!.currentVersion, 2);
  t.same([...metadata!.versions.keys()].sort(), [1, 2]);
  t.equal(metadata!.versions.get(1)!.destroyed, false);
  t.equal(metadata!.casRequired, false);
  const raw = await bao.vaultHttp('GET', `secret/data/${ref.path}?version=1`);
  t.same(raw.body.data.data, first, 'version 1 kept by OpenBao');
});

t.test('a stale check-and-set version gives COFFRE_CONFLICT (exit 5, http 409) and writes nothing', async (t) => {
  const bao = await sharedOpenBao(t);
  const token = await bao.tokenWithPolicies(['coffre-admin']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/raced` };
  const current = { K: planted() };
  const lost = { K: planted() };
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { K: 'v1' } });
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: current });
  const cases = [
    { name: 'older version', cas: 1 },
    { name: 'create-only on an existing secret', cas: 0 },
    { name: 'future version', cas: 7 },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const e = await expectCoffreError(t, source.writeValues(ref, lost, c.cas), 'COFFRE_CONFLICT', [lost.K, current.K, token]);
      t.match(e.message, `secret/${ref.path}`);
    });
  }
  t.same(ERROR_CODES.COFFRE_CONFLICT, { ...ERROR_CODES.COFFRE_CONFLICT, exit: 5, http: 409 });
  const after = await bao.vaultHttp('GET', `secret/data/${ref.path}`);
  t.same(after.body.data.data, current, 'the secret still holds the winner');
  t.equal(after.body.data.metadata.version, 2);
});

t.test('readData returns the stored JSON types with the version of that same answer; writeValues stores them unchanged', async (t) => {
  const bao = await sharedOpenBao(t);
  const token = await bao.tokenWithPolicies(['coffre-admin']);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/typed` };
  const stored = { PORT: 5432, DEBUG: true, RATIO: 1.5, NULLV: null, PASS: planted(), NESTED: { a: [1, { b: false }] } };
  const early = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => early.close());
  t.equal(await early.readData(ref), null, 'a missing secret is null');
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: stored });
  const snapshot = await source.readData(ref);
  t.strictSame(snapshot, { data: stored, version: 1 });
  t.same(await source.writeValues(ref, { ...snapshot!.data, PASS: 'next' }, snapshot!.version), { version: 2 });
  const raw = await bao.vaultHttp('GET', `secret/data/${ref.path}`);
  t.strictSame(raw.body.data.data, { ...stored, PASS: 'next' });
  t.strictSame(await source.readVersion(ref, 1), stored, 'readVersion gives a past version as stored');
});

t.test('writeValues refuses a KV v1 mount instead of storing under "data/<path>"', async (t) => {
  const bao = await sharedOpenBao(t);
  const kv1 = `kv1w-${bao.prefix}`;
  t.equal((await bao.vaultHttp('POST', `sys/mounts/${kv1}`, { type: 'kv', options: { version: '1' } })).status, 204);
  t.teardown(() => bao.vaultHttp('DELETE', `sys/mounts/${kv1}`));
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const value = planted();
  await expectCoffreError(t, source.writeValues({ kind: 'vault', mount: kv1, path: 'app' }, { K: value }, 0), 'COFFRE_SOURCE_WRONG_MOUNT', [value]);
  t.equal((await bao.vaultHttp('GET', `${kv1}/data/app`)).status, 404, 'nothing written');
});

t.test('writeValues checks its arguments before any request', async (t) => {
  const source = createVaultSource({ address: 'http://127.0.0.1:9', auth: { method: 'token', token: 'x' } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: 'a' };
  const cases = [
    { name: 'negative cas', values: { K: 'v' }, cas: -1, code: 'COFFRE_USAGE' },
    { name: 'fractional cas', values: { K: 'v' }, cas: 1.5, code: 'COFFRE_USAGE' },
    { name: 'undefined value', values: { K: undefined }, cas: 0, code: 'COFFRE_USAGE' },
    { name: 'non-finite number', values: { K: Number.NaN }, cas: 0, code: 'COFFRE_USAGE' },
    { name: 'nested non-JSON value', values: { K: { at: new Date(0) } }, cas: 0, code: 'COFFRE_USAGE' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      await expectCoffreError(t, source.writeValues(ref, c.values, c.cas), c.code, []);
    });
  }
});
