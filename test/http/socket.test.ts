// Real-socket tests of the HTTP service: auth-failure rate limiting per client address, graceful shutdown
// (an in-flight request completes after close() starts), TLS, and the built `coffre serve` binary
// started, queried and stopped with SIGTERM.
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { listen } from '../../src/http/server.js';
import { tokenDigest } from '../../src/http/token-registry.js';
import { runCheck } from '../../src/use-cases/check.js';
import { startServeProcess } from '../support/serve-process.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const run = promisify(execFile);
const fixture = await makeHttpFixture(t);

function get(
  url: string,
  options: { token?: string; localAddress?: string; ca?: string; method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = { ...(options.token ? bearer(options.token) : {}), ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
    const request = client.request(
      url,
      { method: options.method ?? 'GET', headers, agent: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}), ...(options.ca ? { ca: options.ca } : {}) },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

t.test('over a real socket, failed authentications are limited per client address (429 + Retry-After), valid tokens are not', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 3, windowMs: 30_000 } });
  t.teardown(() => app.close());
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  for (let i = 0; i < 3; i++) t.equal((await get(`${url}/v1/services`, { token: `coffre_guess_${i}` })).status, 401, `attempt ${i + 1} is 401`);
  const limited = await get(`${url}/v1/services`, { token: 'coffre_guess_3' });
  t.equal(limited.status, 429, 'the fourth failure is refused');
  t.equal(limited.headers['retry-after'], '30');
  t.equal(JSON.parse(limited.body).error.code, 'COFFRE_RATE_LIMITED');
  t.equal((await get(`${url}/v1/services`, { token: fixture.tokens.check })).status, 200, 'a valid token from the same address is served');
  const other = await get(`${url}/v1/services`, { token: 'coffre_guess_4', localAddress: '127.0.0.2' });
  t.equal(other.status, 401, 'another client address is not limited');
  t.equal((await get(`${url}/healthz`)).status, 200, 'open routes stay reachable');
});

t.test('graceful shutdown: an in-flight request completes after close() starts, new connections are refused', async (t) => {
  let entered!: () => void;
  const inFlight = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const app = fixture.app({
    useCases: {
      runCheck: async (context, options) => {
        entered();
        await gate;
        return runCheck(context, options);
      },
    },
  });
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  const pending = get(`${url}/v1/services/chat/check`, { token: fixture.tokens.check });
  await inFlight;
  let closed = false;
  const closing = app.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(closed, false, 'close() waits for the in-flight request');
  await t.rejects(get(`${url}/healthz`), { code: 'ECONNREFUSED' }, 'no new connection once closing');
  release();
  const answer = await pending;
  t.equal(answer.status, 200, 'the in-flight request completed');
  t.equal(JSON.parse(answer.body).services[0].name, 'chat');
  await closing;
  t.equal(closed, true);
});

t.test('with --tls-cert/--tls-key material the API answers over HTTPS', async (t) => {
  const dir = t.testdir();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
  const pem = await readFile(cert, 'utf8');
  const app = fixture.app({ tls: { cert: pem, key: await readFile(key, 'utf8') } });
  t.teardown(() => app.close());
  const url = await listen(app, { host: '127.0.0.1', port: 0 }, true);
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const answer = await get(`${url}/v1/services`, { token: fixture.tokens.check, ca: pem });
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.body).services.length, 3);
});

t.test('the built binary: `coffre serve` answers with a tokens file and exits 0 on SIGTERM', async (t) => {
  const tokensFile = path.join(t.testdir(), 'tokens.yaml');
  await writeFile(tokensFile, `tokens:\n  - { id: ci, sha256: ${tokenDigest(fixture.tokens.check)}, role: check, services: ["**"] }\n`);
  const serve = await startServeProcess(t, ['-C', fixture.dir, '--tokens', tokensFile, '--listen', '127.0.0.1:0'], fixture.env);
  const { url } = serve;
  const answer = await get(`${url}/v1/check`, { token: fixture.tokens.check });
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.body).summary.services, 3);
  t.equal((await get(`${url}/v1/check`)).status, 401);
  t.equal(await serve.stop(), 0, 'exit 0 after SIGTERM');
  const { stdout, stderr } = serve.output();
  t.match(stdout, /"msg":"closed"/);
  for (const value of [...fixture.canaries, fixture.tokens.check, fixture.env.VAULT_TOKEN as string]) t.notOk(stdout.includes(value) || stderr.includes(value), 'no value or token in the output');
});

