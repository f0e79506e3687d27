// The Vault source against a real OpenBao: key listing via subkeys, value reads, the meanings of 404,
// wrong mounts, KV v1, denial, bad tokens, memoisation, and that no error message carries a value or token.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao } from '../support/openbao.js';
import { expectCoffreError } from './vault-expect.js';

const planted = (): string => `planted-${randomBytes(8).toString('hex')}`;

t.test('listKeys returns key names in store order, presence unknown, and the version, without values', async (t) => {
  const bao = await sharedOpenBao(t);
  const values = { DB_USER: planted(), DB_PASS: planted(), PORT: 5432, EMPTY: '' };
  t.equal((await bao.vaultHttp('POST', `secret/data/${bao.prefix}/app/db`, { data: values })).status, 200);
  t.equal((await bao.vaultHttp('POST', `secret/data/${bao.prefix}/app/db`, { data: values })).status, 200);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const listing = await source.listKeys({ kind: 'vault', mount: 'secret', path: `${bao.prefix}/app/db` });
  t.ok(listing);
  t.same([...listing!.keys.keys()].sort(), ['DB_PASS', 'DB_USER', 'EMPTY', 'PORT']);
  t.same([...listing!.keys.values()], ['unknown', 'unknown', 'unknown', 'unknown']);
  t.equal(listing!.version, 2);
  t.notOk(JSON.stringify([...listing!.keys]).includes('planted-'), 'no value in the listing');
});

t.test('readValues returns strings as is and stringifies numbers and booleans', async (t) => {
  const bao = await sharedOpenBao(t);
  const user = planted();
  const data = { USER: user, PORT: 5432, RATIO: 1.5, DEBUG: false, EMPTY: '', MULTI: 'a\nb "c" $d' };
  await bao.vaultHttp('POST', `secret/data/${bao.prefix}/svc`, { data });
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const snapshot = await source.readValues({ kind: 'vault', mount: 'secret', path: `${bao.prefix}/svc` });
  t.same(Object.fromEntries(snapshot!.values), {
    USER: user,
    PORT: '5432',
    RATIO: '1.5',
    DEBUG: 'false',
    EMPTY: '',
    MULTI: 'a\nb "c" $d',
  });
  t.equal(snapshot!.version, 1);
});

t.test('a missing secret is a null result for both listKeys and readValues', async (t) => {
  const bao = await sharedOpenBao(t);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/nothing/here` };
  t.equal(await source.listKeys(ref), null);
  t.equal(await source.readValues(ref), null);
  t.equal(await source.readMetadata(ref), null);
});

t.test('a nested map or list is refused with COFFRE_SOURCE_NOT_FLAT naming the key, not the value', async (t) => {
  const bao = await sharedOpenBao(t);
  const inner = planted();
  const cases = [
    { name: 'map', data: { OK: 'x', NESTED: { inner } }, key: 'NESTED' },
    { name: 'list', data: { LISTED: [inner], OK: 'x' }, key: 'LISTED' },
  ];
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/nested-${c.name}` };
      await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: c.data });
      const listing = await source.listKeys(ref);
      t.ok(listing?.keys.has(c.key), 'listKeys still lists the key (depth 1)');
      const e = await expectCoffreError(t, source.readValues(ref), 'COFFRE_SOURCE_NOT_FLAT', [inner]);
      t.match(e.message, c.key);
      t.match(e.message, ref.path);
    });
  }
});

t.test('soft-deleted and destroyed latest versions give their own errors', async (t) => {
  const bao = await sharedOpenBao(t);
  const value = planted();
  const deleted = `${bao.prefix}/deleted`;
  const destroyed = `${bao.prefix}/destroyed`;
  for (const p of [deleted, destroyed]) await bao.vaultHttp('POST', `secret/data/${p}`, { data: { K: value } });
  t.equal((await bao.vaultHttp('DELETE', `secret/data/${deleted}`)).status, 204);
  t.equal((await bao.vaultHttp('POST', `secret/destroy/${destroyed}`, { versions: [1] })).status, 204);
  const cases = [
    { name: 'soft-deleted', path: deleted, code: 'COFFRE_SOURCE_DELETED' },
    { name: 'destroyed', path: destroyed, code: 'COFFRE_SOURCE_DESTROYED' },
  ];
  for (const c of cases) {
    t.test(`${c.name}: listKeys and readValues both fail`, async (t) => {
      const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
      t.teardown(() => source.close());
      const ref: VaultRef = { kind: 'vault', mount: 'secret', path: c.path };
      const e = await expectCoffreError(t, source.listKeys(ref), c.code, [value, bao.rootToken]);
      t.match(e.message, `secret/${c.path}`);
      t.match(e.message, bao.address);
      await expectCoffreError(t, source.readValues(ref), c.code, [value, bao.rootToken]);
    });
  }
});

