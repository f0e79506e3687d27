// A dead Vault/OpenBao fails fast: after the first request to an address gets no answer, the other reads of the
// run fail at once with the same named error (the dead server sees at most `concurrency` connections), and a
// long-lived session probes again after its cool-down, so it recovers when the server answers again.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { createVaultSession } from '../../src/sources/vault-session.js';
import { createVaultSource } from '../../src/sources/vault.js';
import { sharedOpenBao } from '../support/openbao.js';
import { tcpServer } from '../support/tcp-server.js';

type Mode = 'silent' | 'reset' | { forward: number };

/** A loopback TCP server whose behaviour can change: never answer, reset at once, or forward to a port. */
async function switchableServer(t: { teardown(fn: () => unknown): void }, initial: Mode): Promise<{ port: number; connections: () => number; set(mode: Mode): void }> {
  let mode = initial;
  let connections = 0;
  const port = await tcpServer(t, (socket) => {
    connections++;
    if (mode === 'silent') return;
    if (mode === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    const upstream = net.connect(mode.forward, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  return { port, connections: () => connections, set: (m) => (mode = m) };
}

/** A repo of `count` services, each with one secrets file backed by Vault (no sops file). */
type Tree = NonNullable<Parameters<typeof t.testdir>[0]>;

function manyServices(t: { testdir(tree: Tree): string }, count: number, vault: string): string {
  const tree: Tree = { '.gitignore': '*.secrets\n', 'coffre.yaml': `version: 1\nvault:\n${vault}` };
  for (let i = 0; i < count; i++) {
    tree[`svc${i}`] = {
      'docker-compose.yml': `services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n`,
      secrets: { 'app.secrets.example': 'USER=\nPASS=\n' },
    };
  }
  return t.testdir(tree);
}

async function checkJson(dir: string, env: Record<string, string>): Promise<{ code: number; report: { services: Array<{ name: string; files: Array<{ status: string; error?: { code: string; message: string } }> }> } }> {
  let stdout = '';
  const code = await runCli(['-C', dir, 'check', '--all', '--format', 'json'], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    env,
    cwd: dir,
  });
  return { code, report: JSON.parse(stdout) };
}

const token = `hvs.${randomBytes(12).toString('hex')}`;
const SERVICES = 60;
const CONCURRENCY = 8;

const deadCases: Array<{ name: string; mode: Mode | 'closed'; code: string }> = [
  { name: 'a server that accepts and never answers', mode: 'silent', code: 'COFFRE_SOURCE_TIMEOUT' },
  { name: 'a server that resets every connection', mode: 'reset', code: 'COFFRE_SOURCE_UNREACHABLE' },
  { name: 'a port nobody listens on', mode: 'closed', code: 'COFFRE_SOURCE_UNREACHABLE' },
];
for (const c of deadCases) {
  t.test(`check of ${SERVICES} Vault-backed services against ${c.name}: every file reported ${c.code}, few requests sent`, async (t) => {
    let port: number;
    let connections = (): number => 0;
    if (c.mode === 'closed') {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      port = (probe.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } else {
      const server = await switchableServer(t, c.mode);
      port = server.port;
      connections = server.connections;
    }
    // Each timed-out request once made undici dial the server again (9-15 connections under load); the
    // transport now retires a failed connection (vault-client.test pins it), so the bound is the concurrency.
    const dir = manyServices(t, SERVICES, `  address: http://127.0.0.1:${port}\n  timeoutMs: 300\n  concurrency: ${CONCURRENCY}\n`);
    const { code, report } = await checkJson(dir, { VAULT_TOKEN: token });
    t.equal(code, 3, 'exit code of a source error');
    t.equal(report.services.length, SERVICES, 'every service reported');
    const files = report.services.flatMap((s) => s.files);
    t.equal(files.length, SERVICES);
    t.same(
      files.filter((f) => f.status !== 'error' || f.error?.code !== c.code),
      [],
      `every file is an error ${c.code}`,
    );
    t.ok(files.some((f) => f.error?.message.includes('not sent')), 'most reads were not sent (circuit open)');
    t.notOk(JSON.stringify(report).includes(token), 'the token appears nowhere');
    if (c.mode !== 'closed') {
      t.ok(connections() >= 1, 'the server was tried');
      t.ok(connections() <= CONCURRENCY, `the dead server saw ${connections()} connections (≤ ${CONCURRENCY}, the concurrency), not one per file`);
    }
  });
}

t.test('a long-lived session half-opens after its cool-down: one probe, and it recovers once the server answers', async (t) => {
  const bao = await sharedOpenBao(t);
  const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/circuit/app`, { data: { K: 'v' } });
  t.equal(put.status, 200);
  const upstream = Number(new URL(bao.address).port);
  const server = await switchableServer(t, 'silent');
  const address = `http://127.0.0.1:${server.port}`;
  const session = createVaultSession({ address, timeoutMs: 300, auth: { method: 'token', token: bao.rootToken }, circuitCooldownMs: 400 });
  t.teardown(() => session.close());
  // Like coffre serve: one source per request, all on the session's transport (and its circuit).
  const sourceOfRequest = (): ReturnType<typeof createVaultSource> => {
    const source = createVaultSource({ address, auth: { method: 'session', session }, transport: session.transport, timeoutMs: 300, concurrency: 4 });
    t.teardown(() => source.close());
    return source;
  };
  const source = sourceOfRequest();
  const ref = { kind: 'vault' as const, mount: 'secret', path: `${bao.prefix}/circuit/app` };

  await t.rejects(source.listKeys(ref), { code: 'COFFRE_SOURCE_TIMEOUT' }, 'the first read waits out its timeout');
  const seen = server.connections();
  const started = Date.now();
  await t.rejects(source.listKeys({ ...ref, path: `${bao.prefix}/circuit/other` }), { code: 'COFFRE_SOURCE_TIMEOUT', message: /not sent/ });
  t.equal(server.connections(), seen, 'an open circuit sends nothing');
  t.ok(Date.now() - started < 250, 'and fails at once');

  server.set({ forward: upstream });
  await new Promise((resolve) => setTimeout(resolve, 450));
  const listing = await sourceOfRequest().listKeys(ref);
  t.same(listing && [...listing.keys.keys()], ['K'], 'after the cool-down a probe goes out, the server answers, reads work again');
  t.ok(server.connections() > seen, 'the probe reached the server');
});
