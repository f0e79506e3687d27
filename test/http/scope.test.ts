// Token scopes through the API: a glob matches a whole service name (a `pad` token never reaches `padx`),
// the repo-root service `.` is reached by `**` and `.`, and the Bearer scheme is case-insensitive.
import http from 'node:http';
import t from 'tap';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { listen } from '../../src/http/server.js';
import { createTokenRegistry, tokenDigest } from '../../src/http/token-registry.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';

const compose = (name: string) => `services:\n  ${name}:\n    image: ${name}\n`;
const dir = t.testdir({
  'docker-compose.yml': compose('root'),
  pad: { 'docker-compose.yml': compose('pad') },
  padx: { 'docker-compose.yml': compose('padx') },
  apps: { wiki: { 'docker-compose.yml': compose('wiki') } },
});
const tokens = { pad: 'coffre_scope_pad', all: 'coffre_scope_all', root: 'coffre_scope_root', apps: 'coffre_scope_apps' };
const registry = createTokenRegistry([
  { id: 'pad', sha256: tokenDigest(tokens.pad), role: 'check', services: ['pad'] },
  { id: 'all', sha256: tokenDigest(tokens.all), role: 'check', services: ['**'] },
  { id: 'root', sha256: tokenDigest(tokens.root), role: 'check', services: ['.'] },
  { id: 'apps', sha256: tokenDigest(tokens.apps), role: 'check', services: ['apps/*'] },
]);
const app = buildApp({
  openWorkspace: (scope) => openWorkspace({ root: dir, env: {}, ...(scope?.services ? { services: scope.services } : {}) }),
  logger: createLogger({ level: 'silent' }),
  tokens: registry,
});
t.teardown(() => app.close());

const listed = async (token: string) =>
  (await app.inject({ url: '/v1/services', headers: { authorization: `Bearer ${token}` } })).json().services.map((s: { name: string }) => s.name);
const checkStatus = async (token: string, service: string) =>
  (await app.inject({ url: `/v1/services/${encodeURIComponent(service)}/check`, headers: { authorization: `Bearer ${token}` } })).statusCode;
const checked = async (token: string) =>
  (await app.inject({ url: '/v1/check', headers: { authorization: `Bearer ${token}` } })).json().services.map((s: { name: string }) => s.name);

/** GET over a real socket: the path is sent as written (inject and WHATWG URL would resolve `%2E` away). */
function rawGet(base: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}/`, { path, headers: { authorization: `Bearer ${token}` }, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end();
  });
}

t.test('a glob matches whole service names: a `pad` token sees and checks pad, never padx', async (t) => {
  t.same(await listed(tokens.pad), ['pad']);
  t.equal(await checkStatus(tokens.pad, 'pad'), 200);
  t.equal(await checkStatus(tokens.pad, 'padx'), 403, 'padx is not in the scope of "pad"');
  t.same(await listed(tokens.apps), ['apps/wiki']);
  t.equal(await checkStatus(tokens.apps, 'apps/wiki'), 200);
  t.equal(await checkStatus(tokens.apps, 'pad'), 403);
});

t.test('the compose file at the repo root (service ".") is reached by ** and by ".", not by narrower globs', async (t) => {
  t.same(await listed(tokens.all), ['.', 'apps/wiki', 'pad', 'padx']);
  t.same(await checked(tokens.all), ['.', 'apps/wiki', 'pad', 'padx']);
  t.same(await listed(tokens.root), ['.']);
  t.same(await checked(tokens.root), ['.']);
  t.same(await listed(tokens.pad), ['pad']);
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  t.equal(await rawGet(url, '/v1/services/%2E/check', tokens.all), 200, '** checks "."');
  t.equal(await rawGet(url, '/v1/services/%2E/check', tokens.root), 200, '"." checks "."');
  t.equal(await rawGet(url, '/v1/services/%2E/check', tokens.pad), 403);
  t.equal(await rawGet(url, '/v1/services/%2E/check', tokens.apps), 403);
  t.equal(await rawGet(url, '/v1/services/pad/check', tokens.root), 403);
});

t.test('the Bearer scheme is case-insensitive (RFC 9110); the token is not', async (t) => {
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    const answer = await app.inject({ url: '/v1/services', headers: { authorization: `${scheme} ${tokens.all}` } });
    t.equal(answer.statusCode, 200, scheme);
  }
  const wrongCase = await app.inject({ url: '/v1/services', headers: { authorization: `Bearer ${tokens.all.toUpperCase()}` } });
  t.equal(wrongCase.statusCode, 401);
});
