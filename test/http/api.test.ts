// The HTTP API through app.inject(): every route × status × role, on a repo whose secrets are in a real
// OpenBao and a real sops file. Answers are compared with what the CLI's use-cases produce.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { formatJson } from '../../src/core/report.js';
import { runCheck } from '../../src/use-cases/check.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);
const app = fixture.app();
t.teardown(() => app.close());

interface Case {
  name: string;
  method: 'GET' | 'POST';
  url: string;
  token: keyof typeof fixture.tokens | 'none' | 'unknown';
  status: number;
  code?: string;
  body?: unknown;
}

const cases: Case[] = [
  { name: 'services without a token is 401', method: 'GET', url: '/v1/services', token: 'none', status: 401, code: 'COFFRE_UNAUTHENTICATED' },
  { name: 'services with an unknown token is 401', method: 'GET', url: '/v1/services', token: 'unknown', status: 401, code: 'COFFRE_UNAUTHENTICATED' },
  { name: 'services with a check token is 200', method: 'GET', url: '/v1/services', token: 'check', status: 200 },
  { name: 'check with a check token is 200', method: 'GET', url: '/v1/check', token: 'check', status: 200 },
  { name: 'check without a token is 401', method: 'GET', url: '/v1/check', token: 'none', status: 401, code: 'COFFRE_UNAUTHENTICATED' },
  { name: 'service check with a check token is 200', method: 'GET', url: '/v1/services/chat/check', token: 'check', status: 200 },
  { name: 'service check of a service out of the token scope is 403', method: 'GET', url: '/v1/services/chat/check', token: 'padRender', status: 403, code: 'COFFRE_FORBIDDEN' },
  { name: 'service check of an unknown service is 404', method: 'GET', url: '/v1/services/nope/check', token: 'admin', status: 404, code: 'COFFRE_SERVICE_UNKNOWN' },
  { name: 'service check of an unknown service out of scope is 403, not 404', method: 'GET', url: '/v1/services/nope/check', token: 'padRender', status: 403, code: 'COFFRE_FORBIDDEN' },
  { name: 'render with a check token is 403', method: 'POST', url: '/v1/services/chat/render', token: 'check', status: 403, code: 'COFFRE_FORBIDDEN', body: { dryRun: true } },
  { name: 'render out of the token scope is 403', method: 'POST', url: '/v1/services/chat/render', token: 'padRender', status: 403, code: 'COFFRE_FORBIDDEN', body: { dryRun: true } },
  { name: 'render without a token is 401', method: 'POST', url: '/v1/services/chat/render', token: 'none', status: 401, code: 'COFFRE_UNAUTHENTICATED', body: { dryRun: true } },
  { name: 'render of an unknown service is 404', method: 'POST', url: '/v1/services/nope/render', token: 'admin', status: 404, code: 'COFFRE_SERVICE_UNKNOWN', body: { dryRun: true } },
  { name: 'render with a body of the wrong type is 400', method: 'POST', url: '/v1/services/chat/render', token: 'admin', status: 400, code: 'COFFRE_USAGE', body: { dryRun: 'maybe' } },
  { name: 'an unknown route is 404', method: 'GET', url: '/v1/nothing-here', token: 'admin', status: 404, code: 'COFFRE_NOT_FOUND' },
  { name: 'healthz needs no token', method: 'GET', url: '/healthz', token: 'none', status: 200 },
  { name: 'readyz needs no token', method: 'GET', url: '/readyz', token: 'none', status: 200 },
];

t.test('route × role × status', async (t) => {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const headers = c.token === 'none' ? {} : bearer(c.token === 'unknown' ? 'coffre_not-a-known-token' : fixture.tokens[c.token]);
      const response = await app.inject({ method: c.method, url: c.url, headers, ...(c.body !== undefined ? { payload: c.body as object } : {}), remoteAddress: `10.0.0.${cases.indexOf(c) + 1}` });
      t.equal(response.statusCode, c.status);
      t.ok(response.headers['x-request-id'], 'every answer carries a request id');
      if (c.code) t.equal(response.json().error.code, c.code);
      if (c.status === 401) t.match(response.headers['www-authenticate'], /^Bearer/);
    });
  }
});

t.test('GET /v1/services lists services with their files and sources; a scoped token sees only its services', async (t) => {
  const all = (await app.inject({ url: '/v1/services', headers: bearer(fixture.tokens.check) })).json();
  t.same(all.services.map((s: { name: string }) => s.name), ['chat', 'pad', 'wiki']);
  const chat = all.services[0];
  t.same(chat.files, [
    { target: 'chat/secrets/db.secrets', example: 'chat/secrets/db.secrets.example', format: 'compose', required: true, source: { kind: 'vault', ref: `secret/${fixture.bao.prefix}/chat/db` } },
  ]);
  t.same(all.services[1].files[0].source, { kind: 'sops', ref: 'pad/secrets/pad.secrets.sops.yaml' });
  const scoped = (await app.inject({ url: '/v1/services', headers: bearer(fixture.tokens.padRender) })).json();
  t.same(scoped.services.map((s: { name: string }) => s.name), ['pad']);
});

