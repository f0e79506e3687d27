// bench/start: how long a cold `coffre` process takes, as a ratio to `node -e 0` measured in the same run
// (a deploy script calls coffre once per service). Interleaved rounds (node, --version, check, node, …) so
// that machine load hits every command alike; the median of each; no warm-up round (every run counts). Also the CPU time (user+sys) of the
// children where /proc is available (Linux clock ticks, 10 ms resolution).
// Run: `npm run bench:start` (prints a Markdown table for the README). Not a test: it asserts nothing.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { reportTarget } from './process.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'coffre.js');

const commands: { label: string; args: string[]; target?: number }[] = [
  { label: '`node -e 0` (baseline)', args: ['-e', '0'] },
  { label: '`coffre --version`', args: [bin, '--version'], target: 1.5 },
  { label: '`coffre -C examples/infra check --keys-only`', args: [bin, '-C', 'examples/infra', 'check', '--keys-only'] },
  { label: '`coffre -C examples/infra check`', args: [bin, '-C', 'examples/infra', 'check'], target: 3 },
];

/** User+system CPU seconds of this process's waited-for children (fields cutime, cstime of /proc/self/stat). */
function childCpu(): number | null {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  // The env a deploy script would have: no Vault, the age key from coffre.yaml.
  const env = { ...process.env };
  for (const name of ['BAO_ADDR', 'VAULT_ADDR', 'BAO_TOKEN', 'VAULT_TOKEN', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_FILE', 'NODE_OPTIONS']) delete env[name];
  const wall = commands.map(() => [] as number[]);
  const cpu = commands.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    commands.forEach((command, i) => {
      const cpuBefore = childCpu();
      const start = performance.now();
      const result = spawnSync(process.execPath, command.args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const elapsed = performance.now() - start;
      const cpuAfter = childCpu();
      // check of the demo repo exits 1 (etherpad is incomplete on purpose); anything else is a broken run.
      if (result.status !== 0 && result.status !== 1) throw new Error(`${command.label} exited ${result.status}: ${result.stderr.toString()}`);
      wall[i]?.push(elapsed);
      if (cpuBefore !== null && cpuAfter !== null) cpu[i]?.push((cpuAfter - cpuBefore) * 1000);
    });
  }
  const baseWall = median(wall[0] as number[]);
  const baseCpu = cpu[0]?.length ? median(cpu[0]) : NaN;
  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds, medians\n`);
  console.log('| command | wall ms | × node | CPU ms | × node | target |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const [i, command] of commands.entries()) {
    const w = median(wall[i] as number[]);
    const c = cpu[i]?.length ? median(cpu[i] as number[]) : NaN;
    const ratio = w / baseWall;
    const target =
      command.target === undefined
        ? ''
        : `≤ ${command.target}× ${await reportTarget({ bench: 'start', target: `${command.label} wall ≤ ${command.target}× \`node -e 0\``, measured: `${ratio.toFixed(2)}×`, met: ratio <= command.target })}`;
    console.log(`| ${command.label} | ${w.toFixed(0)} | ${ratio.toFixed(2)} | ${Number.isNaN(c) ? 'n/a' : c.toFixed(0)} | ${Number.isNaN(c) ? 'n/a' : (c / baseCpu).toFixed(2)} | ${target} |`);
  }
}

await main();
