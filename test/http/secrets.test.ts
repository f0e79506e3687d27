// The secrets routes on a real OpenBao and a real sops file: PUT …/keys/:key (generate or value) and POST
// …/rollback are admin-only (render/check roles 403), answers hold versions and key names but never the value,
// the audit logger records each write, and no planted or generated value reaches a body or a log line.
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);
const adminVaultToken = await fixture.bao.tokenWithPolicies(['coffre-admin']);
const env = { ...fixture.env, VAULT_TOKEN: adminVaultToken };
const app = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env }) });
t.teardown(() => app.close());
const chatPath = `${fixture.bao.prefix}/chat/db`;
const bodies: string[] = [];
const generated: string[] = [];

async function vaultData(): Promise<{ version: number; data: Record<string, string> }> {
  const answer = await fixture.bao.vaultHttp('GET', `secret/data/${chatPath}`);
  return { version: answer.body.data.metadata.version, data: answer.body.data.data };
}

async function call(method: 'PUT' | 'POST' | 'GET', url: string, token: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  bodies.push(response.body);
  return response;
}

t.test('admin PUT with generate: 200 with versions and key name, never the value; the audit line has no value', async (t) => {
  const before = await vaultData();
  const response = await call('PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', fixture.tokens.admin, { generate: { charset: 'hex', length: 24 } });
  t.equal(response.statusCode, 200, response.body);
  const after = await vaultData();
  generated.push(after.data.DB_PASS!);
  t.match(after.data.DB_PASS, /^[0-9a-f]{24}$/);
  t.equal(after.data.DB_USER, fixture.canaries[0], 'untouched key kept');
  t.same(response.json(), {
    action: 'rotate',
    service: 'chat',
    file: 'db',
    target: 'chat/secrets/db.secrets',
    key: 'DB_PASS',
    source: { kind: 'vault', ref: `secret/${chatPath}` },
    created: false,
    changed: true,
    oldVersion: before.version,
    newVersion: before.version + 1,
    generated: { charset: 'hex', length: 24 },
    renderFailed: false,
  });
  t.match(fixture.logs(), /"audit":"rotate".*"tokenId":"ops".*"service":"chat".*"key":"DB_PASS".*"oldVersion":1,"newVersion":2,"outcome":"written"/);
});

t.test('admin PUT with a value (target path as <file>) and on a sops file; a key outside the example is 400', async (t) => {
  const value = `canary-put-${Math.random().toString(36).slice(2)}`;
  generated.push(value);
  const response = await call('PUT', `/v1/services/chat/secrets/${encodeURIComponent('secrets/db.secrets')}/keys/DB_USER`, fixture.tokens.admin, { value });
  t.equal(response.statusCode, 200, response.body);
  t.equal((await vaultData()).data.DB_USER, value);
  t.notOk(response.body.includes(value));

  const sopsValue = `canary-pad-${Math.random().toString(36).slice(2)}`;
  generated.push(sopsValue);
  const pad = await call('PUT', '/v1/services/pad/secrets/pad/keys/PAD_TOKEN', fixture.tokens.admin, { value: sopsValue, render: true });
  t.equal(pad.statusCode, 200, pad.body);
  t.match(pad.json(), { source: { kind: 'sops', ref: 'pad/secrets/pad.secrets.sops.yaml' }, oldVersion: null, newLastModified: /^\d{4}-/, render: { status: 'written' } });

  const extra = await call('PUT', '/v1/services/chat/secrets/db/keys/NOPE', fixture.tokens.admin, { generate: {} });
  t.equal(extra.statusCode, 400);
  t.match(extra.json(), { error: { code: 'COFFRE_USAGE', message: /NOPE is not a key of chat\/secrets\/db\.secrets\.example/ } });
  const both = await call('PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', fixture.tokens.admin, { generate: {}, value: 'x' });
  t.equal(both.statusCode, 400, 'exactly one of generate / value');
});

t.test('render and check roles get 403 on PUT and rollback; nothing is written', async (t) => {
  const before = await vaultData();
  for (const token of [fixture.tokens.render, fixture.tokens.check]) {
    const put = await call('PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', token, { generate: {} });
    t.equal(put.statusCode, 403);
    t.equal(put.json().error.code, 'COFFRE_FORBIDDEN');
    const rollback = await call('POST', '/v1/services/chat/secrets/db/rollback', token, { to: 1 });
    t.equal(rollback.statusCode, 403);
  }
  t.equal((await vaultData()).version, before.version);
});

t.test('admin rollback writes version N as a new version; sops rollback is 400; versions lists the history', async (t) => {
  const before = await vaultData();
  const response = await call('POST', '/v1/services/chat/secrets/db/rollback', fixture.tokens.admin, { to: 1 });
  t.equal(response.statusCode, 200, response.body);
  t.match(response.json(), { action: 'rollback', key: null, oldVersion: before.version, newVersion: before.version + 1 });
  t.same((await vaultData()).data, { DB_USER: fixture.canaries[0], DB_PASS: fixture.canaries[1] });
  t.match(fixture.logs(), /"audit":"rollback".*"outcome":"written"/);

  const sops = await call('POST', '/v1/services/pad/secrets/pad/rollback', fixture.tokens.admin, { to: 1 });
  t.equal(sops.statusCode, 400);
  t.match(sops.json().error.message, /git checkout <commit> -- pad\/secrets\/pad\.secrets\.sops\.yaml/);

  const versions = await call('GET', '/v1/services/chat/secrets/db/versions', fixture.tokens.check);
  t.equal(versions.statusCode, 200, versions.body);
  t.match(versions.json(), { source: { kind: 'vault' }, exists: true, currentVersion: before.version + 1 });
  t.equal(versions.json().versions.length, before.version + 1);
});

t.test('no planted or generated value in any answer body or log line', async (t) => {
  const everything = bodies.join('\n') + fixture.logs();
  for (const value of [...fixture.canaries, ...generated]) t.notOk(everything.includes(value), 'value absent');
  t.notOk(everything.includes('canary'), 'no canary text at all');
});