t.test('GET /v1/check answers the same JSON as `coffre check --format json`', async (t) => {
  for (const keysOnly of [false, true]) {
    const response = await app.inject({ url: `/v1/check${keysOnly ? '?keysOnly=true' : ''}`, headers: bearer(fixture.tokens.check) });
    t.equal(response.statusCode, 200);
    const workspace = await openWorkspace({ root: fixture.dir, env: fixture.env });
    const cli = JSON.parse(formatJson(await runCheck(workspace, { keysOnly })));
    workspace.close();
    t.same(response.json(), cli, `keysOnly=${keysOnly}`);
    t.equal(response.json().keysOnly, keysOnly);
  }
  const report = (await app.inject({ url: '/v1/check', headers: bearer(fixture.tokens.check) })).json();
  const statuses = Object.fromEntries(report.services.map((s: { name: string; files: Array<{ status: string }> }) => [s.name, s.files[0]?.status]));
  t.same(statuses, { chat: 'complete', pad: 'complete', wiki: 'incomplete' }, 'statuses from real OpenBao and sops');
});

t.test('a scoped token checks only its services', async (t) => {
  const report = (await app.inject({ url: '/v1/check', headers: bearer(fixture.tokens.padRender) })).json();
  t.same(report.services.map((s: { name: string }) => s.name), ['pad']);
});

t.test('GET /v1/services/:service/check?keysOnly=true reads key names only', async (t) => {
  const response = await app.inject({ url: '/v1/services/wiki/check?keysOnly=true', headers: bearer(fixture.tokens.check) });
  t.equal(response.statusCode, 200);
  const report = response.json();
  t.equal(report.keysOnly, true);
  t.same(report.services[0].files[0].keys.map((k: { name: string; status: string }) => `${k.name}:${k.status}`), ['WIKI_KEY:ok', 'WIKI_MISSING:missing']);
  const bad = await app.inject({ url: '/v1/services/wiki/check?keysOnly=perhaps', headers: bearer(fixture.tokens.check) });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'COFFRE_USAGE');
});

t.test('POST render: dry run plans, render writes 0600 files whose sha256 is answered, a second render is unchanged', async (t) => {
  const dry = await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.render), payload: { dryRun: true } });
  t.equal(dry.statusCode, 200, dry.body);
  const planned = dry.json();
  t.equal(planned.dryRun, true);
  t.equal(planned.services[0].status, 'planned');
  t.match(planned.services[0].files[0], { target: 'chat/secrets/db.secrets', action: 'create', keys: { added: ['DB_USER', 'DB_PASS'], changed: [], removed: [] } });
  t.match(planned.services[0].files[0].sha256, /^[0-9a-f]{64}$/);
  await t.rejects(stat(path.join(fixture.dir, 'chat', 'secrets', 'db.secrets')), { code: 'ENOENT' }, 'dry run writes nothing');

  const written = await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.render), payload: {} });
  t.equal(written.statusCode, 200, written.body);
  t.equal(written.json().services[0].status, 'written');
  const target = path.join(fixture.dir, 'chat', 'secrets', 'db.secrets');
  const content = await readFile(target);
  t.equal(createHash('sha256').update(content).digest('hex'), written.json().services[0].files[0].sha256, 'answered sha256 is the file\'s');
  t.equal((await stat(target)).mode & 0o777, 0o600);

  const again = await app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.render) });
  t.equal(again.statusCode, 200, 'an empty body is a real render');
  t.equal(again.json().services[0].status, 'unchanged');
  t.equal(again.json().services[0].files[0].action, 'unchanged');
});

t.test('POST render of an incomplete service is 409 naming the missing keys, and writes nothing', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/v1/services/wiki/render', headers: bearer(fixture.tokens.admin), payload: {} });
  t.equal(response.statusCode, 409);
  const body = response.json();
  t.equal(body.error.code, 'COFFRE_INCOMPLETE');
  t.equal(body.services[0].status, 'refused');
  t.same(body.services[0].problems.map((p: { key: { name: string; status: string } }) => `${p.key.name}:${p.key.status}`), ['WIKI_MISSING:missing']);
  await t.rejects(stat(path.join(fixture.dir, 'wiki', 'secrets', 'wiki.secrets')), { code: 'ENOENT' });
});

