// bench/discover: the cost of repo discovery alone, IN-PROCESS (figures are labelled so): loadConfig +
// discoverRepo of a repo, then reading every example as check does, timed with wall clock and process CPU.
// The first round of a process is the cold one (what a CLI run pays); later rounds show the warm cost.
// `--dist DIR` runs another build's compiled dist (e.g. the starting commit's) so both run in one session.
// Run: `node dist/bench/discover.js ROOT [--rounds N] [--dist DIR]`; prints one JSON line. Not a test.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

interface Args {
  root: string;
  rounds: number;
  dist: string;
}

function parseArgs(argv: string[]): Args {
  let root: string | undefined;
  let rounds = 1;
  let dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--rounds') rounds = Number(argv[++i]);
    else if (arg === '--dist') dist = path.resolve(argv[++i]!);
    else root = arg;
  }
  if (root === undefined) throw new Error('usage: discover.js ROOT [--rounds N] [--dist DIR]');
  return { root: path.resolve(root), rounds, dist };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const load = async (rel: string) => (await import(pathToFileURL(path.join(args.dist, rel)).href)) as Record<string, any>;
  const { loadConfig } = await load('src/repo/config.js');
  const { discoverRepo } = await load('src/repo/discover.js');
  const { readExampleOf } = await load('src/repo/read-example.js');
  const rounds: Array<{ discoverMs: number; discoverCpuMs: number; examplesMs: number; examplesCpuMs: number; services: number; files: number; problems: number }> = [];
  for (let round = 0; round < args.rounds; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { config, file } = await loadConfig(args.root);
    const repo = await discoverRepo({ root: args.root, config, vaultEnabled: true, configFile: file });
    const t1 = performance.now();
    const cpu1 = process.cpuUsage();
    const files = repo.services.flatMap((s: any) => s.secretFiles).filter((f: any) => f.example !== null);
    await Promise.all(files.map((f: any) => readExampleOf(f)));
    const t2 = performance.now();
    const cpu2 = process.cpuUsage();
    const ms = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000;
    rounds.push({ discoverMs: t1 - t0, discoverCpuMs: ms(cpu0, cpu1), examplesMs: t2 - t1, examplesCpuMs: ms(cpu1, cpu2), services: repo.services.length, files: files.length, problems: repo.problems.length });
  }
  const round = (n: number) => Math.round(n * 10) / 10;
  console.log(JSON.stringify({ label: 'in-process', dist: args.dist, root: args.root, rounds: rounds.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))) }));
}

await main();
