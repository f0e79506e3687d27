// bench/check: `coffre check` on a generated repo of 200 services × 3 secrets files × 12 keys (half in
// OpenBao, half in sops files made by the real sops binary), against (b) the naive baseline a shell script
// would run (one `bao kv get` / `sops -d` process per file, then a key diff) and (c) the raw floor (the same
// KV reads made directly with fetch at the same concurrency, plus in-process sops decrypts).
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
    // Interleaved, after two untimed warm-up rounds, so that both sides run warm code under the same load.
    const coffreTimes: number[] = [];
    const coffreKeysOnlyTimes: number[] = [];
    const floorTimes: number[] = [];
    for (let i = -2; i < RUNS; i++) {
      const a = await timed(() => checkOnce(false));
      const aKeys = await timed(() => checkOnce(true));
      const c = await timed(floorOnce);
      if (i < 0) continue;
      coffreTimes.push(a);
      coffreKeysOnlyTimes.push(aKeys);
      floorTimes.push(c);
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

    const a = median(coffreTimes);
    const aKeys = median(coffreKeysOnlyTimes);
    const c = median(floorTimes);
    const rows = [
      `Generated repo: ${SERVICES} services × ${FILES_PER_SERVICE} files × ${KEYS_PER_FILE} keys = ${fileCount} files (${files.filter((f) => f.vaultPath).length} in OpenBao, ${files.filter((f) => f.sopsFile).length} sops yaml); median of ${RUNS} runs after 2 warm-up rounds; ${os.cpus().length} cores, Node ${process.version}.`,
      '',
      '| measurement | time | ratio |',
      '|---|---:|---:|',
      `| (a) coffre check (values) | ${a.toFixed(0)} ms | 1.00 |`,
      `| (a') coffre check --keys-only | ${aKeys.toFixed(0)} ms | ${(aKeys / a).toFixed(2)} × (a) |`,
      `| (b) naive baseline: one bao/sops process per file | ${baselineTime.toFixed(0)} ms | (b)/(a) = ${(baselineTime / a).toFixed(1)} × (target ≥ 20) |`,
      `| (c) raw floor: direct fetch + in-process decrypt | ${c.toFixed(0)} ms | (a)/(c) = ${(a / c).toFixed(2)} (target ≤ 1.5) |`,
    ];
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await bench.close();
  }
}

await main();
