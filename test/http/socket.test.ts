// Real-socket tests of the HTTP service: auth-failure rate limiting per client address, graceful shutdown
// (an in-flight request completes after close() starts), TLS, and the built `coffre serve` binary
// started, queried and stopped with SIGTERM.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
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

function get(url: string, options: { token?: string; localAddress?: string; ca?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.request(
      url,
      { headers: options.token ? bearer(options.token) : {}, agent: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}), ...(options.ca ? { ca: options.ca } : {}) },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

t.test('over a real socket, failed authentications are limited per client address (429 + Retry-After)', async (t) => {
  const app = fixture.app({ authFailures: { maxFailures: 3, windowMs: 30_000 } });
  t.teardown(() => app.close());
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  for (let i = 0; i < 3; i++) t.equal((await get(`${url}/v1/services`, { token: 'coffre_guess' })).status, 401, `attempt ${i + 1} is 401`);
  const limited = await get(`${url}/v1/services`, { token: fixture.tokens.check });
  t.equal(limited.status, 429, 'the fourth request is refused, even with a valid token');
  t.equal(limited.headers['retry-after'], '30');
  t.equal(JSON.parse(limited.body).error.code, 'COFFRE_RATE_LIMITED');
  const other = await get(`${url}/v1/services`, { token: fixture.tokens.check, localAddress: '127.0.0.2' });
  t.equal(other.status, 200, 'another client address is not limited');
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
