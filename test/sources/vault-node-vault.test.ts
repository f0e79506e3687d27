// The one place node-vault is still used: an independent cross-check of coffre's own Vault client
// (src/sources/vault-transport.ts, on undici). node-vault, as a plain client with its own axios transport and
// its env defaults neutralised, and coffre's client read the same secrets from the real OpenBao — values with
// unicode, quotes, backslashes and newlines, several versions, metadata, subkeys, a missing path (404) — and
// must agree on status and body (request ids aside).
import { randomBytes } from 'node:crypto';
import t from 'tap';
import createNodeVault from 'node-vault';
import { createVaultSource } from '../../src/sources/vault.js';
import { createVaultTransport, type VaultAnswer } from '../../src/sources/vault-transport.js';
import { sharedOpenBao } from '../support/openbao.js';

/** Variables node-vault (VAULT_*) or its axios (proxies) would read: unset while the test runs. */
const AMBIENT = ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX', 'VAULT_SKIP_VERIFY', 'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

/** What node-vault answers, as `{ status, body }`: it resolves 200/204 with the body, rejects others with `response`. */
async function nodeVaultAnswer(call: () => Promise<unknown>): Promise<VaultAnswer> {
  try {
    return { status: 200, body: await call() };
  } catch (error) {
    const response = (error as { response?: { statusCode: number; body: unknown } }).response;
    if (response === undefined) throw error;
    return { status: response.statusCode, body: response.body };
  }
}

/** The body without what differs per request (`request_id`). */
function comparable(body: unknown): unknown {
  if (body === null || typeof body !== 'object') return body;
  const { request_id: _ignored, ...rest } = body as Record<string, unknown>;
  return rest;
}

t.test("node-vault and coffre's own client read the same secrets, versions, metadata and 404s alike", async (t) => {
  const bao = await sharedOpenBao(t);
  const saved = Object.fromEntries(AMBIENT.map((name) => [name, process.env[name]]));
  t.teardown(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  for (const name of AMBIENT) delete process.env[name];

  const planted = randomBytes(6).toString('hex');
  const secrets: Record<string, Record<string, unknown>[]> = {
    [`${bao.prefix}/app/db`]: [
      { USER: 'app', PASS: `first-${planted}` },
      { USER: 'app', PASS: `p"a'ss\`\\word\n$HOME ${planted}`, EMPTY: '', PORT: 5432, DEBUG: false },
    ],
    [`${bao.prefix}/app/unicode`]: [{ GREETING: 'héllo wörld — 日本語 🔑', RTL: 'שלום', NUL_LIKE: '\\u0000', TAB: 'a\tb\r\nc' }],
    [`${bao.prefix}/deep/er/path.with-dots_and-dashes`]: [{ JSON_VALUE: '{"nested":["a",1,{"b":null}]}', LONG: 'x'.repeat(70_000) }],
  };
  for (const [path, versions] of Object.entries(secrets)) {
    for (const data of versions) t.equal((await bao.vaultHttp('POST', `secret/data/${path}`, { data })).status, 200, `wrote ${path}`);
  }
  await bao.vaultHttp('POST', `secret/metadata/${bao.prefix}/app/db`, { custom_metadata: { owner: 'ops', note: 'ünïcode "quoted"' } });

  const nodeVault = createNodeVault({ endpoint: bao.address, token: bao.rootToken, apiVersion: 'v1', noCustomHTTPVerbs: true, debug: () => {} } as Parameters<typeof createNodeVault>[0]);
  // node-vault falls back to VAULT_NAMESPACE / VAULT_PREFIX when a value is falsy: set them, unset above too.
  Object.assign(nodeVault, { namespace: '', pathPrefix: '' });
  const coffre = createVaultTransport({ address: bao.address, timeoutMs: 10_000 });
  t.teardown(() => coffre.close());
  coffre.setToken(bao.rootToken);

  const apiPaths = [
    ...Object.keys(secrets).flatMap((path) => [`secret/data/${path}`, `secret/metadata/${path}`, `secret/subkeys/${path}`]),
    `secret/data/${bao.prefix}/app/db?version=1`,
    `secret/data/${bao.prefix}/app/db?version=2`,
    `secret/data/${bao.prefix}/app/db?version=9`,
    `secret/data/${bao.prefix}/missing`,
    `secret/metadata/${bao.prefix}/missing`,
    `secret/metadata/${bao.prefix}/app?list=true`,
  ];
  for (const apiPath of apiPaths) {
    const theirs = await nodeVaultAnswer(() => nodeVault.read(apiPath));
    const ours = await coffre.get(apiPath);
    t.equal(ours.status, theirs.status, `${apiPath}: same status (${theirs.status})`);
    t.same(comparable(ours.body), comparable(theirs.body), `${apiPath}: same body`);
  }
  const missing = await coffre.get(`secret/data/${bao.prefix}/missing`);
  t.same({ status: missing.status, body: missing.body }, { status: 404, body: { errors: [] } }, 'a missing path is 404 {"errors":[]}');
  const second = (await coffre.get(`secret/data/${bao.prefix}/app/db`)).body as { data: { data: Record<string, unknown>; metadata: { version: number } } };
  t.same(second.data.data, secrets[`${bao.prefix}/app/db`]![1], 'the values read are the values written');
  t.equal(second.data.metadata.version, 2);

  // A write through each client, read back by the other.
  const written = { VALUE: `écrit "par" node-vault\n${planted}` };
  await nodeVault.write(`secret/data/${bao.prefix}/cross/by-node-vault`, { data: written });
  t.same(((await coffre.get(`secret/data/${bao.prefix}/cross/by-node-vault`)).body as { data: { data: unknown } }).data.data, written);
  const ours = { VALUE: `written 'by' coffre\t✓ ${planted}` };
  t.equal((await coffre.post(`secret/data/${bao.prefix}/cross/by-coffre`, { data: ours })).status, 200);
  t.same(((await nodeVault.read(`secret/data/${bao.prefix}/cross/by-coffre`)) as { data: { data: unknown } }).data.data, ours);

  // And coffre's source (on that client) gives node-vault's values, as strings.
  const source = createVaultSource({ address: bao.address, auth: { method: 'token', token: bao.rootToken } });
  t.teardown(() => source.close());
  for (const path of Object.keys(secrets)) {
    const theirs = ((await nodeVault.read(`secret/data/${path}`)) as { data: { data: Record<string, unknown> } }).data.data;
    const snapshot = await source.readValues({ kind: 'vault', mount: 'secret', path });
    t.same(Object.fromEntries(snapshot!.values), Object.fromEntries(Object.entries(theirs).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])), `${path}: source values`);
  }
});
