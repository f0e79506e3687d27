// bench/agent: the same Vault-backed generated repo (every service in OpenBao KV v2, 3 files × 12 keys each)
// rendered by OpenBao Agent — the real `bao agent` of .tools/bin (pinned in scripts/tools.env), one `template`
// stanza per file, `perms = "0600"`, auth by `auto_auth` method `token_file`, `exit_after_auth = true` (it
// renders every template once, then exits) — and by the real `coffre render --all` process (cold
// `node bin/coffre.js`). Fresh (no targets) and unchanged (a second run) for both, interleaved rounds (the
// order of the two tools alternates), medians. After every run each of the targets is checked: present,
// mode 0600, content byte-equal to what the other tool writes (both are compared to the same expected bytes).
// Sizes: BENCH_AGENT_SIZES (default "200,2000" services), rounds: BENCH_RUNS (default 3).
// Run: `npm run bench:agent`. Not a test: it asserts correctness only, and reports met/missed for time.
import { readFileSync } from 'node:fs';
import { readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toolPath } from '../test/support/tools.js';
import { median, openBenchRepo, subsetRepo, expectedEnvFile, type GeneratedRepo } from './generated-repo.js';
import { cleanEnv, expectExit, reportTarget, timeCoffre, timeProcess, type ProcessRun } from './process.js';

