// bench/growth: how the cost of the real `coffre check` and `coffre render --all` processes grows with the
// repo: the generated repo (half OpenBao, half sops files made by the real sops) at 200 / 1 000 / 2 000
// services (BENCH_GROWTH_SIZES), each size a copy of the first N services of one seeded repo. Every run is a
// cold `node bin/coffre.js` process; wall time and the child's peak RSS (GNU time's %M). Rounds interleave
// the sizes (BENCH_RUNS, default 3); medians of time and CPU time, maximum of peak RSS.
// Run: `npm run bench:growth`. Not a test.
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { median, openBenchRepo, subsetRepo, FILES_PER_SERVICE, type GeneratedRepo } from './generated-repo.js';
import { expectExit, mib, peakRssAvailable, reportTarget, timeCoffre } from './process.js';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '200,1000,2000').split(',').map(Number).sort((a, b) => a - b);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RSS_TARGET_MB = 150;

interface Samples {
  check: number[];
  render: number[];
  checkRss: number[];
  renderRss: number[];
  checkCpu: number[];
  renderCpu: number[];
}

async function main(): Promise<void> {
  const largest = SIZES.at(-1) as number;
  const bench = await openBenchRepo(largest);
  const repos = new Map<number, GeneratedRepo>();
  const samples = new Map<number, Samples>();
  try {
    for (const size of SIZES) {
      repos.set(size, size === largest ? bench : await subsetRepo(bench, size));
      samples.set(size, { check: [], render: [], checkRss: [], renderRss: [], checkCpu: [], renderCpu: [] });
    }
    for (let round = 0; round < RUNS; round++) {
      for (const size of SIZES) {
        const repo = repos.get(size) as GeneratedRepo;
        const s = samples.get(size) as Samples;
        const check = await timeCoffre(repo.root, ['check'], bench.env);
        expectExit(check, [0], `coffre check (${size} services)`);
        await Promise.all(repo.files.map((f) => rm(f.target, { force: true })));
        const render = await timeCoffre(repo.root, ['render', '--all'], bench.env);
        expectExit(render, [0], `coffre render --all (${size} services)`);
        s.check.push(check.ms);
        s.render.push(render.ms);
        if (check.peakRss !== null) s.checkRss.push(check.peakRss);
        if (render.peakRss !== null) s.renderRss.push(render.peakRss);
        if (check.cpuMs !== null) s.checkCpu.push(check.cpuMs);
        if (render.cpuMs !== null) s.renderCpu.push(render.cpuMs);
      }
    }
  } finally {
    for (const repo of repos.values()) if (repo !== bench) await rm(repo.root, { recursive: true, force: true });
    await bench.close();
  }

  const row = (size: number) => {
    const s = samples.get(size) as Samples;
    return {
      size,
      check: median(s.check),
      render: median(s.render),
      checkRss: s.checkRss.length ? Math.max(...s.checkRss) : null,
      renderRss: s.renderRss.length ? Math.max(...s.renderRss) : null,
      checkCpu: s.checkCpu.length ? median(s.checkCpu) : null,
      renderCpu: s.renderCpu.length ? median(s.renderCpu) : null,
    };
  };
  const rows = SIZES.map(row);
  const first = rows[0] as ReturnType<typeof row>;
  const last = rows.at(-1) as ReturnType<typeof row>;
  const perService = (ms: number, size: number) => ms / size;
  const cpu = (ms: number | null) => (ms === null ? 'n/a' : `${ms.toFixed(0)} ms`);
  const lines = [
    `Generated repo (half OpenBao, half sops yaml; ${FILES_PER_SERVICE} files × 12 keys per service); cold \`node bin/coffre.js -C <repo> check\` and \`render --all\` (fresh: no targets); ${RUNS} rounds interleaving the sizes, median time and CPU time (user + system, from GNU time), highest peak RSS (${peakRssAvailable ? "the child's own maxrss, from GNU time" : 'GNU time not installed: not measured'}); ${os.cpus().length} cores, Node ${process.version}.`,
    '',
    '| services (files) | check | per service | check CPU | check peak RSS | render --all fresh | per service | render CPU | render peak RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.size} (${r.size * FILES_PER_SERVICE}) | ${r.check.toFixed(0)} ms | ${perService(r.check, r.size).toFixed(2)} ms | ${cpu(r.checkCpu)} | ${mib(r.checkRss)} | ${r.render.toFixed(0)} ms | ${perService(r.render, r.size).toFixed(2)} ms | ${cpu(r.renderCpu)} | ${mib(r.renderRss)} |`,
    ),
    '',
  ];
  // Linear or better: the marginal cost of one more service over the upper interval (e.g. 1 000 → 2 000) is no
  // more than over the lower one (200 → 1 000), within 15 % for noise; with two sizes, the cost per service.
  const GROWTH_NOISE = 1.15;
  if (rows.length > 2) {
    const lower = rows[1] as ReturnType<typeof row>;
    const upperFrom = rows.at(-2) as ReturnType<typeof row>;
    for (const [label, key] of [['check', 'check'], ['render --all', 'render']] as const) {
      const low = (lower[key] - first[key]) / (lower.size - first.size);
      const high = (last[key] - upperFrom[key]) / (last.size - upperFrom.size);
      // A marginal cost at or below zero over the lower interval is noise (sizes too close): no ratio then.
      const growth = low > 0 ? high / low : Number.POSITIVE_INFINITY;
      if (!(low > 0)) {
        lines.push(`- ${label}: the cost did not grow from ${first.size} to ${lower.size} services (noise at these sizes): no growth ratio.`);
        continue;
      }
      const verdict = await reportTarget({ bench: 'growth', target: `${label}: linear or better (ms per added service, ${upperFrom.size}→${last.size} vs ${first.size}→${lower.size}, ≤ ${GROWTH_NOISE}×)`, measured: `${growth.toFixed(2)}×`, met: growth <= GROWTH_NOISE });
      lines.push(`- ${label}: each added service costs ${low.toFixed(2)} ms from ${first.size} to ${lower.size} services and ${high.toFixed(2)} ms from ${upperFrom.size} to ${last.size}: ratio ${growth.toFixed(2)} (linear or better: ≤ ${GROWTH_NOISE}, 15 % for noise): ${verdict}.`);
    }
  } else if (rows.length === 2) {
    for (const [label, key] of [['check', 'check'], ['render --all', 'render']] as const) {
      const growth = perService(last[key], last.size) / perService(first[key], first.size);
      const verdict = await reportTarget({ bench: 'growth', target: `${label}: time per service at ${last.size} ≤ at ${first.size} (linear or better)`, measured: `${growth.toFixed(2)}×`, met: growth <= 1 });
      lines.push(`- ${label}: time per service at ${last.size} services / at ${first.size} = ${growth.toFixed(2)} (linear or better: ≤ 1): ${verdict}.`);
    }
  }
  for (const [label, key] of [['check', 'checkRss'], ['render --all', 'renderRss']] as const) {
    const rss = last[key];
    if (rss === null) continue;
    const verdict = await reportTarget({ bench: 'growth', target: `${label}: peak RSS at ${last.size} services ≤ ${RSS_TARGET_MB} MB`, measured: `${(rss / 1e6).toFixed(0)} MB`, met: rss <= RSS_TARGET_MB * 1e6 });
    lines.push(`- ${label}: peak RSS at ${last.size} services = ${(rss / 1e6).toFixed(0)} MB (target ≤ ${RSS_TARGET_MB} MB): ${verdict}.`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