t.test('mounts that are not KV v2 give COFFRE_SOURCE_WRONG_MOUNT', async (t) => {
  const bao = await sharedOpenBao(t);
  const kv1 = `kv1-${bao.prefix}`;
  const transit = `transit-${bao.prefix}`;
  t.equal((await bao.vaultHttp('POST', `sys/mounts/${kv1}`, { type: 'kv', options: { version: '1' } })).status, 204);
  t.equal((await bao.vaultHttp('POST', `sys/mounts/${transit}`, { type: 'transit' })).status, 204);
  t.teardown(async () => {
    await bao.vaultHttp('DELETE', `sys/mounts/${kv1}`);
    await bao.vaultHttp('DELETE', `sys/mounts/${transit}`);
  });
  const value = planted();
  // In KV v1 this lands at the key "data/app"; coffre must not take that mount for KV v2.
  await bao.vaultHttp('POST', `${kv1}/app`, { K: value });
  const cases = [
    { name: 'KV v1 mount, secret absent', mount: kv1, path: 'absent' },
    { name: 'KV v1 mount, secret present', mount: kv1, path: 'app' },
    { name: 'mount that does not exist', mount: `nomount-${bao.prefix}`, path: 'x' },
    { name: 'transit mount', mount: transit, path: 'x' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
      t.teardown(() => source.close());
      const ref: VaultRef = { kind: 'vault', mount: c.mount, path: c.path };
      const e = await expectCoffreError(t, source.listKeys(ref), 'COFFRE_SOURCE_WRONG_MOUNT', [value]);
      t.match(e.message, `${c.mount}/${c.path}`);
      await expectCoffreError(t, source.readValues(ref), 'COFFRE_SOURCE_WRONG_MOUNT', [value]);
    });
  }
});

t.test('a token without access gets COFFRE_SOURCE_DENIED; a dead token gets COFFRE_SOURCE_AUTH', async (t) => {
  const bao = await sharedOpenBao(t);
  const value = planted();
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/guarded` };
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { K: value } });
  const ciToken = await bao.tokenWithPolicies(['coffre-ci']);
  const bareToken = await bao.tokenWithPolicies(['coffre-ci'], { noDefaultPolicy: true });
  const revoked = await bao.tokenWithPolicies(['coffre-host']);
  t.equal((await bao.vaultHttp('POST', 'auth/token/revoke', { token: revoked })).status, 204);
  const cases = [
    { name: 'CI token reading values', token: ciToken, code: 'COFFRE_SOURCE_DENIED' },
    { name: 'token without the default policy reading values', token: bareToken, code: 'COFFRE_SOURCE_DENIED' },
    { name: 'revoked token', token: revoked, code: 'COFFRE_SOURCE_AUTH' },
    { name: 'unknown token', token: `hvs.${randomBytes(12).toString('hex')}`, code: 'COFFRE_SOURCE_AUTH' },
    { name: 'empty token', token: '', code: 'COFFRE_SOURCE_AUTH' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: c.token } });
      t.teardown(() => source.close());
      const secrets = [value, ...(c.token ? [c.token] : []), bao.rootToken];
      const e = await expectCoffreError(t, source.readValues(ref), c.code, secrets);
      if (c.token) t.match(e.message, bao.address);
    });
  }
});

t.test('reads are memoised per (endpoint, mount, path) for the life of a source', async (t) => {
  const bao = await sharedOpenBao(t);
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/memo` };
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'first' } });
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const [l1, l2] = await Promise.all([source.listKeys(ref), source.listKeys(ref)]);
  const v1 = await source.readValues(ref);
  // Change the secret behind the source's back: a second read in the same source must not see it.
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'second', B: 'new' } });
  const l3 = await source.listKeys(ref);
  const v2 = await source.readValues(ref);
  t.equal(l1, l2, 'concurrent calls share one result');
  t.equal(l3, l1, 'later listKeys reuses the first answer');
  t.equal(v2, v1, 'later readValues reuses the first answer');
  t.same([...l3!.keys.keys()], ['A']);
  const fresh = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => fresh.close());
  t.same(Object.fromEntries((await fresh.readValues(ref))!.values), { A: 'second', B: 'new' }, 'a new source reads again');
});

