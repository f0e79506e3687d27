// The failover transport of a Vault source given several node addresses, against the run's real OpenBao (reached
// directly and through loopback fault servers standing for dead or dying nodes): reads skip a dead node, a write
// whose answer was lost is settled by reading back (applied once, or re-sent), and with every node down the
// error names each node. The X-Vault-Index tracker keeps the highest index.
import net from 'node:net';
import t from 'tap';
import { CoffreError } from '../../src/errors.js';
import { createIndexTracker } from '../../src/sources/vault-failover.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao, startOpenBao } from '../support/openbao.js';
import { tcpServer } from '../support/tcp-server.js';

const index = (cluster: string, value: string): string => Buffer.from(JSON.stringify({ cluster, value })).toString('base64');

t.test('the index tracker keeps the highest X-Vault-Index of a cluster and ignores what it cannot read', async (t) => {
  const tracker = createIndexTracker();
  t.equal(tracker.current(), undefined);
  tracker.observe(index('a', '42'));
  tracker.observe(index('a', '9'));
  t.equal(tracker.current(), index('a', '42'), 'an older index does not replace a newer one');
  tracker.observe(index('a', '100'));
  t.equal(tracker.current(), index('a', '100'), 'numbers, not strings, are compared');
  tracker.observe('not base64 json');
  tracker.observe(index('a', '1e9'));
  t.equal(tracker.current(), index('a', '100'), 'garbage is ignored');
  tracker.observe(index('b', '3'));
  t.equal(tracker.current(), index('b', '3'), 'another cluster id starts over');
});

/** A refused port (nothing listens there). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A node that dies at a chosen point of the first POST: 'before' resets the connection once the request arrives,
 * without passing it on; 'after' passes it to OpenBao and resets the connection instead of delivering the answer.
 * From then on the node is dead: every connection is reset. Before that, requests are forwarded as they are.
 */
async function dyingNode(t: Parameters<typeof tcpServer>[0], upstreamPort: number, when: 'before' | 'after'): Promise<{ address: string; posts: () => number }> {
  let posts = 0;
  let dead = false;
  const clients = new Set<net.Socket>();
  const port = await tcpServer(t, (client) => {
    if (dead) {
      client.resetAndDestroy();
      return;
    }
    clients.add(client);
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      clients.delete(client);
      upstream.destroy();
    });
    let dying = false;
    client.on('data', (chunk: Buffer) => {
      if (dead && !dying) return;
      if (chunk.toString('latin1').startsWith('POST ')) {
        posts++;
        dying = true;
        dead = true;
        for (const other of clients) if (other !== client) other.resetAndDestroy();
        if (when === 'before') {
          client.resetAndDestroy();
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => (dying ? client.resetAndDestroy() : client.write(chunk)));
  });
  return { address: `http://127.0.0.1:${port}`, posts: () => posts };
}

t.test('reads skip a node that refuses connections and are served by the next one', async (t) => {
  const bao = await sharedOpenBao(t);
  const ref = { kind: 'vault' as const, mount: 'secret', path: `${bao.prefix}/app/db` };
  t.equal((await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'one' } })).status, 200);
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const source = createVaultSource({ address: dead, addresses: [dead, bao.address], auth: { method: 'token', token: bao.rootToken }, failoverMs: 5_000 });
  t.teardown(() => source.close());
  t.same(Object.fromEntries((await source.readValues(ref))!.values), { A: 'one' });
  t.same([...(await source.listKeys(ref))!.keys.keys()], ['A']);
});

for (const when of ['after', 'before'] as const) {
  t.test(`a write whose node dies ${when} applying it creates exactly one version`, async (t) => {
    const bao = await sharedOpenBao(t);
    const ref = { kind: 'vault' as const, mount: 'secret', path: `${bao.prefix}/app/rotated` };
    t.equal((await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'old', B: 'kept' } })).status, 200);
    const node = await dyingNode(t, Number(new URL(bao.address).port), when);
    const source = createVaultSource({ address: node.address, addresses: [node.address, bao.address], auth: { method: 'token', token: bao.rootToken }, failoverMs: 5_000 });
    t.teardown(() => source.close());
    const read = (await source.readData(ref))!;
    t.equal(read.version, 1);
    const written = await source.writeValues(ref, { ...read.data, A: 'new' }, read.version);
    t.same(written, { version: 2 }, 'coffre reports the version the write made');
    t.equal(node.posts(), 1, 'the dying node saw the write once');
    const meta = await bao.vaultHttp('GET', `secret/metadata/${ref.path}`);
    t.equal(meta.body.data.current_version, 2, 'one new version, not two');
    t.same(Object.keys(meta.body.data.versions).sort(), ['1', '2']);
    t.same((await bao.vaultHttp('GET', `secret/data/${ref.path}`)).body.data.data, { A: 'new', B: 'kept' });
  });
}

