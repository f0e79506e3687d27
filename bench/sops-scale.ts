// bench/sops-scale: `coffre check` and `coffre render --all` of a sops-only repo (N services × 3 sops YAML
// files × 12 keys, made by the real sops binary; 2 000 services by default) against the "in-process floor"
// (bench/sops-floor.ts: node:crypto decrypt + MAC of the same files with one parsed identity, one worker
// thread per core, no coffre code). Every figure is a cold process (`node …`), rounds interleaved, medians;
// wall time, CPU time (user+sys) and peak RSS from GNU time. The floor is also given as its in-process time.
// Target (issue 12): coffre ≤ 1.5× the floor, peak RSS ≤ 150 MiB.
// Run: `npm run bench:sops-scale`. Reuse a generated repo (6 000 sops runs take minutes) with BENCH_SOPS_ROOT=<root>
// and SOPS_AGE_KEY=<identity> (e.g. from `node /tmp/hold.mjs 2000 sops`); BENCH_SERVICES, BENCH_RUNS;
// BENCH_BASELINE_BIN=<other checkout>/bin/coffre.js times that coffre too, in the same rounds. Not a test.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { median, openBenchRepo, type BenchRepo } from './generated-repo.js';
import { cleanEnv, coffreBin, projectRoot, reportTarget } from './process.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_RATIO = 1.5;
const TARGET_RSS_MIB = 150;

