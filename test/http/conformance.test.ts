// The API does what its OpenAPI document says: router errors in the `{ error }` shape without echoing the
// URL, 405 + Allow for undeclared methods, no type coercion and no silent trimming of bodies, required bodies
// and "exactly one of" documented, and a body limit that admits every schema-valid value.
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);
const adminVaultToken = await fixture.bao.tokenWithPolicies(['coffre-admin']);
const app = fixture.app({ openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: adminVaultToken }, ...(scope?.services ? { services: scope.services } : {}) }) });
t.teardown(() => app.close());
const admin = bearer(fixture.tokens.admin);

async function vaultData(): Promise<{ version: number; data: Record<string, string> }> {
  const answer = await fixture.bao.vaultHttp('GET', `secret/data/${fixture.bao.prefix}/chat/db`);
  return { version: answer.body.data.metadata.version, data: answer.body.data.data };
}

t.test('a path parameter longer than the router accepts is answered by the error handler, without the URL', async (t) => {
  const marker = `LONGPARAM${'x'.repeat(2000)}`;
  const response = await app.inject({ url: `/v1/services/${marker}/check`, headers: admin });
  t.equal(response.statusCode, 414);
  t.match(response.json(), { error: { code: 'COFFRE_USAGE', message: /path parameter is longer/ } });
  t.notOk(response.body.includes('LONGPARAM'), 'the URL is not echoed');
  t.match(fixture.logs(), /"reason":"FST_ERR_MAX_PARAM_LENGTH"/, 'and it is logged');
  const bad = await app.inject({ url: '/v1/services/%E0%A4%A/check', headers: admin });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: { code: 'COFFRE_USAGE' } });
  t.notOk(bad.body.includes('%E0'), 'a malformed URL is not echoed either');
});

t.test('every schema-valid path parameter reaches the route: a 512-character service name, even astral', async (t) => {
  for (const name of ['s'.repeat(512), '😀'.repeat(512)]) {
    const response = await app.inject({ url: `/v1/services/${encodeURIComponent(name)}/check`, headers: admin });
    t.equal(response.statusCode, 404, 'the route ran: no such service');
    t.equal(response.json().error.code, 'COFFRE_SERVICE_UNKNOWN');
  }
  const tooLong = await app.inject({ url: `/v1/services/${'s'.repeat(513)}/check`, headers: admin });
  t.equal(tooLong.statusCode, 400, 'one more character is a schema error');
});

t.test('an undeclared method on a known path is 405 with Allow, before authentication', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['DELETE', '/v1/services/chat/check', 'GET, HEAD'],
    ['POST', '/v1/check', 'GET, HEAD'],
    ['GET', '/v1/services/chat/render', 'POST'],
    ['DELETE', '/v1/services/chat/secrets/db/keys/DB_PASS', 'PUT'],
    ['PATCH', '/v1/services/chat/secrets/db/rollback', 'POST'],
    ['PUT', '/healthz', 'GET, HEAD'],
    ['POST', '/v1/services/', 'GET, HEAD'],
  ];
  for (const [method, url, allow] of cases) {
    const response = await app.inject({ method: method as 'GET', url });
    t.equal(response.statusCode, 405, `${method} ${url}`);
    t.equal(response.headers.allow, allow);
    t.equal(response.json().error.code, 'COFFRE_METHOD_NOT_ALLOWED');
  }
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/nothing' })).statusCode, 404, 'an unknown path stays 404');
});

