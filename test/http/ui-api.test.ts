// The admin page's server side without a browser: /ui/ and its assets carry helmet's headers and a strict CSP
// (and /v1 answers do not), the page holds no inline code and no external URL, the script parses, and the
// read-only routes the page needs (/v1/whoami, …/keys, …/history) answer per role and scope with names only.
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { createAuditTrail } from '../../src/http/audit-trail.js';
import { createLogger } from '../../src/http/logger.js';
import { buildApp } from '../../src/http/app.js';
import { UI_FAVICON, UI_HTML } from '../../src/http/ui/page.js';
import { UI_SCRIPT } from '../../src/http/ui/script.js';
import { UI_STYLE } from '../../src/http/ui/style.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { launchChromium } from '../support/chromium.js';
import { projectRoot } from '../support/tools.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);
await writeFile(path.join(fixture.dir, 'chat', 'secrets', 'db.secrets.example'), '# the user\nDB_USER=postgres-example-user\n# @generate=hex:48\n# @allow-empty\nDB_PASS=changeme\n# @optional\nDB_HOST=\n# OLD=1\n');
const adminVault = await fixture.bao.tokenWithPolicies(['coffre-admin']);
const app = fixture.app({ openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: adminVault }, ...(scope?.services ? { services: scope.services } : {}) }) });
t.teardown(() => app.close());
const bodies: string[] = [];

async function get(url: string, token?: string) {
  const response = await app.inject({ url, ...(token ? { headers: bearer(token) } : {}) });
  bodies.push(response.body);
  return response;
}

t.test('GET /ui/ and its assets: helmet headers, a strict CSP, no framing; /v1 answers carry none of it', async (t) => {
  for (const [url, type] of [
    ['/ui/', 'text/html'],
    ['/ui', 'text/html'],
    ['/ui/app.js', 'text/javascript'],
    ['/ui/app.css', 'text/css'],
    ['/ui/icon.svg', 'image/svg+xml'],
  ] as const) {
    const response = await get(url);
    t.equal(response.statusCode, 200, url);
    t.match(response.headers['content-type'], new RegExp(`^${type.replace('+', '\\+')}`), `${url} type`);
    t.equal(
      response.headers['content-security-policy'],
      "default-src 'self';script-src 'self';style-src 'self';img-src 'self';connect-src 'self';font-src 'self';object-src 'none';base-uri 'none';" +
        "form-action 'none';frame-ancestors 'none';require-trusted-types-for 'script';trusted-types 'none'",
      `${url} CSP`,
    );
    t.equal(response.headers['x-frame-options'], 'DENY');
    t.equal(response.headers['referrer-policy'], 'no-referrer');
    t.equal(response.headers['cross-origin-opener-policy'], 'same-origin');
    t.equal(response.headers['x-content-type-options'], 'nosniff');
    t.equal(response.headers['cache-control'], 'no-store');
  }
  const api = await get('/v1/whoami', fixture.tokens.check);
  t.equal(api.headers['content-security-policy'], undefined, 'helmet is scoped to the page');
  t.equal((await get('/ui/nothing')).statusCode, 404);
  t.match((await get('/ui/')).body, /<meta name="coffre-auth" content="token">/, 'the page knows a token is needed');
});