const SIZES = (process.env.BENCH_AGENT_SIZES ?? '200,2000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FRESH_TARGET = 0.5;
const UNCHANGED_TARGET = 0.3;

/** The agent's template for one file: every key of the KV v2 secret as `KEY="value"`, sorted by key. */
function templateOf(vaultPath: string): string {
  return `{{ with secret "secret/data/${vaultPath}" }}{{ range $k, $v := .Data.data }}{{ $k }}="{{ $v }}"\n{{ end }}{{ end }}`;
}

function agentConfig(address: string, tokenFile: string, repo: GeneratedRepo): string {
  // JSON.stringify yields HCL-compatible string literals (\" \\ \n escapes); templates use {{ }}, not ${ }.
  const templates = repo.files.map(
    (f) => `template {\n  destination = ${JSON.stringify(f.target)}\n  perms = "0600"\n  contents = ${JSON.stringify(templateOf(f.vaultPath as string))}\n}\n`,
  );
  return [
    `vault {\n  address = ${JSON.stringify(address)}\n}`,
    `auto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = ${JSON.stringify(tokenFile)}\n    }\n  }\n}`,
    'exit_after_auth = true',
    'template_config {\n  exit_on_retry_failure = true\n}',
    ...templates,
  ].join('\n');
}

/** Every target present, mode 0600, byte-equal to the expected env file; returns the targets' mtimes. */
async function verify(repo: GeneratedRepo, who: string): Promise<number[]> {
  return Promise.all(
    repo.files.map(async (f) => {
      const info = await stat(f.target).catch(() => null);
      if (!info) throw new Error(`${who}: ${path.relative(repo.root, f.target)} was not written`);
      if ((info.mode & 0o777) !== 0o600) throw new Error(`${who}: ${path.relative(repo.root, f.target)} has mode 0${(info.mode & 0o777).toString(8)}, not 0600`);
      // Compared, never printed: these are the bench's fake secrets.
      if ((await readFile(f.target, 'utf8')) !== expectedEnvFile(f)) throw new Error(`${who}: ${path.relative(repo.root, f.target)} differs from the expected content`);
      return info.mtimeMs;
    }),
  );
}

const touchedCount = (before: number[], after: number[]) => after.filter((m, i) => m !== before[i]).length;

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

interface SizeResult {
  services: number;
  files: number;
  agentFresh: number;
  agentUnchanged: number;
  coffreFresh: number;
  coffreUnchanged: number;
  agentTouched: number;
  coffreTouched: number;
  /** OpenBao's own CPU time (ms, median) during each kind of run. */
  baoCpu: { agentFresh: number; agentUnchanged: number; coffreFresh: number; coffreUnchanged: number };
  /** Each tool's own process CPU time (user + system, ms, median; NaN without GNU time). */
  toolCpu: { agentFresh: number; agentUnchanged: number; coffreFresh: number; coffreUnchanged: number };
}

async function main(): Promise<void> {
  const largest = Math.max(...SIZES);
  const bench = await openBenchRepo(largest, 'vault');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'coffre-bench-agent-'));
  const results: SizeResult[] = [];
  try {
    const tokenFile = path.join(scratch, 'token');
    const coffreEnv = { VAULT_ADDR: bench.bao.address, VAULT_TOKEN: bench.bao.rootToken };
    const bao = toolPath('bao');
    for (const size of SIZES) {
      const repo = size === largest ? bench : await subsetRepo(bench, size);
      try {
        const configFile = path.join(scratch, `agent-${size}.hcl`);
        await writeFile(configFile, agentConfig(bench.bao.address, tokenFile, repo), { mode: 0o600 });
        const removeTargets = () => Promise.all(repo.files.map((f) => rm(f.target, { force: true })));
        const runAgent = async (): Promise<ProcessRun> => {
          // token_file auth: the agent may remove the file after reading it, so it is written before each run.
          await writeFile(tokenFile, bench.bao.rootToken, { mode: 0o600 });
          const run = await timeProcess([bao, 'agent', `-config=${configFile}`, '-log-level=warn'], { env: cleanEnv({}) });
          expectExit(run, [0], 'bao agent');
          return run;
        };
        const runCoffre = async (): Promise<ProcessRun> => {
          const run = await timeCoffre(repo.root, ['render', '--all'], coffreEnv);
          expectExit(run, [0], 'coffre render --all');
          return run;
        };
        const times = { agentFresh: [] as number[], agentUnchanged: [] as number[], coffreFresh: [] as number[], coffreUnchanged: [] as number[] };
        const baoCpu = { agentFresh: [] as number[], agentUnchanged: [] as number[], coffreFresh: [] as number[], coffreUnchanged: [] as number[] };
        // The server's CPU during a run: both tools make the same KV reads, so this part is common to both.
        const toolCpu = { agentFresh: [] as number[], agentUnchanged: [] as number[], coffreFresh: [] as number[], coffreUnchanged: [] as number[] };
        const withBaoCpu = async (kind: keyof typeof baoCpu, run: () => Promise<ProcessRun>): Promise<number> => {
          const before = cpuMsOf(bench.bao.pid);
          const { ms, cpuMs } = await run();
          baoCpu[kind].push(cpuMsOf(bench.bao.pid) - before);
          toolCpu[kind].push(cpuMs ?? Number.NaN);
          return ms;
        };
        let agentTouched = 0;
        let coffreTouched = 0;
        const agentRound = async () => {
          await removeTargets();
          times.agentFresh.push(await withBaoCpu('agentFresh', runAgent));
          const before = await verify(repo, 'agent, fresh');
          times.agentUnchanged.push(await withBaoCpu('agentUnchanged', runAgent));
          agentTouched += touchedCount(before, await verify(repo, 'agent, unchanged'));
        };
        const coffreRound = async () => {
          await removeTargets();
          times.coffreFresh.push(await withBaoCpu('coffreFresh', runCoffre));
          const before = await verify(repo, 'coffre, fresh');
          times.coffreUnchanged.push(await withBaoCpu('coffreUnchanged', runCoffre));
          coffreTouched += touchedCount(before, await verify(repo, 'coffre, unchanged'));
        };
        for (let round = 0; round < RUNS; round++) {
          if (round % 2 === 0) {
            await agentRound();
            await coffreRound();
          } else {
            await coffreRound();
            await agentRound();
          }
        }
        await removeTargets();
        results.push({
          services: size,
          files: repo.files.length,
          agentFresh: median(times.agentFresh),
          agentUnchanged: median(times.agentUnchanged),
          coffreFresh: median(times.coffreFresh),
          coffreUnchanged: median(times.coffreUnchanged),
          agentTouched,
          coffreTouched,
          baoCpu: { agentFresh: median(baoCpu.agentFresh), agentUnchanged: median(baoCpu.agentUnchanged), coffreFresh: median(baoCpu.coffreFresh), coffreUnchanged: median(baoCpu.coffreUnchanged) },
          toolCpu: { agentFresh: median(toolCpu.agentFresh), agentUnchanged: median(toolCpu.agentUnchanged), coffreFresh: median(toolCpu.coffreFresh), coffreUnchanged: median(toolCpu.coffreUnchanged) },
        });
      } finally {
        if (repo !== bench) await rm(repo.root, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await bench.close();
  }

  const lines = [
    `Vault-only generated repo (every service in OpenBao KV v2; 3 files × 12 keys per service); both tools as real processes (\`bao agent\` ${await baoVersion()}, one template per file, \`exit_after_auth\`; \`node bin/coffre.js render --all\`, cold); ${RUNS} interleaved rounds, medians; ${os.cpus().length} cores, Node ${process.version}.`,
    'After every run, every target was checked: present, mode 0600, and byte-equal to the same expected `KEY="value"` lines for both tools (the generated values hold no `\\ " $` or line break, which coffre escapes and a plain Go template does not; key names sort in example order, so the `range` template writes them in coffre\'s order).',
    '',
    '| services (files) | agent fresh | coffre fresh | coffre / agent | agent unchanged | coffre unchanged | coffre / agent | files touched on unchanged (agent, coffre) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.services} (${r.files}) | ${r.agentFresh.toFixed(0)} ms | ${r.coffreFresh.toFixed(0)} ms | ${(r.coffreFresh / r.agentFresh).toFixed(2)} | ${r.agentUnchanged.toFixed(0)} ms | ${r.coffreUnchanged.toFixed(0)} ms | ${(r.coffreUnchanged / r.agentUnchanged).toFixed(2)} | ${r.agentTouched}, ${r.coffreTouched} |`,
    ),
    '',
    "OpenBao's own CPU time during the runs (user + system of the `bao server` process, medians): the KV reads are the same for both tools, so this part of the work is common to both, and with one read per secret file it bounds how far below the agent's time coffre can go.",
    '',
    '| services | OpenBao CPU: agent fresh | coffre fresh | agent unchanged | coffre unchanged | OpenBao CPU (coffre unchanged) / agent unchanged wall |',
    '|---|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.services} | ${r.baoCpu.agentFresh.toFixed(0)} ms | ${r.baoCpu.coffreFresh.toFixed(0)} ms | ${r.baoCpu.agentUnchanged.toFixed(0)} ms | ${r.baoCpu.coffreUnchanged.toFixed(0)} ms | ${(r.baoCpu.coffreUnchanged / r.agentUnchanged).toFixed(2)} |`,
    ),
    '',
    `Each tool's own CPU time (user + system of its process, from GNU time, medians), and the CPU floor of coffre's run: its CPU plus OpenBao's during it, spread perfectly over the ${os.cpus().length} cores, as a fraction of the agent's wall time. No coffre run on this machine can take less than that floor without spending less CPU.`,
    '',
    '| services | agent CPU fresh | coffre CPU fresh | CPU floor / agent fresh | agent CPU unchanged | coffre CPU unchanged | CPU floor / agent unchanged |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const floor = (tool: number, bao: number, agentWall: number) => ((tool + bao) / os.cpus().length / agentWall).toFixed(2);
      return `| ${r.services} | ${r.toolCpu.agentFresh.toFixed(0)} ms | ${r.toolCpu.coffreFresh.toFixed(0)} ms | ${floor(r.toolCpu.coffreFresh, r.baoCpu.coffreFresh, r.agentFresh)} | ${r.toolCpu.agentUnchanged.toFixed(0)} ms | ${r.toolCpu.coffreUnchanged.toFixed(0)} ms | ${floor(r.toolCpu.coffreUnchanged, r.baoCpu.coffreUnchanged, r.agentUnchanged)} |`;
    }),
    '',
  ];
  for (const r of results) {
    const fresh = r.coffreFresh / r.agentFresh;
    const unchanged = r.coffreUnchanged / r.agentUnchanged;
    const freshVerdict = await reportTarget({ bench: 'agent', target: `${r.services} services, fresh: coffre ≤ ${FRESH_TARGET}× agent`, measured: `${fresh.toFixed(2)}×`, met: fresh <= FRESH_TARGET });
    const unchangedVerdict = await reportTarget({ bench: 'agent', target: `${r.services} services, unchanged: coffre ≤ ${UNCHANGED_TARGET}× agent`, measured: `${unchanged.toFixed(2)}×`, met: unchanged <= UNCHANGED_TARGET });
    lines.push(`- ${r.services} services, fresh: coffre / agent = ${fresh.toFixed(2)} (target ≤ ${FRESH_TARGET}): ${freshVerdict}.`);
    lines.push(`- ${r.services} services, unchanged: coffre / agent = ${unchanged.toFixed(2)} (target ≤ ${UNCHANGED_TARGET}): ${unchangedVerdict}.`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function baoVersion(): Promise<string> {
  const run = await timeProcess([toolPath('bao'), 'version'], { env: cleanEnv({}) });
  return /v[\d.]+/.exec(run.stdout)?.[0] ?? '(version unknown)';
}

await main();
