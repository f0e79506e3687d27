// TLS to a real OpenBao: the CA (VAULT_CACERT / BAO_CACERT / VAULT_CAPATH / vault.tls.caCert), the SNI name
// (VAULT_TLS_SERVER_NAME), a client certificate for a listener that requires one (VAULT_CLIENT_CERT/_KEY),
// and VAULT_SKIP_VERIFY refused. The certificates are the ones `bao server -dev-tls` generates; a second dev
// server serves them on a TLS listener and on a listener requiring a client certificate.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { coffreFailure } from '../support/coffre-failure.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { toolPath } from '../support/tools.js';

const failure = coffreFailure;

/** A port whose next one (the dev server's cluster port) is free too. */
async function freePort(): Promise<number> {
  const tryListen = (port: number): Promise<number | null> =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : null));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(0);
    if (port !== null && port < 65_000 && (await tryListen(port + 1)) !== null) return port;
  }
  throw new Error('no free port pair');
}

function startBao(args: string[], home: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(toolPath('bao'), ['server', '-dev', '-dev-no-store-token', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home },
    cwd: home,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
    }
  };
  process.once('exit', () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  return { child, output: () => output, stop };
}

async function until(what: string, check: () => Promise<boolean>, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not ready within 30 s; output tail:\n${output().split('\n').slice(-20).join('\n')}`);
}

t.test('TLS to OpenBao: CA, server name, client certificate, skip-verify refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffre-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certs = path.join(dir, 'certs');
  const minted = path.join(dir, 'minted');
  await mkdir(certs);
  await mkdir(minted);

  // 1. `bao server -dev-tls` mints a CA and a server certificate (for localhost and 127.0.0.1, client auth too).
  const mintPort = await freePort();
  const mint = startBao(['-dev-tls', `-dev-tls-cert-dir=${minted}`, `-dev-listen-address=127.0.0.1:${mintPort}`], dir);
  t.teardown(mint.stop);
  await until('bao -dev-tls', async () => (await readdir(minted)).filter((f) => f.endsWith('.pem')).length === 3, mint.output);
  for (const file of ['vault-ca.pem', 'vault-cert.pem', 'vault-key.pem']) await copyFile(path.join(minted, file), path.join(certs, file));
  await mint.stop();
  const ca = path.join(certs, 'vault-ca.pem');
  const cert = path.join(certs, 'vault-cert.pem');
  const key = path.join(certs, 'vault-key.pem');

  // 2. A dev server with a plain listener (setup), a TLS one and one that requires a client certificate.
  const port = await freePort();
  const tlsPort = await freePort();
  const mtlsPort = await freePort();
  const rootToken = `root-${randomBytes(8).toString('hex')}`;
  const listener = (p: number, requireClient: boolean): string =>
    `listener "tcp" {\n  address = "127.0.0.1:${p}"\n  tls_cert_file = "${cert}"\n  tls_key_file = "${key}"\n` +
    (requireClient ? `  tls_client_ca_file = "${ca}"\n  tls_require_and_verify_client_cert = true\n` : '') +
    '}\n';
  await writeFile(path.join(dir, 'listeners.hcl'), listener(tlsPort, false) + listener(mtlsPort, true));
  const server = startBao([`-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, `-config=${path.join(dir, 'listeners.hcl')}`], dir);
  t.teardown(server.stop);
  const plain = `http://127.0.0.1:${port}`;
  await until('bao -dev', async () => (await fetch(`${plain}/v1/sys/health`)).status === 200, server.output);
  let written = 0;
  await until(
    'kv write',
    async () => {
      const r = await fetch(`${plain}/v1/secret/data/app/db`, { method: 'POST', headers: { 'X-Vault-Token': rootToken }, body: JSON.stringify({ data: { DB_PASS: 'over-tls' } }) });
      await r.arrayBuffer();
      written = r.status;
      return r.status === 200;
    },
    server.output,
  );
  t.equal(written, 200);

  const root = path.join(dir, 'repo');
  await mkdir(root);
  const ref = { kind: 'vault', mount: 'secret', path: 'app/db' } as const;
  const tlsAddress = `https://127.0.0.1:${tlsPort}`;
  const mtlsAddress = `https://127.0.0.1:${mtlsPort}`;
  const read = async (env: Record<string, string>, address = tlsAddress): Promise<unknown> => {
    const workspace = await openWorkspace({ root, env: { BAO_ADDR: address, BAO_TOKEN: rootToken, ...env } });
    try {
      return Object.fromEntries((await workspace.vault!.readValues(ref))!.values);
    } finally {
      workspace.close();
    }
  };

  const untrusted = await failure(read({}));
  t.equal(untrusted.code, 'COFFRE_SOURCE_UNREACHABLE', 'without the CA: unreachable');
  t.match(untrusted.message, /TLS: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): the server's certificate is not trusted; give its CA with VAULT_CACERT/);

  for (const variable of ['VAULT_CACERT', 'BAO_CACERT']) t.same(await read({ [variable]: ca }), { DB_PASS: 'over-tls' }, `${variable}: read over TLS`);
  t.same(await read({ BAO_CACERT: ca, VAULT_CACERT: path.join(dir, 'absent.pem') }), { DB_PASS: 'over-tls' }, 'BAO_CACERT wins over VAULT_CACERT');
  await mkdir(path.join(dir, 'cadir'));
  await copyFile(ca, path.join(dir, 'cadir', 'ca.pem'));
  t.same(await read({ VAULT_CAPATH: path.join(dir, 'cadir') }), { DB_PASS: 'over-tls' }, 'VAULT_CAPATH: a directory of CA files');
  await writeFile(path.join(dir, 'cadir', 'README'), 'not a certificate\n');
  const badDir = await failure(read({ VAULT_CAPATH: path.join(dir, 'cadir') }));
  t.equal(badDir.code, 'COFFRE_CONFIG_INVALID');
  t.match(badDir.message, `${path.join(dir, 'cadir', 'README')} (VAULT_CAPATH) holds no PEM certificate`);
  const missing = await failure(read({ VAULT_CACERT: path.join(dir, 'absent.pem') }));
  t.equal(missing.code, 'COFFRE_CONFIG_INVALID');
  t.match(missing.message, `cannot read ${path.join(dir, 'absent.pem')} (VAULT_CACERT): ENOENT`);

  // The SNI name: a name the certificate does not hold is a named TLS error; one it holds works.
  const wrongName = await failure(read({ VAULT_CACERT: ca, VAULT_TLS_SERVER_NAME: 'not-this.example' }));
  t.equal(wrongName.code, 'COFFRE_SOURCE_UNREACHABLE');
  t.match(wrongName.message, /TLS: ERR_TLS_CERT_ALTNAME_INVALID: .*VAULT_TLS_SERVER_NAME/);
  t.same(await read({ VAULT_CACERT: ca, BAO_TLS_SERVER_NAME: 'localhost' }), { DB_PASS: 'over-tls' }, 'BAO_TLS_SERVER_NAME=localhost');

  // VAULT_SKIP_VERIFY is refused, not honoured; false is fine; it is not even looked at for an http address.
  for (const variable of ['VAULT_SKIP_VERIFY', 'BAO_SKIP_VERIFY']) {
    const skip = await failure(read({ [variable]: 'true' }));
    t.equal(skip.code, 'COFFRE_CONFIG_INVALID', `${variable}=true refused`);
    t.match(skip.message, `${variable} is set: coffre never turns off TLS verification`);
  }
  t.same(await read({ VAULT_CACERT: ca, VAULT_SKIP_VERIFY: 'false' }), { DB_PASS: 'over-tls' }, 'VAULT_SKIP_VERIFY=false');
  t.equal((await failure(read({ VAULT_SKIP_VERIFY: 'maybe' }))).code, 'COFFRE_CONFIG_INVALID', 'not a boolean');
  t.same(await read({ VAULT_SKIP_VERIFY: '1' }, plain), { DB_PASS: 'over-tls' }, 'http address: not looked at');

  // A listener requiring a client certificate: refused without one, served with VAULT_CLIENT_CERT/_KEY.
  const noClient = await failure(read({ VAULT_CACERT: ca }, mtlsAddress));
  t.equal(noClient.code, 'COFFRE_SOURCE_UNREACHABLE', 'no client certificate: refused by the server');
  t.same(await read({ VAULT_CACERT: ca, VAULT_CLIENT_CERT: cert, VAULT_CLIENT_KEY: key }, mtlsAddress), { DB_PASS: 'over-tls' }, 'client certificate sent');
  const alone = await failure(read({ VAULT_CACERT: ca, BAO_CLIENT_CERT: cert }, mtlsAddress));
  t.equal(alone.code, 'COFFRE_CONFIG_INVALID');
  t.match(alone.message, 'BAO_CLIENT_CERT is set alone');
  const otherKey = path.join(dir, 'other-key.pem');
  await writeFile(otherKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const mismatch = await failure(read({ VAULT_CACERT: ca, VAULT_CLIENT_CERT: cert, VAULT_CLIENT_KEY: otherKey }, mtlsAddress));
  t.equal(mismatch.code, 'COFFRE_SOURCE_UNREACHABLE', 'a key that is not the certificate’s is a TLS error');
  t.match(mismatch.message, /TLS: /);
  t.notOk(mismatch.message.includes('PRIVATE KEY'), 'the key is never quoted');

  // coffre.yaml vault.tls (relative to the repo) wins over the variables.
  await copyFile(ca, path.join(root, 'ca.pem'));
  await copyFile(cert, path.join(root, 'client.pem'));
  await copyFile(key, path.join(root, 'client-key.pem'));
  await writeFile(path.join(root, 'coffre.yaml'), 'vault:\n  tls:\n    caCert: ca.pem\n    clientCert: client.pem\n    clientKey: client-key.pem\n    serverName: localhost\n');
  t.same(await read({ VAULT_CACERT: path.join(dir, 'absent.pem'), VAULT_TLS_SERVER_NAME: 'not-this.example' }, mtlsAddress), { DB_PASS: 'over-tls' }, 'vault.tls in coffre.yaml');
});
