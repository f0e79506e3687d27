// The Vault source when the server cannot serve: sealed, stopped, silent, rate-limited, wrong protocol,
// unknown host; and that concurrency stays bounded. Dedicated OpenBao servers for destructive cases.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { tcpServer } from '../support/tcp-server.js';
import { runCli } from '../../src/cli/main.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao, startOpenBao } from '../support/openbao.js';
import { expectCoffreError } from './vault-expect.js';

const planted = (): string => `planted-${randomBytes(8).toString('hex')}`;

t.test('a sealed server gives COFFRE_SOURCE_SEALED, and health says sealed', async (t) => {
  const server = await startOpenBao();
  t.teardown(() => server.stop());
  const value = planted();
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: 'app/db' };
  await fetch(`${server.address}/v1/secret/data/app/db`, {
    method: 'POST',
    headers: { 'X-Vault-Token': server.rootToken },
    body: JSON.stringify({ data: { K: value } }),
  });
  await server.seal();
  const source = createVaultSource({ address: server.address, auth: { method: 'token', token: server.rootToken } });
  t.teardown(() => source.close());
  const e = await expectCoffreError(t, source.listKeys(ref), 'COFFRE_SOURCE_SEALED', [value, server.rootToken]);
  t.match(e.message, 'secret/app/db');
  await expectCoffreError(t, source.readValues(ref), 'COFFRE_SOURCE_SEALED', [value, server.rootToken]);
  const health = await source.health();
  t.same({ initialized: health.initialized, sealed: health.sealed }, { initialized: true, sealed: true });
  t.equal(health.tokenTtlSeconds, undefined, 'no token lookup while sealed');

  await server.unseal();
  const after = createVaultSource({ address: server.address, auth: { method: 'token', token: server.rootToken } });
  t.teardown(() => after.close());
  t.same(Object.fromEntries((await after.readValues(ref))!.values), { K: value }, 'reads again once unsealed');
  t.equal((await after.health()).tokenTtlSeconds, 0, 'root token never expires');
});

t.test('a stopped server gives COFFRE_SOURCE_UNREACHABLE', async (t) => {
  const server = await startOpenBao();
  const { address, rootToken } = server;
  await server.stop();
  const source = createVaultSource({ address, auth: { method: 'token', token: rootToken } });
  t.teardown(() => source.close());
  const e = await expectCoffreError(t, source.listKeys({ kind: 'vault', mount: 'secret', path: 'x' }), 'COFFRE_SOURCE_UNREACHABLE', [rootToken]);
  t.match(e.message, address);
  t.match(e.message, 'ECONNREFUSED');
  await expectCoffreError(t, source.health(), 'COFFRE_SOURCE_UNREACHABLE', [rootToken]);
});

t.test('a server that accepts and never answers gives COFFRE_SOURCE_TIMEOUT after timeoutMs', async (t) => {
  const port = await tcpServer(t, () => {
    // accept, read nothing, answer nothing
  });
  const token = `hvs.${randomBytes(12).toString('hex')}`;
  const source = createVaultSource({ address: `http://127.0.0.1:${port}`, auth: { method: 'token', token }, timeoutMs: 300 });
  t.teardown(() => source.close());
  const started = Date.now();
  const e = await expectCoffreError(t, source.readValues({ kind: 'vault', mount: 'secret', path: 'slow' }), 'COFFRE_SOURCE_TIMEOUT', [token]);
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 250 && elapsed < 5_000, `gave up after ${elapsed} ms`);
  t.match(e.message, '300 ms');
  t.match(e.message, 'secret/slow');
});

/**
 * A loopback HTTP server that answers every request with 200 and its headers at once, then trickles a JSON
 * body one byte every `everyMs` (each gap far below the timeout, so only an overall deadline stops it).
 */
