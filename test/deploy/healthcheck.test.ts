// bin/healthcheck.js, the container healthcheck of the Dockerfile and docker-compose.yml: it must follow
// the address coffre serve listens on (COFFRE_LISTEN) and TLS (COFFRE_TLS_CERT, which serve reads too),
// against the real built `coffre serve`.
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startServeProcess } from '../support/serve-process.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);
const healthcheck = path.join(projectRoot, 'bin', 'healthcheck.js');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Exit code and stderr of the healthcheck with exactly these variables. */
async function probe(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return exec(process.execPath, [healthcheck], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 15_000 }).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

t.test('plain HTTP: healthy on the address serve took from COFFRE_LISTEN, unhealthy elsewhere', async (t) => {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const serve = await startServeProcess(t, ['-C', path.join(projectRoot, 'examples', 'infra'), '--insecure-no-auth'], { COFFRE_LISTEN: listen });
  t.equal(serve.url, `http://${listen}`, 'serve listens where COFFRE_LISTEN says');
  t.equal((await probe({ COFFRE_LISTEN: listen })).code, 0, 'healthy');
  t.equal((await probe({ COFFRE_LISTEN: `0.0.0.0:${port}` })).code, 0, 'a wildcard listen address is probed on loopback');
  const wrong = await probe({ COFFRE_LISTEN: `127.0.0.1:${await freePort()}` });
  t.equal(wrong.code, 1, 'nothing listening: unhealthy');
  t.match(wrong.stderr, /healthcheck: http:\/\/127\.0\.0\.1:\d+\/healthz: .*ECONNREFUSED/);
  t.equal((await probe({ COFFRE_LISTEN: listen, COFFRE_TLS_CERT: '/x.pem' })).code, 1, 'HTTPS to a plain HTTP server fails');
  t.equal((await probe({ COFFRE_LISTEN: 'nonsense' })).code, 1, 'a bad COFFRE_LISTEN is unhealthy');
  await serve.stop();
});

t.test('HTTPS: serve takes its certificate from COFFRE_TLS_CERT/KEY, the healthcheck then speaks TLS', async (t) => {
  const dir = t.testdir();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
  const listen = `127.0.0.1:${await freePort()}`;
  const serve = await startServeProcess(t, ['-C', path.join(projectRoot, 'examples', 'infra'), '--insecure-no-auth'], {
    COFFRE_LISTEN: listen,
    COFFRE_TLS_CERT: cert,
    COFFRE_TLS_KEY: key,
  });
  t.equal(serve.url, `https://${listen}`, 'serve speaks HTTPS from the environment alone');
  t.equal((await probe({ COFFRE_LISTEN: listen, COFFRE_TLS_CERT: cert })).code, 0, 'healthy over HTTPS');
  t.equal((await probe({ COFFRE_LISTEN: listen })).code, 1, 'plain HTTP to the TLS port is unhealthy');
  await serve.stop();
});
