// Timing of real processes for the benchmarks: the `coffre` command as a deploy script runs it (a cold
// `node bin/coffre.js …`, nothing carried between runs), its wall time and its peak RSS. Peak RSS comes from
// GNU time (`/usr/bin/time -f %M`, the child's own getrusage maxrss, in KiB) when it is installed; otherwise
// it is reported as unknown (null). Also the results file the `npm run bench` runner collects targets from.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const coffreBin = path.join(projectRoot, 'bin', 'coffre.js');
const GNU_TIME = '/usr/bin/time';
export const peakRssAvailable = existsSync(GNU_TIME);

export interface ProcessRun {
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** Peak resident set size of the child in bytes, null when GNU time is not installed. */
  peakRss: number | null;
  /** CPU time of the child (user + system), in ms, null when GNU time is not installed. */
  cpuMs: number | null;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv[0] argv[1..]` once and times it. With GNU time, the command runs under it (one extra exec,
 * about a millisecond) so that the peak RSS is the child's own, not a sampled one.
 */
export async function timeProcess(argv: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<ProcessRun> {
  const scratch = peakRssAvailable ? await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-time-')) : null;
  const rssFile = scratch ? path.join(scratch, 'rss') : null;
  const [command, ...args] = rssFile ? [GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...argv] : argv;
  try {
    const start = performance.now();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(command as string, args, { env: options.env, cwd: options.cwd ?? projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.once('error', reject);
      child.once('close', (exit) => resolve({ code: exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
    const ms = performance.now() - start;
    let peakRss: number | null = null;
    let cpuMs: number | null = null;
    if (rssFile) {
      const text = (await readFile(rssFile, 'utf8')).trim().split('\n').at(-1) ?? '';
      const measured = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(text);
      if (measured) {
        peakRss = Number(measured[1]) * 1024;
        cpuMs = (Number(measured[2]) + Number(measured[3])) * 1000;
      }
    }
    return { ms, peakRss, cpuMs, code, stdout, stderr };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** The env a deploy script gives coffre: PATH and HOME, plus the given variables; nothing else inherited. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir(), ...extra };
}

/** A cold `coffre` process: `node bin/coffre.js -C <root> <args…>`. */
export function timeCoffre(root: string, args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return timeProcess([process.execPath, coffreBin, '-C', root, ...args], { env: cleanEnv(env) });
}

/** Throws unless the process exited with one of `codes`; the message carries only the first lines of stderr. */
export function expectExit(run: ProcessRun, codes: number[], what: string): void {
  if (run.code === null || !codes.includes(run.code)) {
    throw new Error(`${what} exited ${run.code}: ${run.stderr.split('\n').slice(0, 5).join(' | ')}`);
  }
}

export const mib = (bytes: number | null): string => (bytes === null ? 'n/a' : `${(bytes / 1048576).toFixed(0)} MiB`);
export const verdict = (met: boolean): string => (met ? 'met' : '**missed**');

/** One target of the issue, as the runner's summary table shows it. */
export interface TargetResult {
  bench: string;
  target: string;
  measured: string;
  met: boolean;
}

/** Appends a target result to $BENCH_RESULTS (JSON lines) when the runner set it; always returns the verdict text. */
export async function reportTarget(result: TargetResult): Promise<string> {
  const file = process.env.BENCH_RESULTS;
  if (file) await appendFile(file, `${JSON.stringify(result)}\n`);
  return verdict(result.met);
}