t.test('bodies are not coerced and unknown fields are refused, not trimmed', async (t) => {
  const before = await vaultData();
  const cases: Array<[string, string, unknown]> = [
    ['POST', '/v1/services/chat/render', { dryRun: 'true' }],
    ['POST', '/v1/services/chat/render', { dryRun: 1 }],
    ['POST', '/v1/services/chat/render', { dryrun: true }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { generate: { length: '32' } }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { generate: {}, render: 'false' }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { generate: {}, unknown: 1 }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { value: 'canary-never-written', valu: 'x' }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { value: 12345 }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', { generate: {}, value: 'x' }],
    ['PUT', '/v1/services/chat/secrets/db/keys/DB_PASS', {}],
    ['POST', '/v1/services/chat/secrets/db/rollback', { to: '1' }],
    ['POST', '/v1/services/chat/secrets/db/rollback', { to: 1, extra: true }],
  ];
  for (const [method, url, payload] of cases) {
    const response = await app.inject({ method: method as 'PUT', url, headers: admin, payload: payload as object });
    t.equal(response.statusCode, 400, `${method} ${JSON.stringify(payload)}`);
    t.equal(response.json().error.code, 'COFFRE_USAGE');
  }
  for (const url of ['/v1/services/chat/secrets/db/keys/DB_PASS', '/v1/services/chat/secrets/db/rollback']) {
    const response = await app.inject({ method: url.endsWith('rollback') ? 'POST' : 'PUT', url, headers: admin });
    t.equal(response.statusCode, 400, `no body on ${url} is a 400, not a 500`);
  }
  t.equal((await vaultData()).version, before.version, 'nothing was written');
  t.equal((await app.inject({ url: '/v1/check?keysOnly=true', headers: admin })).json().keysOnly, true, 'a boolean query parameter still reads "true"');
  t.equal((await app.inject({ url: '/v1/check?keysOnly=1', headers: admin })).statusCode, 400, 'but not "1"');
});

t.test('the body limit admits the longest value the schema admits, in its longest JSON spelling', async (t) => {
  // 8192 astral characters (4 UTF-8 bytes each), written as \uD83D\uDE00 escapes: 12 bytes each.
  const value = '😀'.repeat(8192);
  const escaped = value.replace(/[\s\S]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const body = `{"value":"${escaped}","render":false,"allowExtra":false}`;
  t.ok(Buffer.byteLength(body) > 98_000, 'a large body');
  const response = await app.inject({ method: 'PUT', url: '/v1/services/chat/secrets/db/keys/DB_PASS', headers: { ...admin, 'content-type': 'application/json' }, payload: body });
  t.equal(response.statusCode, 200, response.body.slice(0, 200));
  t.equal((await vaultData()).data.DB_PASS, value, 'stored exactly');
  t.notOk(response.body.includes('😀') || response.body.includes('\\ud83d'), 'never answered');
  const oneMore = await app.inject({ method: 'PUT', url: '/v1/services/chat/secrets/db/keys/DB_PASS', headers: admin, payload: { value: `${value}x` } });
  t.equal(oneMore.statusCode, 400, '8193 characters are a schema error, not a body-limit error');
  const huge = await app.inject({ method: 'PUT', url: '/v1/services/chat/secrets/db/keys/DB_PASS', headers: { ...admin, 'content-type': 'application/json' }, payload: `{"value":"${'a'.repeat(200_000)}"}` });
  t.equal(huge.statusCode, 413);
  t.equal(huge.json().error.code, 'COFFRE_USAGE');
});

t.test('the OpenAPI document says what the server enforces: required bodies, oneOf, strict objects', async (t) => {
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  const put = doc.paths['/v1/services/{service}/secrets/{file}/keys/{key}'].put;
  t.equal(put.requestBody.required, true);
  const schema = put.requestBody.content['application/json'].schema;
  t.equal(schema.oneOf.length, 2, '"exactly one of" generate / value');
  t.same(schema.oneOf.map((s: { required: string[] }) => s.required), [['generate'], ['value']]);
  for (const branch of schema.oneOf) t.equal(branch.additionalProperties, false);
  t.equal(doc.paths['/v1/services/{service}/secrets/{file}/rollback'].post.requestBody.required, true);
  const render = doc.paths['/v1/services/{service}/render'].post.requestBody;
  t.equal(render.required, false, 'a render takes no body, null, or an object');
  t.equal(render.content['application/json'].schema.anyOf[0].additionalProperties, false);
});
