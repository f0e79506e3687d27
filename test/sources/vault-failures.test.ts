// The Vault source when the server cannot serve: sealed, stopped, silent, rate-limited, wrong protocol,
// unknown host; and that concurrency stays bounded. Dedicated OpenBao servers for destructive cases.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import type { VaultRef } from '../../src/sources/secret-source.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao, startOpenBao } from '../support/openbao.js';
import { expectCoffreError } from './vault-expect.js';

const planted = (): string => `planted-${randomBytes(8).toString('hex')}`;

/** A loopback TCP server that hands every connection to `onSocket`; closed (with its sockets) at teardown. */
async function tcpServer(t: { teardown(fn: () => unknown): void }, onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

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