async function tricklingServer(t: { teardown(fn: () => unknown): void }, everyMs: number): Promise<{ address: string; requests: () => number }> {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_request, response) => {
    requests++;
    response.writeHead(200, { 'Content-Type': 'application/json' });
    const body = `${' '.repeat(40)}{}`;
    let sent = 0;
    const timer = setInterval(() => {
      if (response.destroyed) return void clearInterval(timer);
      response.write(body[sent++]!);
      if (sent === body.length) {
        clearInterval(timer);
        response.end();
      }
    }, everyMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { address: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, requests: () => requests };
}

t.test('timeoutMs is an overall deadline: a server trickling its body gives COFFRE_SOURCE_TIMEOUT, not a hang', async (t) => {
  const server = await tricklingServer(t, 250);
  const token = `hvs.${randomBytes(12).toString('hex')}`;
  // One source per call: after a timeout the source's circuit fails the next request at once (by design).
  const freshSource = () => {
    const source = createVaultSource({ address: server.address, auth: { method: 'token', token }, timeoutMs: 500 });
    t.teardown(() => source.close());
    return source;
  };
  for (const [name, call] of [
    ['readValues', () => freshSource().readValues({ kind: 'vault', mount: 'secret', path: 'trickle' })],
    ['listKeys', () => freshSource().listKeys({ kind: 'vault', mount: 'secret', path: 'trickle2' })],
    ['writeValues', () => freshSource().writeValues({ kind: 'vault', mount: 'secret', path: 'trickle3' }, { K: 'v' }, 0)],
  ] as const) {
    const started = Date.now();
    const e = await expectCoffreError(t, call(), 'COFFRE_SOURCE_TIMEOUT', [token]);
    const elapsed = Date.now() - started;
    // A correctness bound (the trickle lasts 10 s), not a performance target: slack for a loaded machine.
    t.ok(elapsed >= 450 && elapsed < 3_000, `${name} gave up after ${elapsed} ms (timeout 500 ms)`);
    t.match(e.message, '500 ms');
  }
  t.ok(server.requests() >= 3, 'the requests reached the server');
});

t.test('check and render against a trickling server fail with COFFRE_SOURCE_TIMEOUT within the deadline; render writes nothing', async (t) => {
  const server = await tricklingServer(t, 250);
  const timeoutMs = 700;
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: slow\n  timeoutMs: ${timeoutMs}\n`,
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'DB_PASS=\n' },
    },
  });
  const token = `hvs.${randomBytes(12).toString('hex')}`;
  for (const command of [['-C', dir, 'check'], ['-C', dir, 'check', '--keys-only'], ['-C', dir, 'render', '--all']]) {
    let stdout = '';
    let stderr = '';
    const started = Date.now();
    const code = await runCli(command, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { VAULT_ADDR: server.address, VAULT_TOKEN: token },
      cwd: dir,
    });
    const elapsed = Date.now() - started;
    t.equal(code, ERROR_CODES.COFFRE_SOURCE_TIMEOUT.exit, `${command[0]} ${command.slice(2).join(' ')}: exit ${code}`);
    t.match(stdout + stderr, 'COFFRE_SOURCE_TIMEOUT', `${command[0]} ${command.slice(2).join(' ')} names the timeout`);
    // The trickle lasts 10 s: ending well before it proves the deadline; the slack covers start-up on a loaded machine.
    t.ok(elapsed < 3 * timeoutMs + 3_000, `${command[0]} ${command.slice(2).join(' ')} ended after ${elapsed} ms (timeout ${timeoutMs} ms; the trickle lasts 10 s)`);
    t.notOk((stdout + stderr).includes(token), 'no token in the output');
  }
  t.notOk(existsSync(path.join(dir, 'app', 'secrets', 'db.secrets')), 'render wrote no target');
});

t.test('TLS to a plain-HTTP server and an unknown host give COFFRE_SOURCE_UNREACHABLE', async (t) => {
  const bao = await sharedOpenBao(t);
  const cases = [
    { name: 'https to an http listener', address: bao.address.replace('http://', 'https://') },
    { name: 'unresolvable host', address: 'http://coffre-test-host.invalid:8200' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const source = createVaultSource({ address: c.address, auth: { method: 'token', token: bao.rootToken }, timeoutMs: 5_000 });
      t.teardown(() => source.close());
      await expectCoffreError(t, source.listKeys({ kind: 'vault', mount: 'secret', path: 'x' }), 'COFFRE_SOURCE_UNREACHABLE', [bao.rootToken]);
    });
  }
});

t.test('a rate-limit quota gives COFFRE_SOURCE_RATE_LIMITED', async (t) => {
  const server = await startOpenBao();
  t.teardown(() => server.stop());
  const value = planted();
  const call = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${server.address}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': server.rootToken },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  for (let i = 0; i < 10; i++) await call('POST', `secret/data/app/s${i}`, { data: { K: value } });
  t.equal((await call('POST', 'sys/quotas/rate-limit/coffre-test', { rate: 1, interval: '10s', path: 'secret/' })).status, 204);
  const source = createVaultSource({ address: server.address, auth: { method: 'token', token: server.rootToken } });
  t.teardown(() => source.close());
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => source.readValues({ kind: 'vault', mount: 'secret', path: `app/s${i}` })),
  );
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.ok(rejected.length >= 5, `${rejected.length} of 10 reads refused`);
  const limited = rejected.find((r) => (r.reason as { code?: string }).code === 'COFFRE_SOURCE_RATE_LIMITED');
  t.ok(limited, 'a read is refused as rate-limited');
  await expectCoffreError(t, Promise.reject(limited?.reason), 'COFFRE_SOURCE_RATE_LIMITED', [value, server.rootToken]);
  t.ok(
    rejected.every((r) => (r.reason as { code?: string }).code === 'COFFRE_SOURCE_RATE_LIMITED'),
    'every refusal has the rate-limit code',
  );
});

t.test('no more than `concurrency` requests are in flight (counted as connections through a relay)', async (t) => {
  const bao = await sharedOpenBao(t);
  const paths = Array.from({ length: 12 }, (_, i) => `${bao.prefix}/c${i}`);
  for (const p of paths) await bao.vaultHttp('POST', `secret/data/${p}`, { data: { K: 'v' } });
  const target = new URL(bao.address);
  const cases = [
    { name: 'concurrency 2', concurrency: 2, expectMax: 2 },
    { name: 'concurrency 6', concurrency: 6, expectMax: 6 },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      let connections = 0;
      // A byte relay to the real OpenBao: with keep-alive, each connection is one request slot.
      const port = await tcpServer(t, (socket) => {
        connections++;
        const upstream = net.connect(Number(target.port), target.hostname);
        upstream.on('error', () => socket.destroy());
        socket.pipe(upstream).pipe(socket);
        socket.on('close', () => upstream.destroy());
      });
      const source = createVaultSource({
        address: `http://127.0.0.1:${port}`,
        auth: { method: 'token', token: bao.rootToken },
        concurrency: c.concurrency,
      });
      t.teardown(() => source.close());
      const listings = await Promise.all(paths.map((path) => source.listKeys({ kind: 'vault', mount: 'secret', path })));
      t.equal(listings.filter((l) => l?.keys.has('K')).length, paths.length, 'every read succeeded');
      t.ok(connections <= c.expectMax, `${connections} connections for ${c.concurrency} slots`);
      t.ok(connections >= 1);
    });
  }
});
