// The canary test of the HTTP API: values planted in a real OpenBao and a real sops file, and the bearer
// tokens themselves, never appear in any answer body or captured log line, on success and error paths
// (unreachable Vault, invalid Vault token, sealed Vault, an unexpected exception).
import path from 'node:path';
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { startOpenBao } from '../support/openbao.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);
const bodies: string[] = [];

async function exercise(app: ReturnType<typeof fixture.app>, label: string): Promise<number[]> {
  const statuses: number[] = [];
  const requests: Array<{ method: 'GET' | 'POST'; url: string; payload?: object }> = [
    { method: 'GET', url: '/v1/services' },
    { method: 'GET', url: '/v1/check' },
    { method: 'GET', url: '/v1/check?keysOnly=true' },
    { method: 'GET', url: '/v1/services/chat/check' },
    { method: 'GET', url: '/v1/services/pad/check' },
    { method: 'POST', url: '/v1/services/chat/render', payload: { dryRun: true } },
    { method: 'POST', url: '/v1/services/pad/render', payload: { dryRun: true } },
    { method: 'POST', url: '/v1/services/wiki/render', payload: {} },
    { method: 'POST', url: '/v1/services/chat/render', payload: {} },
    { method: 'GET', url: '/readyz' },
    { method: 'GET', url: '/metrics' },
  ];
  for (const token of Object.values(fixture.tokens)) {
    for (const request of requests) {
      const response = await app.inject({ ...request, headers: bearer(token) });
      bodies.push(`${label} ${request.method} ${request.url}: ${response.body}`);
      statuses.push(response.statusCode);
    }
  }
  return statuses;
}

function assertNoCanary(t: { notOk(value: unknown, message: string): unknown }, where: string, text: string): void {
  for (const value of [...fixture.canaries, ...Object.values(fixture.tokens), fixture.env.VAULT_TOKEN as string]) {
    t.notOk(text.includes(value), `${where} holds no planted value or token (${value.slice(0, 14)}…)`);
  }
}

t.test('healthy sources: no planted value in any answer or log line', async (t) => {
  const app = fixture.app();
  t.teardown(() => app.close());
  const statuses = await exercise(app, 'healthy');
  t.ok(statuses.includes(200) && statuses.includes(403) && statuses.includes(409), 'success, refusal and incomplete paths exercised');
});

t.test('unreachable Vault (bogus address): errors name the address, never a value', async (t) => {
  const app = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_ADDR: 'http://127.0.0.1:9' } }) });
  t.teardown(() => app.close());
  await exercise(app, 'unreachable');
  const check = await app.inject({ url: '/v1/services/chat/check', headers: bearer(fixture.tokens.admin) });
  t.equal(check.json().services[0].files[0].error.code, 'COFFRE_SOURCE_UNREACHABLE');
  const render = await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.admin), payload: {} });
  t.equal(render.statusCode, 502);
  t.equal(render.json().error.code, 'COFFRE_SOURCE_UNREACHABLE');
});

t.test('an invalid Vault token: 502 COFFRE_SOURCE_AUTH, no value', async (t) => {
  const app = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: 'hvs.not-a-token' } }) });
  t.teardown(() => app.close());
  await exercise(app, 'bad-token');
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.equal(ready.json().vault.error.code, 'COFFRE_SOURCE_AUTH');
});

t.test('a sealed Vault: readyz 503 sealed, renders 503 COFFRE_SOURCE_SEALED, no value', async (t) => {
  const server = await startOpenBao();
  t.teardown(() => server.stop());
  const put = await fetch(`${server.address}/v1/secret/data/${fixture.bao.prefix}/chat/db`, {
    method: 'POST',
    headers: { 'X-Vault-Token': server.rootToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { DB_USER: fixture.canaries[0], DB_PASS: fixture.canaries[1] } }),
  });
  t.equal(put.status, 200);
  await server.seal();
  const app = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_ADDR: server.address, VAULT_TOKEN: server.rootToken } }) });
  t.teardown(() => app.close());
  await exercise(app, 'sealed');
  const ready = (await app.inject({ url: '/readyz' })).json();
  t.match(ready, { ready: false, vault: { configured: true, ok: false, sealed: true } });
  const render = await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.admin), payload: { dryRun: true } });
  t.equal(render.statusCode, 503);
  t.equal(render.json().error.code, 'COFFRE_SOURCE_SEALED');
  assertNoCanary(t, 'sealed answers', bodies.join('\n'));
  void server.rootToken;
});

t.test('an unexpected exception is a generic 500: no message, no stack, in the answer or the log', async (t) => {
  const secretish = `canary-exception-${Math.random().toString(36).slice(2)}`;
  const app = fixture.app({
    useCases: {
      runCheck: async () => {
        throw new TypeError(`boom ${secretish}`);
      },
    },
  });
  t.teardown(() => app.close());
  const response = await app.inject({ url: '/v1/check', headers: bearer(fixture.tokens.check) });
  t.equal(response.statusCode, 500);
  t.same(response.json(), { error: { code: 'COFFRE_INTERNAL', message: 'internal error (details in the server log)' } });
  t.notOk(response.body.includes(secretish), 'answer');
  t.notOk(fixture.logs().includes(secretish), 'log');
  t.notMatch(response.body, /at .*\.js:\d+/, 'no stack');
  t.match(fixture.logs(), /"type":"TypeError"/, 'the class name is logged');
});

t.test('after every path above: no planted value or token in any answer body or log line', async (t) => {
  t.ok(bodies.length > 100, `${bodies.length} answers captured`);
  assertNoCanary(t, 'answers', bodies.join('\n'));
  const logs = fixture.logs();
  t.ok(logs.split('\n').length > 100, 'log lines captured');
  assertNoCanary(t, 'logs', logs);
  t.notMatch(logs, /Bearer /, 'no Authorization header logged');
  t.ok(path.isAbsolute(fixture.dir));
});