t.test('the page has no inline script or style, no event attribute, no external URL; the script parses and never uses innerHTML', async (t) => {
  t.notMatch(UI_HTML, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
  t.notMatch(UI_HTML, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handler');
  for (const text of [UI_HTML, UI_SCRIPT, UI_STYLE]) t.notMatch(text, /https?:\/\/|\/\/cdn/i, 'no external URL');
  t.notMatch(UI_FAVICON.replace('http://www.w3.org/2000/svg', ''), /https?:/);
  t.doesNotThrow(() => new Function(UI_SCRIPT), 'app.js is valid JavaScript');
  t.notMatch(UI_SCRIPT.replace(/^\s*\/\/.*$/gm, ''), /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|localStorage|sessionStorage|document\.cookie/, 'no HTML sink, no storage');
});

t.test('GET /v1/whoami: id, role, scope and what the role may do; anonymous without authentication', async (t) => {
  t.same((await get('/v1/whoami', fixture.tokens.check)).json(), { id: 'ci', role: 'check', services: ['**'], anonymous: false, may: { check: true, render: false, admin: false } });
  t.same((await get('/v1/whoami', fixture.tokens.padRender)).json(), { id: 'pad-host', role: 'render', services: ['pad'], anonymous: false, may: { check: true, render: true, admin: false } });
  t.same((await get('/v1/whoami', fixture.tokens.admin)).json().may, { check: true, render: true, admin: true });
  const missing = await get('/v1/whoami');
  t.equal(missing.statusCode, 401);
  t.equal(missing.json().error.code, 'COFFRE_UNAUTHENTICATED');
  const open = buildApp({ openWorkspace: () => openWorkspace({ root: fixture.dir, env: fixture.env }), logger: createLogger({ level: 'silent' }), tokens: null });
  t.teardown(() => open.close());
  t.match((await open.inject({ url: '/ui/', headers: { host: '127.0.0.1' } })).body, /<meta name="coffre-auth" content="none">/, 'no sign-in without authentication');
  const anonymous = await open.inject({ url: '/v1/whoami', headers: { host: '127.0.0.1' } });
  t.same(anonymous.json(), { id: 'anonymous', role: 'check', services: ['**'], anonymous: true, may: { check: true, render: false, admin: false } });
});

t.test('GET …/secrets/:file/keys: names, lines and annotations of the example, never its values; scoped', async (t) => {
  const response = await get('/v1/services/chat/secrets/db/keys', fixture.tokens.check);
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json(), {
    service: 'chat',
    file: 'db',
    target: 'chat/secrets/db.secrets',
    example: 'chat/secrets/db.secrets.example',
    keys: [
      { name: 'DB_USER', line: 2, optional: false, allowEmpty: false, commentedOut: false, generate: null, interpolated: false },
      { name: 'DB_PASS', line: 5, optional: false, allowEmpty: true, commentedOut: false, generate: { charset: 'hex', length: 48 }, interpolated: false },
      { name: 'DB_HOST', line: 7, optional: true, allowEmpty: false, commentedOut: false, generate: null, interpolated: false },
      { name: 'OLD', line: 8, optional: true, allowEmpty: false, commentedOut: true, generate: null, interpolated: false },
    ],
  });
  t.notMatch(response.body, /postgres-example-user|changeme|the user/, 'no example value or comment');
  const byTarget = await get(`/v1/services/chat/secrets/${encodeURIComponent('chat/secrets/db.secrets')}/keys`, fixture.tokens.check);
  t.equal(byTarget.json().file, 'db', 'the repo-relative target names the file too');
  const outOfScope = await get('/v1/services/chat/secrets/db/keys', fixture.tokens.padRender);
  t.equal(outOfScope.statusCode, 403);
  t.equal(outOfScope.json().error.code, 'COFFRE_FORBIDDEN');
  const unknown = await get('/v1/services/chat/secrets/nope/keys', fixture.tokens.check);
  t.equal(unknown.statusCode, 400);
  t.match(unknown.json().error.message, /no secrets file "nope"/);
});

t.test('GET …/history: the service\'s renders and writes from the audit trail, newest first, scoped', async (t) => {
  t.same((await get('/v1/services/pad/history', fixture.tokens.check)).json(), { service: 'pad', kept: { where: 'memory', capacity: 500 }, entries: [] });
  const plan = await app.inject({ method: 'POST', url: '/v1/services/pad/render', headers: bearer(fixture.tokens.padRender), payload: { dryRun: true } });
  t.equal(plan.statusCode, 200, plan.body);
  const rotate = await app.inject({ method: 'PUT', url: '/v1/services/chat/secrets/db/keys/DB_PASS', headers: bearer(fixture.tokens.admin), payload: { generate: {} } });
  t.equal(rotate.statusCode, 200, rotate.body);
  const pad = (await get('/v1/services/pad/history', fixture.tokens.padRender)).json();
  t.equal(pad.entries.length, 1);
  t.match(pad.entries[0], { action: 'render', service: 'pad', dryRun: true, outcome: 'planned', tokenId: 'pad-host', files: ['pad/secrets/pad.secrets'], keys: ['PAD_TOKEN'], file: null });
  t.ok(Date.parse(pad.entries[0].time) > Date.now() - 60_000, 'a recent ISO time');
  const chat = (await get('/v1/services/chat/history', fixture.tokens.check)).json();
  t.match(chat.entries, [{ action: 'rotate', file: 'db', key: 'DB_PASS', outcome: 'written', tokenId: 'ops', oldVersion: 1, newVersion: 2, dryRun: false }]);
  t.equal((await get('/v1/services/chat/history', fixture.tokens.padRender)).statusCode, 403, 'another service: refused');
  const all = (await get('/v1/history', fixture.tokens.admin)).json();
  t.same(all.entries.map((e: { service: string; action: string }) => `${e.service}:${e.action}`), ['chat:rotate', 'pad:render'], 'every service, newest first');
  const scoped = (await get('/v1/history', fixture.tokens.padRender)).json();
  t.same(scoped.entries.map((e: { service: string }) => e.service), ['pad'], 'only the services of the token\'s scope');
});

t.test('the audit trail keeps the newest lines up to its capacity, copies allow-listed fields only, and still logs', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  const trail = createAuditTrail(2, () => new Date('2026-01-02T03:04:05Z'));
  const audit = trail.wrap(logger.child({ component: 'audit' }));
  audit.info({ audit: 'render', service: 'a', outcome: 'written', keys: ['K'], value: 'not-kept' }, 'render');
  audit.info({ audit: 'rotate', service: 'b', key: 'K', oldVersion: 1, newVersion: 2, outcome: 'written' }, 'rotate');
  audit.info({ audit: 'rollback', service: 'a', oldVersion: 2, newVersion: 3, outcome: 'written' }, 'rollback');
  audit.info({ something: 'else' }, 'not an audit line');
  audit.info('plain message');
  t.equal(lines.length, 5, 'every call still reaches the log');
  t.same(trail.recent().map((e) => `${e.service}:${e.action}`), ['a:rollback', 'b:rotate'], 'newest first, oldest dropped');
  t.same(trail.recent('a').map((e) => e.action), ['rollback']);
  t.equal(trail.recent('b')[0]?.time, '2026-01-02T03:04:05.000Z');
  t.notOk(JSON.stringify(trail.recent()).includes('not-kept'));
});

