// The floor of bench/http: the smallest HTTP service of coffre's own stack in front of the same reads. A
// fastify server (no logger, no authentication, no repo, no metrics) whose one route makes the 3 KV v2 reads
// of a check through an undici Pool, as coffre does, and answers how many keys each holds. Whatever an HTTP
// service built on fastify + undici pays on this machine, this pays; what coffre serve pays above it is its
// own work (authentication, the repo, examples, the diff, the report, metrics and audit).
// Run by bench/http.ts as a child process: node dist/bench/http-floor-server.js <vault address> <port> <path>...
// with the token in VAULT_TOKEN. Not a part of coffre.
import fastify from 'fastify';
import { Pool } from 'undici';

const [address, port, ...paths] = process.argv.slice(2);
if (!address || !port || paths.length === 0) throw new Error('usage: http-floor-server <vault address> <port> <kv path>...');
const token = process.env.VAULT_TOKEN ?? '';
const vault = new Pool(address, { connections: 8, pipelining: 1 });
const app = fastify({ logger: false });

app.get('/floor', async () => {
  const keys = await Promise.all(
    paths.map(async (p) => {
      const response = await vault.request({ method: 'GET', path: `/v1/secret/data/${p}`, headers: { 'X-Vault-Token': token } });
      const body = (await response.body.json()) as { data?: { data?: Record<string, unknown> } };
      if (response.statusCode !== 200) throw new Error(`read ${p}: HTTP ${response.statusCode}`);
      return Object.keys(body.data?.data ?? {}).length;
    }),
  );
  return { keys };
});

await app.listen({ host: '127.0.0.1', port: Number(port) });
process.on('SIGTERM', () => {
  void app.close().then(() => vault.close());
});