t.test('the built binary with --insecure-no-auth is read-only and answers only loopback Host headers', async (t) => {
  const sopsFile = path.join(fixture.dir, 'pad', 'secrets', 'pad.secrets.sops.yaml');
  const before = await readFile(sopsFile, 'utf8');
  const serve = await startServeProcess(t, [fixture.dir, '--insecure-no-auth', '--listen', '127.0.0.1:0'], fixture.env);
  const { url } = serve;
  const port = new URL(url).port;
  t.equal((await get(`${url}/v1/check`)).status, 200, 'check needs no token');
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) t.equal((await get(`${url}/v1/services`, { headers: { host } })).status, 200, host);

  const put = await get(`${url}/v1/services/pad/secrets/pad/keys/PAD_TOKEN`, { method: 'PUT', body: { value: 'rewritten-without-auth' } });
  t.equal(put.status, 403, 'an unauthenticated secret write is refused');
  t.match(JSON.parse(put.body).error, { code: 'COFFRE_FORBIDDEN', message: /--insecure-no-auth.*read-only/ });
  t.equal(await readFile(sopsFile, 'utf8'), before, 'the sops file is untouched');
  const render = await get(`${url}/v1/services/pad/render`, { method: 'POST', body: {} });
  t.equal(render.status, 403, 'an unauthenticated render is refused');
  await t.rejects(stat(path.join(fixture.dir, 'pad', 'secrets', 'pad.secrets')), { code: 'ENOENT' }, 'nothing rendered');
  const rollback = await get(`${url}/v1/services/chat/secrets/db/rollback`, { method: 'POST', body: { to: 1 } });
  t.equal(rollback.status, 403);

  for (const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `0.0.0.0:${port}`]) {
    const rebound = await get(`${url}/v1/check`, { headers: { host } });
    t.equal(rebound.status, 421, `Host ${host} is refused (DNS rebinding)`);
    t.equal(JSON.parse(rebound.body).error.code, 'COFFRE_HOST_REFUSED');
    t.notOk(rebound.body.includes('"services"'), 'no report');
  }
  t.equal((await get(`${url}/metrics`, { headers: { host: 'evil.example' } })).status, 421, 'open routes too');
  t.equal(await serve.stop(), 0);
});

t.test('the built binary with a tokens file and --allowed-host answers only those Host names', async (t) => {
  const tokensFile = path.join(t.testdir(), 'tokens.yaml');
  await writeFile(tokensFile, `tokens:\n  - { id: ci, sha256: ${tokenDigest(fixture.tokens.check)}, role: check, services: ["**"] }\n`);
  const open = await startServeProcess(t, [fixture.dir, '--tokens', tokensFile, '--listen', '127.0.0.1:0'], fixture.env);
  t.equal((await get(`${open.url}/v1/services`, { token: fixture.tokens.check, headers: { host: 'coffre.internal.example' } })).status, 200, 'by default any Host is answered with auth on');
  t.equal(await open.stop(), 0);
  const serve = await startServeProcess(t, [fixture.dir, '--tokens', tokensFile, '--listen', '127.0.0.1:0', '--allowed-host', 'coffre.internal.example,127.0.0.1'], fixture.env);
  const port = new URL(serve.url).port;
  t.equal((await get(`${serve.url}/v1/services`, { token: fixture.tokens.check, headers: { host: `coffre.internal.example:${port}` } })).status, 200);
  t.equal((await get(`${serve.url}/v1/services`, { token: fixture.tokens.check })).status, 200, '127.0.0.1 is listed');
  const refused = await get(`${serve.url}/v1/services`, { token: fixture.tokens.check, headers: { host: `localhost:${port}` } });
  t.equal(refused.status, 421);
  t.equal(JSON.parse(refused.body).error.code, 'COFFRE_HOST_REFUSED');
  t.equal(await serve.stop(), 0);
});

t.test('the built binary: no answer names the repo\'s absolute path (unknown service, bad file, errors)', async (t) => {
  const tokensFile = path.join(t.testdir(), 'tokens.yaml');
  await writeFile(tokensFile, `tokens:\n  - { id: ops, sha256: ${tokenDigest(fixture.tokens.admin)}, role: admin, services: ["**"] }\n`);
  const serve = await startServeProcess(t, [fixture.dir, '--tokens', tokensFile, '--listen', '127.0.0.1:0'], fixture.env);
  // First request after the start: coffre.yaml broke meanwhile, so the error names the file.
  const config = path.join(fixture.dir, 'coffre.yaml');
  const goodConfig = await readFile(config, 'utf8');
  await writeFile(config, 'version: 1\nvault: [broken\n');
  const broken = await get(`${serve.url}/v1/check`, { token: fixture.tokens.admin });
  await writeFile(config, goodConfig);
  t.equal(broken.status, 500);
  t.match(JSON.parse(broken.body).error, { code: 'COFFRE_CONFIG_INVALID', message: /^coffre\.yaml:\d+: / });
  t.notOk(broken.body.includes(fixture.dir), 'a broken coffre.yaml is named relative to the repo');
  const answers = await Promise.all([
    get(`${serve.url}/v1/services/nope/check`, { token: fixture.tokens.admin }),
    get(`${serve.url}/v1/services/nope/render`, { token: fixture.tokens.admin, method: 'POST', body: { dryRun: true } }),
    get(`${serve.url}/v1/services/chat/secrets/nope/versions`, { token: fixture.tokens.admin }),
    get(`${serve.url}/v1/services/nope/secrets/db/versions`, { token: fixture.tokens.admin }),
  ]);
  t.same(answers.map((a) => a.status), [404, 404, answers[2]?.status, 404]);
  t.match(JSON.parse(answers[0]?.body ?? '{}').error.message, /no service "nope"/);
  for (const answer of answers) t.notOk(answer.body.includes(fixture.dir), `no absolute path in ${answer.body.slice(0, 80)}`);
  t.equal(await serve.stop(), 0);
});