t.test('a write whose answer was lost while another writer made the next version is a conflict, not a success', async (t) => {
  const bao = await sharedOpenBao(t);
  const ref = { kind: 'vault' as const, mount: 'secret', path: `${bao.prefix}/app/raced` };
  t.equal((await bao.vaultHttp('POST', `secret/data/${ref.path}`, { data: { A: 'old' } })).status, 200);
  // The "other writer" wins version 2 first; our write (cas 1) is then refused by OpenBao, its answer lost.
  t.equal((await bao.vaultHttp('POST', `secret/data/${ref.path}`, { options: { cas: 1 }, data: { A: 'theirs' } })).status, 200);
  const node = await dyingNode(t, Number(new URL(bao.address).port), 'after');
  const source = createVaultSource({ address: node.address, addresses: [node.address, bao.address], auth: { method: 'token', token: bao.rootToken }, failoverMs: 5_000 });
  t.teardown(() => source.close());
  const error = await source.writeValues(ref, { A: 'ours' }, 1).then(() => null, (e: unknown) => e);
  t.ok(error instanceof CoffreError && error.code === 'COFFRE_CONFLICT', `COFFRE_CONFLICT (${String((error as Error)?.message)})`);
  t.equal((await bao.vaultHttp('GET', `secret/metadata/${ref.path}`)).body.data.current_version, 2, 'nothing more written');
});

t.test('with every node down, the error names each node and why; the next read fails at once', async (t) => {
  let connections = 0;
  const resetting = `http://127.0.0.1:${await tcpServer(t, (socket) => {
    connections++;
    socket.resetAndDestroy();
  })}`;
  const refused = `http://127.0.0.1:${await closedPort()}`;
  const source = createVaultSource({ address: resetting, addresses: [resetting, refused], auth: { method: 'token', token: 'x' }, failoverMs: 600 });
  t.teardown(() => source.close());
  const ref = { kind: 'vault' as const, mount: 'secret', path: 'app/db' };
  const started = Date.now();
  const error = await source.listKeys(ref).then(() => null, (e: unknown) => e);
  const elapsed = Date.now() - started;
  t.ok(error instanceof CoffreError && error.code === 'COFFRE_SOURCE_UNREACHABLE', String((error as Error)?.message));
  const message = (error as Error).message;
  t.match(message, 'no node answered within 600 ms of failover');
  t.match(message, `${resetting} ECONNRESET`);
  t.match(message, `${refused} ECONNREFUSED`);
  t.ok(elapsed >= 600 && elapsed < 600 + 3_000, `gave up after ${elapsed} ms`);
  const seen = connections;
  const again = await source.listKeys({ kind: 'vault' as const, mount: 'secret', path: 'app/other' }).then(() => null, (e: unknown) => e);
  t.match((again as Error).message, 'not sent');
  t.equal(connections, seen, 'the second read sent nothing');
});

t.test('health of a cluster with one sealed node is the health of an unsealed one; all sealed says sealed', async (t) => {
  const bao = await sharedOpenBao(t);
  const sealed = await startOpenBao();
  t.teardown(() => sealed.stop());
  await sealed.seal();
  const source = createVaultSource({ address: sealed.address, addresses: [sealed.address, bao.address], auth: { method: 'token', token: bao.rootToken }, failoverMs: 2_000 });
  t.teardown(() => source.close());
  const health = await source.health();
  t.equal(health.sealed, false, 'the unsealed node answered');
  const allSealed = createVaultSource({ address: sealed.address, addresses: [sealed.address, `http://127.0.0.1:${await closedPort()}`], auth: { method: 'token', token: 'x' }, failoverMs: 500 });
  t.teardown(() => allSealed.close());
  t.same(await allSealed.health(), { initialized: true, sealed: true, version: (await allSealed.health()).version }, 'sealed, not an error');
});