t.test('every render attempt writes one audit line with token id, service, files, key names and outcome', async (t) => {
  await app.inject({ method: 'POST', url: '/v1/services/pad/render', headers: bearer(fixture.tokens.padRender), payload: { dryRun: true } });
  const audits = fixture
    .logs()
    .split('\n')
    .filter((line) => line.includes('"audit":"render"'))
    .map((line) => JSON.parse(line));
  const pad = audits.find((a) => a.service === 'pad');
  t.match(pad, { audit: 'render', tokenId: 'pad-host', service: 'pad', dryRun: true, files: ['pad/secrets/pad.secrets'], keys: ['PAD_TOKEN'], outcome: 'planned' });
  t.ok(audits.find((a) => a.service === 'wiki' && a.outcome === 'refused' && a.tokenId === 'ops'), 'refused render audited');
});

t.test('readyz reports Vault unsealed with the token TTL and the age identity count', async (t) => {
  const response = await app.inject({ url: '/readyz' });
  t.equal(response.statusCode, 200);
  const body = response.json();
  t.equal(body.ready, true);
  t.match(body.vault, { configured: true, ok: true, initialized: true, sealed: false });
  t.ok(body.vault.tokenTtlSeconds > 0 && body.vault.tokenTtlSeconds <= 600, 'the coffre-host token TTL');
  t.same(body.sops, { ageIdentities: 1, sopsFiles: 1, ok: true });
});

t.test('readyz is 503 naming the error when Vault cannot be reached', async (t) => {
  const broken = fixture.app({ openWorkspace: () => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_ADDR: 'http://127.0.0.1:9' } }) });
  t.teardown(() => broken.close());
  const response = await broken.inject({ url: '/readyz' });
  t.equal(response.statusCode, 503);
  t.equal(response.json().vault.error.code, 'COFFRE_SOURCE_UNREACHABLE');
  t.equal(response.json().ready, false);
});

