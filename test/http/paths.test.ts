// No answer of the API names a path of the host: the repo lives in a folder with a unique name, and every
// body (successes, refusals, 4xx and 5xx errors, docs and metrics) is searched for that name.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const unique = `coffre-planted-${randomBytes(6).toString('hex')}`;
t.testdirName = path.join(path.dirname(t.testdirName), unique);
const fixture = await makeHttpFixture(t);
t.ok(fixture.dir.includes(unique), 'the repo sits in the uniquely named folder');
const adminVaultToken = await fixture.bao.tokenWithPolicies(['coffre-admin']);
const app = fixture.app({ openWorkspace: (scope) => openWorkspace({ root: fixture.dir, env: { ...fixture.env, VAULT_TOKEN: adminVaultToken }, ...(scope?.services ? { services: scope.services } : {}) }) });
t.teardown(() => app.close());

const answers: Array<{ request: string; status: number; body: string }> = [];
async function hit(method: string, url: string, payload?: unknown, token: string | null = fixture.tokens.admin): Promise<void> {
  const response = await app.inject({ method: method as 'GET', url, headers: token === null ? {} : bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  answers.push({ request: `${method} ${url}`, status: response.statusCode, body: response.body });
}

async function hitEverything(): Promise<void> {
  await hit('GET', '/v1/services');
  await hit('GET', '/v1/check');
  await hit('GET', '/v1/check?keysOnly=true');
  await hit('GET', '/v1/services/chat/check');
  await hit('GET', '/v1/services/nope/check');
  await hit('GET', '/v1/services/apps%2Fnope/check');
  await hit('POST', '/v1/services/chat/render', { dryRun: true });
  await hit('POST', '/v1/services/wiki/render', {});
  await hit('POST', '/v1/services/nope/render', { dryRun: true });
  await hit('GET', '/v1/services/chat/secrets/db/versions');
  await hit('GET', '/v1/services/pad/secrets/pad/versions');
  await hit('GET', '/v1/services/chat/secrets/nope/versions');
  await hit('GET', '/v1/services/nope/secrets/db/versions');
  await hit('PUT', '/v1/services/chat/secrets/db/keys/NOPE', { generate: {} });
  await hit('PUT', '/v1/services/nope/secrets/db/keys/A', { generate: {} });
  await hit('POST', '/v1/services/pad/secrets/pad/rollback', { to: 1 });
  await hit('POST', '/v1/services/nope/secrets/db/rollback', { to: 1 });
  await hit('GET', `/v1/services/${'x'.repeat(3000)}/check`);
  await hit('DELETE', '/v1/services/chat/check');
  await hit('GET', '/v1/nothing');
  await hit('GET', '/v1/services', undefined, null);
  await hit('GET', '/healthz', undefined, null);
  await hit('GET', '/readyz', undefined, null);
  await hit('GET', '/openapi.json', undefined, null);
  await hit('GET', '/docs', undefined, null);
  await hit('GET', '/metrics', undefined, null);
}

t.test('no answer names the repo folder, on a sound repo', async (t) => {
  await hitEverything();
  t.ok(answers.some((a) => a.status === 404 && a.body.includes('no service')), 'the unknown-service errors were answered');
  for (const answer of answers) t.notOk(answer.body.includes(unique), `${answer.request} (${answer.status})`);
});

t.test('no answer names the repo folder when its files are broken (compose file, example, coffre.yaml)', async (t) => {
  answers.length = 0;
  await writeFile(path.join(fixture.dir, 'chat', 'docker-compose.yml'), 'services:\n  db: [unclosed\n');
  await writeFile(path.join(fixture.dir, 'wiki', 'secrets', 'wiki.secrets.example'), 'WIKI_KEY=\n"broken line\n');
  await hitEverything();
  await writeFile(path.join(fixture.dir, 'coffre.yaml'), 'version: 1\nvault: [broken\n');
  await hitEverything();
  t.ok(answers.some((a) => a.status >= 500), 'errors were answered');
  for (const answer of answers) t.notOk(answer.body.includes(unique), `${answer.request} (${answer.status})`);
});