t.test('the demo repo: keys of its sops files are listed from the example', async (t) => {
  const demo = buildApp({ openWorkspace: () => openWorkspace({ root: path.join(projectRoot, 'examples', 'infra'), env: {} }), logger: createLogger({ level: 'silent' }), tokens: null });
  t.teardown(() => demo.close());
  const response = await demo.inject({ url: '/v1/services/etherpad/secrets/etherpad/keys', headers: { host: 'localhost' } });
  t.equal(response.statusCode, 200, response.body);
  t.match(response.json().keys.find((k: { name: string }) => k.name === 'SESSION_KEY'), { generate: { charset: 'hex', length: 64 } });
});

t.test('the browser tests fail loudly without Chromium; they skip only when COFFRE_SKIP_BROWSER_TESTS=1 says it cannot be installed', async (t) => {
  const saved = process.env.COFFRE_SKIP_BROWSER_TESTS;
  t.teardown(() => {
    if (saved === undefined) delete process.env.COFFRE_SKIP_BROWSER_TESTS;
    else process.env.COFFRE_SKIP_BROWSER_TESTS = saved;
  });
  delete process.env.COFFRE_SKIP_BROWSER_TESTS;
  const comments: string[] = [];
  const probe = { teardown: () => undefined, comment: (message: string) => void comments.push(message) };
  await t.rejects(launchChromium(probe, '/nonexistent/chromium'), /Chromium is missing at \/nonexistent\/chromium.*apt-get install -y chromium/);
  process.env.COFFRE_SKIP_BROWSER_TESTS = '1';
  t.equal(await launchChromium(probe, '/nonexistent/chromium'), null);
  t.match(comments[0], /SKIPPED/);
});

t.test('no planted value in any answer', async (t) => {
  const all = bodies.join('\n');
  for (const value of [...fixture.canaries, ...Object.values(fixture.tokens)]) t.notOk(all.includes(value), `no ${value.slice(0, 12)}…`);
});
