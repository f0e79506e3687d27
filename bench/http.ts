// bench/http: throughput and latency of `coffre serve` over loopback, on a copy of the demo repo (sops only,
// demo age key), with authentication and info-level request logging on (to /dev/null), as in production.
// autocannon is not installed, so load comes from a bounded loop of fetch calls at concurrency 1 and 50.
// The floor of the check routes is the same use-case called in-process (no HTTP).
// Run: `npx tsc -p tsconfig.json && node dist/bench/http.js` (BENCH_REQUESTS to change the count). Asserts nothing.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/http/logger.js';
import { listen } from '../src/http/server.js';
import { createTokenRegistry, tokenDigest } from '../src/http/token-registry.js';
import { runCheck } from '../src/use-cases/check.js';
import { openWorkspace } from '../src/use-cases/workspace.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** `total` calls of `call`, at most `concurrency` at once; per-call latency in ms. */
async function load(call: () => Promise<void>, total: number, concurrency: number): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return { rps: (total / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-http-'));
  await cp(path.join(projectRoot, 'examples', 'infra'), root, { recursive: true });
  const token = 'coffre_bench_token';
  const app = buildApp({
    openWorkspace: () => openWorkspace({ root, env: {} }),
    logger: createLogger({ level: 'info', destination: pino.destination('/dev/null') }),
    tokens: createTokenRegistry([{ id: 'bench', sha256: tokenDigest(token), role: 'admin', services: ['**'] }]),
  });
  const url = await listen(app, { host: '127.0.0.1', port: 0 });
  const headers = { authorization: `Bearer ${token}` };
  const routes = [
    { label: 'GET /healthz', path: '/healthz' },
    { label: 'GET /v1/services', path: '/v1/services' },
    { label: 'GET /v1/check?keysOnly=true', path: '/v1/check?keysOnly=true' },
    { label: 'GET /v1/check (values, age decrypt)', path: '/v1/check' },
  ];
  const rows = ['| route | concurrency | req/s | p50 | p99 |', '|---|---:|---:|---:|---:|'];
  try {
    for (const route of routes) {
      const call = async () => {
        const response = await fetch(`${url}${route.path}`, { headers });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${route.path}: HTTP ${response.status}`);
      };
      await load(call, 100, 10);
      for (const concurrency of [1, 50]) {
        const r = await load(call, REQUESTS, concurrency);
        rows.push(`| ${route.label} | ${concurrency} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
      }
    }
    for (const keysOnly of [true, false]) {
      const floor = await load(
        async () => {
          const workspace = await openWorkspace({ root, env: {} });
          try {
            await runCheck(workspace, { keysOnly });
          } finally {
            workspace.close();
          }
        },
        Math.min(REQUESTS, 500),
        1,
      );
      rows.push(`| floor: runCheck in-process${keysOnly ? ' (keysOnly)' : ''} | 1 | ${floor.rps.toFixed(0)} | ${floor.p50.toFixed(2)} ms | ${floor.p99.toFixed(2)} ms |`);
    }
  } finally {
    await app.close();
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(`Demo repo (3 services, 4 sops files), ${REQUESTS} requests per row over loopback, ${os.cpus().length} cores, Node ${process.version}.\n\n${rows.join('\n')}\n`);
}

await main();