t.test('GET /openapi.json documents every route from its schemas; /docs links it without external resources', async (t) => {
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  t.equal(doc.openapi, '3.1.0');
  for (const [route, method] of [
    ['/v1/services', 'get'],
    ['/v1/check', 'get'],
    ['/v1/services/{service}/check', 'get'],
    ['/v1/services/{service}/render', 'post'],
    ['/healthz', 'get'],
    ['/readyz', 'get'],
    ['/metrics', 'get'],
  ] as const) {
    t.ok(doc.paths[route]?.[method], `${method} ${route} documented`);
  }
  const render = doc.paths['/v1/services/{service}/render'].post;
  t.same(render.security, [{ bearer: ['render'] }], 'the bearer requirement names the least role (OpenAPI 3.1)');
  t.same(render.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`), ['path:service']);
  t.ok(render.responses['200'].content['application/json'].schema.properties.services, 'response schema included');
  t.same(Object.keys(render.responses).sort(), ['200', '4XX', '5XX']);
  t.same(doc.paths['/healthz'].get.security, []);
  const docs = await app.inject({ url: '/docs' });
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-type'], /text\/html/);
  // swagger-ui since issue 13: same-origin scripts only (test/http/openapi.test.ts loads every asset).
  t.notMatch(docs.body, /https?:\/\//, 'no external resource');
});

t.test('GET /metrics exposes request counts per route and renders by outcome in Prometheus text format', async (t) => {
  const response = await app.inject({ url: '/metrics' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(response.body, /# TYPE coffre_http_requests_total counter/);
  t.match(response.body, /coffre_http_requests_total\{method="GET",route="\/v1\/check",status="200"\} \d+/);
  // prom-client writes `le` first; histograms are labelled by status class since issue 13.
  t.match(response.body, /coffre_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/services",status_class="2xx"\} \d+/);
  t.match(response.body, /coffre_renders_total\{outcome="refused"\} 1/);
  t.match(response.body, /coffre_http_auth_failures_total\{reason="missing"\} \d+/);
  t.notMatch(response.body, /nope|nothing-here/, 'labels are route patterns, never raw URLs');
});

t.test('failed authentications are limited per client and per credential (429 + Retry-After); a valid token is never refused', async (t) => {
  const limited = fixture.app({ authFailures: { maxFailures: 3, windowMs: 60_000 } });
  t.teardown(() => limited.close());
  const attempt = (remoteAddress: string, token = 'coffre_wrong', headers: Record<string, string> = {}) =>
    limited.inject({ url: '/v1/services', headers: { ...bearer(token), ...headers }, remoteAddress });
  for (let i = 0; i < 3; i++) t.equal((await attempt('192.0.2.1', `coffre_wrong_${i}`)).statusCode, 401);
  const refused = await attempt('192.0.2.1', 'coffre_wrong_3');
  t.equal(refused.statusCode, 429, 'a fourth bad token from the same client');
  t.equal(refused.json().error.code, 'COFFRE_RATE_LIMITED');
  t.equal(refused.headers['retry-after'], '60');
  t.equal((await attempt('192.0.2.1', fixture.tokens.admin)).statusCode, 200, 'a valid token from the limited client is served');
  t.equal((await attempt('192.0.2.2', 'coffre_wrong_4')).statusCode, 401, 'another client with another bad token is unaffected');

  for (let i = 0; i < 3; i++) t.equal((await attempt(`198.51.100.${i + 1}`, 'coffre_stolen')).statusCode, 401);
  t.equal((await attempt('198.51.100.9', 'coffre_stolen')).statusCode, 429, 'the same bad credential is limited from every client');
  t.equal((await attempt('198.51.100.9', fixture.tokens.check)).statusCode, 200, 'that client\'s valid token still works');

  t.equal((await attempt('192.0.2.1', 'coffre_wrong', { 'x-forwarded-for': '203.0.113.7' })).statusCode, 429, 'X-Forwarded-For is ignored without trustProxy');
  // The window's expiry is tested with real time in rate-limit.test.ts (the limiter's store reads Date.now).
});

t.test('ten failures from 127.0.0.1 do not lock other local clients with valid tokens out (the default budget)', async (t) => {
  const local = fixture.app();
  t.teardown(() => local.close());
  for (let i = 0; i < 12; i++) await local.inject({ url: '/v1/services', headers: bearer(`coffre_guess_${i}`), remoteAddress: '127.0.0.1' });
  t.equal((await local.inject({ url: '/v1/services', headers: bearer('coffre_guess_x'), remoteAddress: '127.0.0.1' })).statusCode, 429, 'the guesser is limited');
  for (const token of [fixture.tokens.check, fixture.tokens.render, fixture.tokens.admin]) {
    t.equal((await local.inject({ url: '/v1/services', headers: bearer(token), remoteAddress: '127.0.0.1' })).statusCode, 200);
  }
});

t.test('with trustProxy, the client is the X-Forwarded-For address the trusted proxy reports', async (t) => {
  const proxied = fixture.app({ authFailures: { maxFailures: 2, windowMs: 60_000 }, trustProxy: ['127.0.0.1'] });
  t.teardown(() => proxied.close());
  const via = (client: string, token: string, remoteAddress = '127.0.0.1') =>
    proxied.inject({ url: '/v1/services', headers: { ...bearer(token), 'x-forwarded-for': client }, remoteAddress });
  t.equal((await via('203.0.113.1', 'coffre_a')).statusCode, 401);
  t.equal((await via('203.0.113.1', 'coffre_b')).statusCode, 401);
  t.equal((await via('203.0.113.1', 'coffre_c')).statusCode, 429, 'the client behind the proxy is limited');
  t.equal((await via('203.0.113.2', 'coffre_d')).statusCode, 401, 'another client behind the same proxy is not');
  t.equal((await via('203.0.113.3', 'coffre_e', '192.0.2.50')).statusCode, 401);
  t.equal((await via('203.0.113.4', 'coffre_f', '192.0.2.50')).statusCode, 401);
  t.equal((await via('203.0.113.5', 'coffre_g', '192.0.2.50')).statusCode, 429, 'an untrusted peer is its own client, whatever X-Forwarded-For says');
});

t.test('renders of one service are serialised, renders of different services run in parallel', async (t) => {
  const events: string[] = [];
  let running = 0;
  let maxParallel = 0;
  const serialApp = fixture.app({
    useCases: {
      runRender: async (context, options) => {
        const name = options.services.join(',');
        running += 1;
        maxParallel = Math.max(maxParallel, running);
        events.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { runRender } = await import('../../src/use-cases/render.js');
        // Real renders for the HTTP layer (a dry run is not queued); planned only, so the fixture stays unwritten.
        const report = await runRender(context, { ...options, dryRun: true });
        events.push(`end ${name}`);
        running -= 1;
        return report;
      },
    },
  });
  t.teardown(() => serialApp.close());
  const render = (service: string) => serialApp.inject({ method: 'POST', url: `/v1/services/${service}/render`, headers: bearer(fixture.tokens.admin), payload: {} });
  const answers = await Promise.all([render('chat'), render('chat'), render('pad')]);
  t.same(answers.map((a) => a.statusCode), [200, 200, 200]);
  const chatEvents = events.filter((e) => e.endsWith('chat'));
  t.same(chatEvents, ['start chat', 'end chat', 'start chat', 'end chat'], 'the second chat render starts after the first ended');
  t.equal(maxParallel, 2, 'pad ran alongside chat');
});
