// `npm run bench`: runs every benchmark, one after the other, each as its own process (start, check, render,
// http, agent, sops-scale, growth, and cluster when bench/cluster.ts exists), then rewrites the README's Performance
// section (between `<!-- bench:start -->` and `<!-- bench:end -->`) from what they printed: the machine (cores,
// CPU model, Node), the load average at start and at end, a table of every target met or missed with its
// number, then each benchmark's own tables.
// Options: BENCH_ONLY=check,render (a subset), BENCH_README=0 (print, do not write). When the 1-minute load
// average at start exceeds the core count the README is left alone unless BENCH_README=force: figures of a
// loaded machine say little about coffre. Sizes and rounds pass through (BENCH_SERVICES, BENCH_RUNS, …).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { projectRoot, type TargetResult } from './process.js';

const ALL = ['start', 'check', 'render', 'http', 'agent', 'sops-scale', 'growth', 'cluster'];
const TITLES: Record<string, string> = {
  start: 'start-up: cold `coffre` processes against `node -e 0`',
  check: '`coffre check` against the shell loop and the raw floor',
  render: '`coffre render --all` against the shell loop',
  http: '`coffre serve` under load against the direct KV reads',
  agent: '`coffre render --all` against OpenBao Agent',
  'sops-scale': '`coffre check` and `render --all` of a sops-only repo against an in-process decrypt floor',
  growth: 'cost growth with the repo size (time and peak RSS)',
  cluster: 'three coffre hosts against a 3-node OpenBao Raft cluster',
};

const loadText = () => os.loadavg().map((l) => l.toFixed(2)).join(' / ');

function runBench(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; seconds: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'bench', `${name}.js`)], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      process.stdout.write(b);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), seconds: (performance.now() - start) / 1000 }));
  });
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const names = ALL.filter((name) => (only ? only.includes(name) : true)).filter((name) => name !== 'cluster' || existsSync(path.join(projectRoot, 'bench', 'cluster.ts')));
  const cores = os.cpus().length;
  const model = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const startedAt = new Date();
  const loadAtStart = loadText();
  const load1AtStart = os.loadavg()[0] as number;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-all-'));
  const resultsFile = path.join(scratch, 'targets.jsonl');
  const sections: string[] = [];
  const failures: string[] = [];
  try {
    for (const name of names) {
      process.stderr.write(`\n== bench/${name} (load ${loadText()})\n`);
      const { code, stdout, seconds } = await runBench(name, { ...process.env, BENCH_RESULTS: resultsFile });
      const body = code === 0 ? stdout.trim() : `**Failed** (exit code ${code}); the output it printed before failing:\n\n${stdout.trim() || '(none)'}`;
      if (code !== 0) failures.push(name);
      sections.push(`### bench/${name}: ${TITLES[name] ?? name}\n\n\`npm run bench:${name}\`, ${seconds.toFixed(0)} s.\n\n${body}`);
    }
    const targets: TargetResult[] = existsSync(resultsFile)
      ? (await readFile(resultsFile, 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as TargetResult)
      : [];
    const met = targets.filter((t) => t.met).length;
    const loadAtEnd = loadText();
    const summary = [
      `Measured by \`npm run bench\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${cores} cores (${model}), Node ${process.version}, ${os.platform()} ${os.release()}; load average (1 / 5 / 15 min) ${loadAtStart} at start, ${loadAtEnd} at end. coffre, OpenBao and the load generators share these cores.`,
      'Every coffre figure times the real `coffre` process (a cold `node bin/coffre.js`, no warm-up round, nothing cached between runs; `serve` is one long-running process) unless labelled in-process. Each benchmark starts its own OpenBao dev server and generates its repo (`bench/generated-repo.ts`: services × 3 secrets files × 12 keys, half in OpenBao, half in sops files made by the real `sops`; Vault-only for bench/agent).',
      '',
      `Targets: ${met} of ${targets.length} met${failures.length ? `; benchmarks that failed: ${failures.join(', ')}` : ''}.`,
      '',
      '| bench | target | measured | |',
      '|---|---|---:|---|',
      ...targets.map((t) => `| ${t.bench} | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`),
    ].join('\n');
    const section = `${summary}\n\n${sections.join('\n\n')}`;
    process.stdout.write(`\n${summary}\n`);

    const mode = process.env.BENCH_README ?? '1';
    if (mode === '0') return;
    if (load1AtStart > cores && mode !== 'force') {
      process.stderr.write(`README left alone: the load average at start (${load1AtStart.toFixed(2)}) exceeded the ${cores} cores; rerun on a quieter machine or set BENCH_README=force.\n`);
      return;
    }
    if (only) process.stderr.write('note: BENCH_ONLY given: the README section now holds only these benchmarks.\n');
    const readmePath = path.join(projectRoot, 'README.md');
    const readme = readFileSync(readmePath, 'utf8');
    const open = '<!-- bench:start -->';
    const close = '<!-- bench:end -->';
    const from = readme.indexOf(open);
    const to = readme.indexOf(close);
    if (from < 0 || to < from) throw new Error('README.md has no <!-- bench:start --> … <!-- bench:end --> section');
    writeFileSync(readmePath, `${readme.slice(0, from + open.length)}\n${section}\n${readme.slice(to)}`);
    process.stderr.write('README.md Performance section rewritten.\n');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  if (failures.length) process.exitCode = 1;
}

await main();