interface Timed {
  wall: number;
  cpu: number;
  rssMiB: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One cold process under GNU time: wall (s), user+sys (s), peak RSS (MiB). */
async function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-time-'));
  const out = path.join(scratch, 'time');
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, ...argv], { env, cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      const o: Buffer[] = [];
      const e: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => o.push(b));
      child.stderr.on('data', (b: Buffer) => e.push(b));
      child.once('error', reject);
      child.once('close', (exit) => resolve({ code: exit, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() }));
    });
    const [wall, user, sys, rss] = ((await readFile(out, 'utf8')).trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    return { wall: wall as number, cpu: (user as number) + (sys as number), rssMiB: (rss as number) / 1024, code, stdout, stderr };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function expectOk(run: Timed, codes: number[], what: string): void {
  if (run.code === null || !codes.includes(run.code)) throw new Error(`${what} exited ${run.code}: ${run.stderr.split('\n').slice(0, 5).join(' | ')}`);
}

async function removeTargets(root: string): Promise<void> {
  await promisify(execFile)('find', [root, '-name', '*.secrets', '-type', 'f', '-delete']);
}

async function main(): Promise<void> {
  let bench: BenchRepo | null = null;
  let root = process.env.BENCH_SOPS_ROOT;
  let identity = process.env.SOPS_AGE_KEY;
  if (root === undefined || identity === undefined) {
    console.error(`generating ${SERVICES} sops services with the real sops binary (set BENCH_SOPS_ROOT and SOPS_AGE_KEY to reuse one)…`);
    bench = await openBenchRepo(SERVICES, 'sops');
    root = bench.root;
    identity = bench.key.identity;
  }
  try {
    const env = cleanEnv({ SOPS_AGE_KEY: identity });
    const bins: Array<[string, string]> = [['coffre', coffreBin]];
    if (process.env.BENCH_BASELINE_BIN) bins.push(['baseline', process.env.BENCH_BASELINE_BIN]);
    const load0 = os.loadavg();
    const rows = new Map<string, Timed[]>();
    const add = (label: string, run: Timed): void => void rows.set(label, [...(rows.get(label) ?? []), run]);
    let floorInProcess: number[] = [];
    let fileCount = 0;
    for (let round = 0; round < RUNS; round++) {
      const floor = await timed([process.execPath, path.join(projectRoot, 'dist', 'bench', 'sops-floor.js'), root], env);
      expectOk(floor, [0], 'floor');
      const result = JSON.parse(floor.stdout) as { files: number; inProcessMs: number };
      fileCount = result.files;
      floorInProcess = [...floorInProcess, result.inProcessMs / 1000];
      add('in-process floor (cold process)', floor);
      // The same floor parsing with coffre's sops YAML reader instead of the `yaml` package: a stricter floor.
      const strict = await timed([process.execPath, path.join(projectRoot, 'dist', 'bench', 'sops-floor.js'), root], { ...env, FLOOR_PARSER: 'coffre' });
      expectOk(strict, [0], 'floor (coffre YAML reader)');
      add('in-process floor, coffre YAML reader (cold process)', strict);
      for (const [name, bin] of bins) {
        const check = await timed([process.execPath, bin, '-C', root, 'check', '--quiet'], env);
        expectOk(check, [0], `${name} check`);
        add(`${name} check`, check);
        await removeTargets(root);
        const render = await timed([process.execPath, bin, '-C', root, 'render', '--all', '--quiet'], env);
        expectOk(render, [0], `${name} render --all`);
        add(`${name} render --all (fresh)`, render);
      }
    }
    const load1 = os.loadavg();
    const floorWall = median((rows.get('in-process floor (cold process)') ?? []).map((r) => r.wall));
    const floorIn = median(floorInProcess);
    console.log(`\nsops at scale: ${fileCount} sops files (${SERVICES} services × 3 × 12 keys), ${RUNS} interleaved rounds, medians; ` +
      `${os.availableParallelism()} cores, load average ${load0.map((l) => l.toFixed(1)).join(' ')} → ${load1.map((l) => l.toFixed(1)).join(' ')}\n`);
    console.log('| run | wall | CPU (user+sys) | peak RSS | × floor (cold process) | × floor (in-process) |');
    console.log('|---|---|---|---|---|---|');
    for (const [label, runs] of rows) {
      const wall = median(runs.map((r) => r.wall));
      const cpu = median(runs.map((r) => r.cpu));
      const rss = Math.max(...runs.map((r) => r.rssMiB));
      console.log(`| ${label} | ${wall.toFixed(2)} s | ${cpu.toFixed(2)} s | ${rss.toFixed(0)} MiB | ${(wall / floorWall).toFixed(2)}× | ${(wall / floorIn).toFixed(2)}× |`);
    }
    console.log(`\nin-process floor, inside its process: ${floorIn.toFixed(2)} s`);
    const strictWall = median((rows.get('in-process floor, coffre YAML reader (cold process)') ?? []).map((r) => r.wall));
    for (const command of ['check', 'render --all (fresh)']) {
      const wall = median((rows.get(`coffre ${command}`) ?? []).map((r) => r.wall));
      console.log(`coffre ${command} vs the floor with coffre's YAML reader: ${(wall / strictWall).toFixed(2)}×`);
    }
    for (const command of ['check', 'render --all (fresh)']) {
      const runs = rows.get(`coffre ${command}`) ?? [];
      const ratio = median(runs.map((r) => r.wall)) / floorWall;
      const rss = Math.max(...runs.map((r) => r.rssMiB));
      const verdict = await reportTarget({ bench: 'sops-scale', target: `${command} ≤ ${TARGET_RATIO}× in-process floor (${SERVICES} sops services)`, measured: `${ratio.toFixed(2)}×`, met: ratio <= TARGET_RATIO });
      const rssVerdict = await reportTarget({ bench: 'sops-scale', target: `${command} peak RSS ≤ ${TARGET_RSS_MIB} MiB (${SERVICES} sops services)`, measured: `${rss.toFixed(0)} MiB`, met: rss <= TARGET_RSS_MIB });
      console.log(`coffre ${command}: ${ratio.toFixed(2)}× the floor (target ≤ ${TARGET_RATIO}×: ${verdict}), peak RSS ${rss.toFixed(0)} MiB (target ≤ ${TARGET_RSS_MIB}: ${rssVerdict})`);
    }
  } finally {
    if (bench) await bench.close();
  }
}

await main();