t.test('paths that could change the URL are refused before any request', async (t) => {
  const bao = await sharedOpenBao(t);
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  const cases = [
    { name: 'dot-dot segment', mount: 'secret', path: 'a/../../sys/policies' },
    { name: 'query', mount: 'secret', path: 'a?version=1' },
    { name: 'fragment', mount: 'secret', path: 'a#b' },
    { name: 'html-escaped by mustache', mount: 'secret', path: "a=b's" },
    { name: 'leading slash', mount: 'secret', path: '/a' },
    { name: 'trailing dot', mount: 'secret', path: 'a/b.' },
    { name: 'empty path', mount: 'secret', path: '' },
    { name: 'bad mount', mount: 'sec ret', path: 'a' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      await expectCoffreError(t, source.listKeys({ kind: 'vault', mount: c.mount, path: c.path }), 'COFFRE_CONFIG_INVALID', []);
    });
  }
});

t.test('health reports the server state and the token TTL', async (t) => {
  const bao = await sharedOpenBao(t);
  const token = await bao.tokenWithPolicies(['coffre-ci'], { ttl: '15m' });
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  const health = await source.health();
  t.equal(health.initialized, true);
  t.equal(health.sealed, false);
  t.match(health.version, /^\d+\.\d+\.\d+/);
  t.ok(health.tokenTtlSeconds! > 800 && health.tokenTtlSeconds! <= 900, `ttl ${health.tokenTtlSeconds}`);
});

t.test('the Vault client reads no VAULT_* variable and uses no proxy from the environment', async (t) => {
  const bao = await sharedOpenBao(t);
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/env` };
  await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'x' } });
  const net = await import('node:net');
  let proxyHits = 0;
  const proxy = net.createServer((socket) => {
    proxyHits++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as { port: number }).port;
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of ['VAULT_TOKEN', 'VAULT_ADDR', 'VAULT_NAMESPACE', 'VAULT_PREFIX', 'VAULT_SKIP_VERIFY', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    proxy.close();
  });
  process.env.VAULT_TOKEN = bao.rootToken;
  process.env.VAULT_ADDR = 'http://127.0.0.1:1';
  process.env.VAULT_NAMESPACE = 'nowhere';
  process.env.VAULT_PREFIX = '/bogus';
  process.env.HTTP_PROXY = `http://127.0.0.1:${proxyPort}`;
  process.env.http_proxy = `http://127.0.0.1:${proxyPort}`;
  delete process.env.NO_PROXY;
  delete process.env.no_proxy;

  const withToken = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => withToken.close());
  t.same(Object.fromEntries((await withToken.readValues(ref))!.values), { A: 'x' }, 'explicit address/token used, no namespace/prefix');
  t.equal(proxyHits, 0, 'HTTP_PROXY ignored');

  const noToken = createVaultSource({ address: bao.address, auth: { method: 'token', token: '' } });
  t.teardown(() => noToken.close());
  await expectCoffreError(t, noToken.readValues(ref), 'COFFRE_SOURCE_AUTH', [bao.rootToken]);
});

t.test('bad options are refused at creation', async (t) => {
  const cases = [
    { name: 'not a URL', options: { address: 'vault:8200' }, code: 'COFFRE_CONFIG_INVALID' },
    { name: 'address with a path', options: { address: 'http://127.0.0.1:8200/v1' }, code: 'COFFRE_CONFIG_INVALID' },
    { name: 'zero concurrency', options: { address: 'http://127.0.0.1:8200', concurrency: 0 }, code: 'COFFRE_USAGE' },
    { name: 'negative timeout', options: { address: 'http://127.0.0.1:8200', timeoutMs: -1 }, code: 'COFFRE_USAGE' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      t.throws(() => createVaultSource({ auth: { method: 'token', token: 'x' }, ...c.options }), { code: c.code });
    });
  }
});

t.test('a redirect is not followed, so the token never reaches another host', async (t) => {
  const http = await import('node:http');
  const token = `hvs.${randomBytes(12).toString('hex')}`;
  let tokenSeenElsewhere = 0;
  const elsewhere = http.createServer((req, res) => {
    if (req.headers['x-vault-token']) tokenSeenElsewhere++;
    res.end('{}');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  const elsewherePort = (elsewhere.address() as { port: number }).port;
  // Stands in for a standby or hostile front: answers every request with a 307 to the other server.
  const redirector = http.createServer((req, res) => {
    res.writeHead(307, { Location: `http://127.0.0.1:${elsewherePort}${req.url ?? '/'}` });
    res.end();
  });
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    elsewhere.closeAllConnections();
    redirector.closeAllConnections();
    elsewhere.close();
    redirector.close();
  });
  const port = (redirector.address() as { port: number }).port;
  const source = createVaultSource({ address: `http://127.0.0.1:${port}`, auth: { method: 'token', token } });
  t.teardown(() => source.close());
  await expectCoffreError(t, source.listKeys({ kind: 'vault', mount: 'secret', path: 'x' }), 'COFFRE_SOURCE_BAD_RESPONSE', [token]);
  t.equal(tokenSeenElsewhere, 0, 'the redirect target never saw the token');
});
