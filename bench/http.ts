// bench/http: `coffre serve` (the real binary, as a child process) under autocannon, on the generated
// 200-service repo (half OpenBao, half sops), for 1 and 50 connections; in the same run, the direct KV
// reads a check of one Vault-backed service needs (3 reads, made concurrently, as coffre makes them), so
// coffre's overhead is a ratio, and the same reads behind the smallest fastify + undici server (the floor);
// and the server's RSS over 100k requests (BENCH_RSS_REQUESTS).
// Run: `npm run bench:http`. Not a test: it asserts nothing about time.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { median, openBenchRepo } from './generated-repo.js';
import { reportTarget } from './process.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const RSS_REQUESTS = Number(process.env.BENCH_RSS_REQUESTS ?? 100_000);
/** Ratio rounds: each round measures the direct reads, check and render dryRun for PHASE_SECONDS each, in turn. */
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 6);
const PHASE_SECONDS = Number(process.env.BENCH_HTTP_PHASE ?? 1);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Row {
  label: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

async function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon(options.amount ? options : { ...options, duration: DURATION });
}

function rowOf(label: string, connections: number, result: autocannon.Result): Row {
  return {
    label,
    connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/** p50/p99 of `call` run by `workers` concurrent loops for `seconds`. */
async function loop(call: () => Promise<void>, workers: number, seconds = DURATION): Promise<{ p50: number; p99: number; rps: number }> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await call();
        latencies.push(performance.now() - start);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number;
  return { p50: at(0.5), p99: at(0.99), rps: latencies.length / seconds };
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`coffre serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('coffre serve did not become healthy');
}

/** Waits until `url` answers 200 (the floor server is up and reads OpenBao). */
async function waitForAnswer(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the floor server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the floor server did not answer');
}

async function main(): Promise<void> {
  const bench = await openBenchRepo(SERVICES);
  const { bao, key, root, files } = bench;
  const apiToken = `coffre_${randomBytes(24).toString('hex')}`;
  const tokensFile = path.join(root, '.tokens.yaml');
  await writeFile(tokensFile, `tokens:\n  - id: bench\n    sha256: ${createHash('sha256').update(apiToken).digest('hex')}\n    role: admin\n    services: ['**']\n`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [path.join(projectRoot, 'bin', 'coffre.js'), 'serve', '-C', root, '--listen', `127.0.0.1:${port}`, '--tokens', tokensFile, '--log-level', 'warn'], {
    env: { PATH: process.env.PATH, VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let floorServer: ChildProcess | undefined;
  try {
    await waitForHealth(url, server);
    const auth = { authorization: `Bearer ${apiToken}` };
    const vaultService = files.find((f) => f.vaultPath)?.service as string;
    const sopsService = files.find((f) => f.sopsFile)?.service as string;
    const rows: Row[] = [];
    const routes: Array<{ label: string; options: autocannon.Options }> = [
      { label: `GET /v1/services/${vaultService}/check (OpenBao, 3 files)`, options: { url: `${url}/v1/services/${vaultService}/check`, headers: auth } },
      { label: `GET /v1/services/${sopsService}/check (sops, 3 files)`, options: { url: `${url}/v1/services/${sopsService}/check`, headers: auth } },
      {
        label: `POST /v1/services/${vaultService}/render {dryRun} (OpenBao)`,
        options: { url: `${url}/v1/services/${vaultService}/render`, method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"dryRun":true}' },
      },
    ];
    for (const route of routes) {
      await cannon({ ...route.options, connections: 10, amount: 200 }); // warm-up
      for (const connections of [1, 50]) rows.push(rowOf(route.label, connections, await cannon({ ...route.options, connections })));
    }

    // The direct reads one Vault-backed check needs: its 3 KV v2 reads, concurrently. Both sides of each ratio
    // are measured by the same client, undici's keep-alive Pool (what coffre itself reads OpenBao with), so the
    // floor is the reads, not a heavier client's overhead paid three times (Node's fetch cost ~1.5 ms of CPU per
    // read here). Interleaved: each round measures the three for PHASE_SECONDS each, in a rotating order, and a
    // round's ratio compares phases a few seconds apart, so the machine's load swings hit both sides.
    const paths = files.filter((f) => f.service === vaultService).map((f) => f.vaultPath as string);
    // The floor: the same reads behind the smallest fastify + undici server (bench/http-floor-server.ts), a
    // process of its own like coffre serve, measured in the same rounds.
    const floorPort = port + 1;
    floorServer = spawn(process.execPath, [path.join(projectRoot, 'dist', 'bench', 'http-floor-server.js'), bao.address, String(floorPort), ...paths], {
      env: { PATH: process.env.PATH, VAULT_TOKEN: bao.rootToken },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const floorUrl = `http://127.0.0.1:${floorPort}`;
    await waitForAnswer(`${floorUrl}/floor`, floorServer);
    const floorPool = new Pool(floorUrl, { connections: 50, pipelining: 1 });
    const viaFloor = async () => {
      const response = await floorPool.request({ method: 'GET', path: '/floor' });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) throw new Error(`floor server: HTTP ${response.statusCode}`);
    };
    // Warmed as long as coffre serve was by the autocannon rows above, so V8 has optimised both alike.
    await loop(viaFloor, 10, routes.length * (2 * DURATION + 1));
    const baoPool = new Pool(bao.address, { connections: 150, pipelining: 1 });
    const coffrePool = new Pool(url, { connections: 50, pipelining: 1 });
    const direct = async () => {
      await Promise.all(
        paths.map(async (p) => {
          const response = await baoPool.request({ method: 'GET', path: `/v1/secret/data/${p}`, headers: { 'X-Vault-Token': bao.rootToken } });
          await response.body.arrayBuffer();
          if (response.statusCode !== 200) throw new Error(`direct read: HTTP ${response.statusCode}`);
        }),
      );
    };
    const viaCoffre = async () => {
      const response = await coffrePool.request({ method: 'GET', path: `/v1/services/${vaultService}/check`, headers: auth });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) throw new Error(`check: HTTP ${response.statusCode}`);
    };
    const viaRender = async () => {
      const response = await coffrePool.request({ method: 'POST', path: `/v1/services/${vaultService}/render`, headers: { ...auth, 'content-type': 'application/json' }, body: '{"dryRun":true}' });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) throw new Error(`render dryRun: HTTP ${response.statusCode}`);
    };
    type Measured = { connections: number; p50: number; p99: number; rps: number };
    const directRows: Measured[] = [];
    const coffreRows: Measured[] = [];
    const renderRows: Measured[] = [];
    const floorRows: Measured[] = [];
    const roundRatios = new Map<number, { check: number[]; render: number[]; floor: number[] }>();
    const medianRow = (connections: number, phases: Array<{ p50: number; p99: number; rps: number }>): Measured => ({ connections, p50: median(phases.map((p) => p.p50)), p99: median(phases.map((p) => p.p99)), rps: median(phases.map((p) => p.rps)) });
    for (const connections of [1, 50]) {
      const kinds = [
        { name: 'direct', call: direct, phases: [] as Array<{ p50: number; p99: number; rps: number }> },
        { name: 'check', call: viaCoffre, phases: [] as Array<{ p50: number; p99: number; rps: number }> },
        { name: 'render', call: viaRender, phases: [] as Array<{ p50: number; p99: number; rps: number }> },
        { name: 'floor', call: viaFloor, phases: [] as Array<{ p50: number; p99: number; rps: number }> },
      ];
      for (const kind of kinds) await loop(kind.call, connections, 0.5); // warm-up of this connection count
      const ratios = { check: [] as number[], render: [] as number[], floor: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
        const measured = new Map<string, { p50: number; p99: number; rps: number }>();
        for (const kind of order) {
          const phase = await loop(kind.call, connections, PHASE_SECONDS);
          kind.phases.push(phase);
          measured.set(kind.name, phase);
        }
        ratios.check.push(measured.get('check')!.p50 / measured.get('direct')!.p50);
        ratios.render.push(measured.get('render')!.p50 / measured.get('direct')!.p50);
        ratios.floor.push(measured.get('floor')!.p50 / measured.get('direct')!.p50);
      }
      roundRatios.set(connections, ratios);
      directRows.push(medianRow(connections, kinds[0]!.phases));
      coffreRows.push(medianRow(connections, kinds[1]!.phases));
      renderRows.push(medianRow(connections, kinds[2]!.phases));
      floorRows.push(medianRow(connections, kinds[3]!.phases));
    }
    await Promise.all([baoPool.close(), coffrePool.close(), floorPool.close()]);

    // RSS over many requests: sampled every tenth of the run.
    const rssSamples: Array<{ requests: number; rss: number }> = [{ requests: 0, rss: rssOf(server.pid as number) }];
    const rssRoute = `${url}/v1/services/${vaultService}/check?keysOnly=true`;
    const slice = Math.max(1, Math.floor(RSS_REQUESTS / 10));
    const rssStart = performance.now();
    for (let done = 0; done < RSS_REQUESTS; done += slice) {
      await cannon({ url: rssRoute, headers: auth, connections: Math.min(50, slice), amount: slice });
      rssSamples.push({ requests: done + slice, rss: rssOf(server.pid as number) });
    }
    const rssSeconds = (performance.now() - rssStart) / 1000;

    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const ratioLines: string[] = [];
    for (const d of directRows) {
      const ratios = roundRatios.get(d.connections)!;
      for (const [label, perRound] of [['check', ratios.check], ['render dryRun', ratios.render]] as const) {
        const ratio = median(perRound);
        const verdict = await reportTarget({ bench: 'http', target: `${label} p50 ≤ 1.5× direct reads, ${d.connections} connection(s)`, measured: `${ratio.toFixed(2)}×`, met: ratio <= 1.5 });
        const spread = `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`;
        ratioLines.push(`- ${d.connections} connection(s): coffre ${label} p50 / direct reads p50 = ${ratio.toFixed(2)}, median of ${perRound.length} interleaved rounds (${spread}; target ≤ 1.5; same undici client for both): ${verdict}.`);
      }
      const floor = median(ratios.floor);
      ratioLines.push(
        `- ${d.connections} connection(s), the floor: the smallest fastify + undici server making the same reads (bench/http-floor-server.ts: no authentication, repo, logging or metrics) p50 / direct reads p50 = ${floor.toFixed(2)} (${Math.min(...ratios.floor).toFixed(2)}–${Math.max(...ratios.floor).toFixed(2)}), in the same rounds: what any service on coffre's stack pays here; coffre check is ${(median(ratios.check) / floor).toFixed(2)}× that floor.`,
      );
    }
    const settled = rssSamples.slice(1).map((s) => s.rss);
    const rssMedian = median(settled);
    const above = Math.max(...settled) / rssMedian - 1;
    const below = 1 - Math.min(...settled) / rssMedian;
    const rssVerdict = await reportTarget({ bench: 'http', target: `serve RSS within ±10 % over ${RSS_REQUESTS} requests`, measured: `+${(above * 100).toFixed(1)} % / −${(below * 100).toFixed(1)} %`, met: above <= 0.1 && below <= 0.1 });
    const lines = [
      `Generated repo: ${SERVICES} services × 3 files × 12 keys (half OpenBao, half sops); \`coffre serve\` as a child process (the real \`node bin/coffre.js serve\`) with auth on; autocannon ${DURATION} s per row (the table's first rows); the ratios come from ${ROUNDS} interleaved rounds of ${PHASE_SECONDS} s phases per connection count, measured with undici's Pool for both sides (medians of the phases in the last rows); ${os.cpus().length} cores (client, server and OpenBao share them), Node ${process.version}.`,
      '',
      '| route | connections | req/s | p50 | p99 | errors |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.label} | ${r.connections} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} |`),
      ...directRows.map((r) => `| direct: the 3 KV reads of ${vaultService}, concurrently (undici Pool) | ${r.connections} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | 0 |`),
      ...coffreRows.map((r) => `| GET /v1/services/${vaultService}/check (same undici Pool) | ${r.connections} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | 0 |`),
      ...renderRows.map((r) => `| POST /v1/services/${vaultService}/render {dryRun} (same undici Pool) | ${r.connections} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | 0 |`),
      ...floorRows.map((r) => `| floor: GET /floor of bench/http-floor-server.ts, the same 3 reads (same undici Pool) | ${r.connections} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | 0 |`),
      '',
      ...ratioLines,
      `- Server RSS over ${rssSamples.at(-1)?.requests} keys-only check requests (${rssSeconds.toFixed(0)} s, 50 connections): ` +
        rssSamples.map((s) => `${(s.rss / 1048576).toFixed(0)}`).join(' → ') +
        ` MiB; after warm-up (the first ${slice} requests) the median is ${(rssMedian / 1048576).toFixed(0)} MiB, max/median − 1 = ${(above * 100).toFixed(1)} %, 1 − min/median = ${(below * 100).toFixed(1)} % (target ≤ 10 % each): ${rssVerdict}.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    server.kill('SIGTERM');
    floorServer?.kill('SIGTERM');
    await bench.close();
  }
}

await main();
