// bench/check: `coffre check` on a generated repo of 200 services × 3 secrets files × 12 keys (half in
// OpenBao, half in sops files made by the real sops binary), against (b) the naive baseline a shell script
// would run (one `bao kv get` / `sops -d` process per file, then a key diff) and (c) the raw floor (the same
// KV reads made directly with fetch at the same concurrency, plus in-process sops decrypts).
// The headline figure is the real command a deploy script runs: a cold `node bin/coffre.js -C <repo> check`
// process per run, no warm-up, nothing carried between runs. The in-process figure (openWorkspace + runCheck
// inside this process, after 2 warm-up rounds) is kept, labelled "in-process".
// Run: `npm run bench:check` (prints a Markdown table for the README). Not a test: it asserts nothing.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { parseEnvFile } from '../src/core/env-file.js';
import { decryptSopsFile, parseAgeIdentities, parseSopsFile } from '../src/sops/index.js';
import { runCheck } from '../src/use-cases/check.js';
import { openWorkspace } from '../src/use-cases/workspace.js';
import { FILES_PER_SERVICE, KEYS_PER_FILE, median, openBenchRepo } from './generated-repo.js';
import { toolPath } from '../test/support/tools.js';
import { expectExit, reportTarget, timeCoffre } from './process.js';

const run = promisify(execFile);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const bench = await openBenchRepo(SERVICES);
  const { bao, key, root, files, env } = bench;
  try {
    const fileCount = files.length;

    // (a) coffre: a fresh workspace per run (discovery + examples + sources), as a CLI run would do.
    const checkOnce = async (keysOnly: boolean) => {
      const workspace = await openWorkspace({ root, env });
      try {
        const report = await runCheck(workspace, { keysOnly });
        if (report.summary.complete !== fileCount) throw new Error(`expected ${fileCount} complete files, got ${JSON.stringify(report.summary)}`);
      } finally {
        workspace.close();
      }
    };
    // (c) raw floor: the same reads with no coffre around them.
    const identities = parseAgeIdentities(key.identity, 'bench');
    const floorOnce = async () => {
      const limit = pLimit(8);
      await Promise.all(
        files.map((file) =>
          file.vaultPath
            ? limit(async () => {
                const response = await fetch(`${bao.address}/v1/secret/data/${file.vaultPath}`, { headers: { 'X-Vault-Token': bao.rootToken } });
                await response.json();
              })
            : (async () => {
                const text = await readFile(file.sopsFile as string, 'utf8');
                await decryptSopsFile(parseSopsFile(text, 'yaml', file.sopsFile as string), identities);
              })(),
        ),
      );
    };
    // Real processes (cold, no warm-up) interleaved with the in-process runs (after two untimed warm-up
    // rounds of their own) and the floor, so that machine load hits every figure alike.
    for (let i = 0; i < 2; i++) {
      await checkOnce(false);
      await floorOnce();
    }
    const processTimes: number[] = [];
    const processKeysOnlyTimes: number[] = [];
    const coffreTimes: number[] = [];
    const floorTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const full = await timeCoffre(root, ['check'], env);
      expectExit(full, [0], 'coffre check');
      const keys = await timeCoffre(root, ['check', '--keys-only'], env);
      expectExit(keys, [0], 'coffre check --keys-only');
      processTimes.push(full.ms);
      processKeysOnlyTimes.push(keys.ms);
      coffreTimes.push(await timed(() => checkOnce(false)));
      floorTimes.push(await timed(floorOnce));
    }

    // (b) naive baseline: one process per file, sequential, like a shell loop.
    const baoBin = toolPath('bao');
    const sopsBin = toolPath('sops');
    const baselineEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity };
    const baselineTime = await timed(async () => {
      for (const file of files) {
        const example = await readFile(path.join(root, file.service, 'secrets', `${file.name}.secrets.example`), 'utf8');
        const wanted = parseEnvFile(example).entries.map((e) => e.key);
        let stored: string[];
        if (file.vaultPath) {
          const { stdout } = await run(baoBin, ['kv', 'get', '-format=json', '-mount=secret', file.vaultPath], { env: baselineEnv });
          stored = Object.keys(JSON.parse(stdout).data.data);
        } else {
          const { stdout } = await run(sopsBin, ['decrypt', '--output-type', 'json', file.sopsFile as string], { env: baselineEnv });
          stored = Object.keys(JSON.parse(stdout));
        }
        const missing = wanted.filter((k) => !stored.includes(k));
        if (missing.length > 0) throw new Error(`baseline found missing keys in ${file.service}/${file.name}`);
      }
    });

    const p = median(processTimes);
    const pKeys = median(processKeysOnlyTimes);
    const a = median(coffreTimes);
    const c = median(floorTimes);
    const ratio = baselineTime / p;
    const verdict = await reportTarget({ bench: 'check', target: 'naive shell loop / `coffre check` process ≥ 20×', measured: `${ratio.toFixed(1)}×`, met: ratio >= 20 });
    const rows = [
      `Generated repo: ${SERVICES} services × ${FILES_PER_SERVICE} files × ${KEYS_PER_FILE} keys = ${fileCount} files (${files.filter((f) => f.vaultPath).length} in OpenBao, ${files.filter((f) => f.sopsFile).length} sops yaml); median of ${RUNS} interleaved runs; ${os.cpus().length} cores, Node ${process.version}.`,
      '',
      '| measurement | time | ratio |',
      '|---|---:|---:|',
      `| (a) \`coffre check\` (values), real process, cold | ${p.toFixed(0)} ms | 1.00 |`,
      `| (a') \`coffre check --keys-only\`, real process, cold | ${pKeys.toFixed(0)} ms | ${(pKeys / p).toFixed(2)} × (a) |`,
      `| (b) naive baseline: one bao/sops process per file | ${baselineTime.toFixed(0)} ms | (b)/(a) = ${ratio.toFixed(1)} × (target ≥ 20) |`,
      `| in-process: openWorkspace + runCheck in the bench process, after 2 warm-up rounds | ${a.toFixed(0)} ms | ${(a / p).toFixed(2)} × (a) |`,
      `| (c) raw floor, in-process: direct fetch + in-process decrypt | ${c.toFixed(0)} ms | in-process / (c) = ${(a / c).toFixed(2)}; (a)/(c) = ${(p / c).toFixed(2)} |`,
      '',
      `- (b)/(a), the shell loop over the real \`coffre check\` process: ${ratio.toFixed(1)}× (target ≥ 20×): ${verdict}.`,
    ];
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await bench.close();
  }
}

await main();
