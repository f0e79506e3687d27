// bench/render: `coffre render --all` of the generated 200-service repo, fresh (no targets) and unchanged
// (second run: must touch no file), against the naive baseline a deploy script would run: one
// `sops decrypt --output T` / `bao kv get -format=json > T` process per file.
// The headline figures are the real command: a cold `node bin/coffre.js -C <repo> render --all` process per
// run, no warm-up, nothing carried between runs; the in-process figures (openWorkspace + runRender inside this
// process) are kept, labelled "in-process". Process and in-process rounds are interleaved.
// Run: `npm run bench:render`. Not a test: it asserts nothing about time, only about correctness.
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { runRender } from '../src/use-cases/render.js';
import { openWorkspace } from '../src/use-cases/workspace.js';
import { toolPath } from '../test/support/tools.js';
import { FILES_PER_SERVICE, KEYS_PER_FILE, expectedEnvFile, median, openBenchRepo } from './generated-repo.js';
import { expectExit, reportTarget, timeCoffre } from './process.js';

const run = promisify(execFile);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function main(): Promise<void> {
  const bench = await openBenchRepo(SERVICES);
  const { bao, key, root, files, env } = bench;
  try {
    const removeTargets = () => Promise.all(files.map((f) => rm(f.target, { force: true })));
    const renderAll = async () => {
      const workspace = await openWorkspace({ root, env });
      try {
        const report = await runRender(workspace, { services: [], all: true });
        const failed = report.services.filter((s) => s.error);
        if (failed.length > 0) throw new Error(`render failed: ${failed[0]?.error?.code} ${failed[0]?.error?.message}`);
        return report;
      } finally {
        workspace.close();
      }
    };

    const mtimesOf = () => Promise.all(files.map(async (f) => (await stat(f.target)).mtimeMs));
    const fresh: number[] = [];
    const unchanged: number[] = [];
    const inFresh: number[] = [];
    const inUnchanged: number[] = [];
    let touched = 0;
    let inTouched = 0;
    for (let i = 0; i < RUNS; i++) {
      // The real process, cold.
      await removeTargets();
      const first = await timeCoffre(root, ['render', '--all'], env);
      expectExit(first, [0], 'coffre render --all (fresh)');
      fresh.push(first.ms);
      // Every target complete (byte-equal to the expected env file, never printed) and mode 0600.
      await Promise.all(
        files.map(async (f) => {
          const info = await stat(f.target);
          if ((info.mode & 0o777) !== 0o600) throw new Error(`${path.relative(root, f.target)}: mode 0${(info.mode & 0o777).toString(8)}, not 0600`);
          if ((await readFile(f.target, 'utf8')) !== expectedEnvFile(f)) throw new Error(`${path.relative(root, f.target)}: not the expected content`);
        }),
      );
      let mtimes = await mtimesOf();
      const second = await timeCoffre(root, ['render', '--all'], env);
      expectExit(second, [0], 'coffre render --all (unchanged)');
      unchanged.push(second.ms);
      touched += (await mtimesOf()).filter((m, index) => m !== mtimes[index]).length;
      // In-process.
      await removeTargets();
      let start = performance.now();
      await renderAll();
      inFresh.push(performance.now() - start);
      mtimes = await mtimesOf();
      start = performance.now();
      const report = await renderAll();
      inUnchanged.push(performance.now() - start);
      inTouched += (await mtimesOf()).filter((m, index) => m !== mtimes[index]).length;
      if (!report.services.every((s) => s.status === 'unchanged')) throw new Error('second render was not unchanged');
    }

    // Naive baseline: one process per file, sequential, output redirected into the target.
    await removeTargets();
    const baoBin = toolPath('bao');
    const sopsBin = toolPath('sops');
    const baselineEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken, SOPS_AGE_KEY: key.identity };
    const baselineStart = performance.now();
    for (const file of files) {
      if (file.sopsFile) {
        await run(sopsBin, ['decrypt', '--output-type', 'dotenv', '--output', file.target, file.sopsFile], { env: baselineEnv });
      } else {
        const { stdout } = await run(baoBin, ['kv', 'get', '-format=json', '-mount=secret', file.vaultPath as string], { env: baselineEnv });
        await writeFile(file.target, stdout, { mode: 0o600 });
      }
    }
    const baseline = performance.now() - baselineStart;
    const leftovers = (await Promise.all(files.map((f) => readdir(path.dirname(f.target))))).flat().filter((n) => n.includes('coffre-tmp'));

    const a = median(fresh);
    const u = median(unchanged);
    const ratio = baseline / a;
    const verdict = await reportTarget({ bench: 'render', target: 'naive shell loop / `coffre render --all` process (fresh) ≥ 20×', measured: `${ratio.toFixed(1)}×`, met: ratio >= 20 });
    const untouched = await reportTarget({ bench: 'render', target: 'unchanged re-render touches no file', measured: `${touched + inTouched} touched`, met: touched + inTouched === 0 });
    const rows = [
      `Generated repo: ${SERVICES} services × ${FILES_PER_SERVICE} files × ${KEYS_PER_FILE} keys = ${files.length} targets (half OpenBao, half sops yaml); median of ${RUNS} interleaved runs; ${os.cpus().length} cores, Node ${process.version}.`,
      '',
      '| measurement | time | ratio |',
      '|---|---:|---:|',
      `| \`coffre render --all\`, real process, cold, fresh (${files.length} targets created) | ${a.toFixed(0)} ms | 1.00 |`,
      `| \`coffre render --all\`, real process, cold, unchanged | ${u.toFixed(0)} ms | files touched: ${touched} (target 0) |`,
      `| naive baseline: one sops/bao process per file | ${baseline.toFixed(0)} ms | baseline / fresh = ${ratio.toFixed(1)} × (target ≥ 20) |`,
      `| in-process: openWorkspace + runRender in the bench process, fresh | ${median(inFresh).toFixed(0)} ms | ${(median(inFresh) / a).toFixed(2)} × fresh |`,
      `| in-process, unchanged | ${median(inUnchanged).toFixed(0)} ms | files touched: ${inTouched} (target 0) |`,
      '',
      `Temp files left behind: ${leftovers.length}.`,
      '',
      `- baseline / fresh, the shell loop over the real \`coffre render --all\` process: ${ratio.toFixed(1)}× (target ≥ 20×): ${verdict}.`,
      `- An unchanged re-render touches no file (mtimes compared for all ${files.length} targets, process and in-process): ${untouched}.`,
    ];
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await bench.close();
  }
}

await main();
