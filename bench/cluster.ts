// bench/cluster: 3 "hosts" (3 real, cold `coffre render --all` processes, each in its own copy of the repo)
// rendering the same 200 services (3 files × 12 keys each, all in OpenBao) at once against a real 3-node
// OpenBao Raft cluster (test/support/openbao-cluster.ts), listed in coffre.yaml's vault.addresses.
// Rounds: fresh renders; the same with one node address (baseline, same run); then one round where the active
// node is SIGKILLed while the hosts render.
// Reports wall time per host and per round, and every error. Run: `npm run bench:cluster`. Not a test.
import { spawn } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { makeClusterRepo } from '../test/support/cluster-repo.js';
import { startOpenBaoCluster } from '../test/support/openbao-cluster.js';
import { median } from './generated-repo.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** How long after the hosts start the active node is killed in the failover round. */
const KILL_AFTER_MS = Number(process.env.BENCH_KILL_AFTER_MS ?? 400);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(projectRoot, 'bin', 'coffre.js');

interface HostRun {
  ms: number;
  code: number;
  /** Error codes named in the output (never values: coffre prints none). */
  errors: string[];
}

function renderOnHost(root: string, token: string): Promise<HostRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    // A hardened env: nothing of the caller's VAULT_* / BAO_* reaches the host process.
    const child = spawn(process.execPath, [bin, '-C', root, 'render', '--all', '--quiet'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, VAULT_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('close', (code) => {
      const errors = [...new Set(output.match(/COFFRE_[A-Z_]+/g) ?? [])];
      resolve({ ms: performance.now() - started, code: code ?? -1, errors });
    });
  });
}

async function main(): Promise<void> {
  const setupStart = performance.now();
  const cluster = await startOpenBaoCluster();
  const roots: string[] = [];
  try {
    const active = await cluster.waitForActive();
    const first = await makeClusterRepo({
      addresses: cluster.addresses,
      seedAddress: active.address,
      token: cluster.rootToken,
      services: SERVICES,
      filesPerService: 3,
      keysPerFile: 12,
    });
    roots.push(first.root);
    for (let h = 1; h < HOSTS; h++) {
      const copy = path.join(os.tmpdir(), `${path.basename(first.root)}-host${h}`);
      await cp(first.root, copy, { recursive: true });
      roots.push(copy);
    }
    const targetsOf = (root: string): string[] => first.files.map((f) => path.join(root, path.relative(first.root, f.target)));
    const clean = (): Promise<unknown> => Promise.all(roots.flatMap((root) => targetsOf(root).map((t) => rm(t, { force: true }))));
    /** Every target of every host holds exactly the stored values. */
    const verify = async (): Promise<number> => {
      let bad = 0;
      for (const root of roots) {
        for (const [i, target] of targetsOf(root).entries()) {
          const file = first.files[i]!;
          const text = await readFile(target, 'utf8').catch(() => '');
          if (!Object.entries(file.values).every(([k, v]) => text.includes(`${k}="${v}"`))) bad += 1;
        }
      }
      return bad;
    };
    process.stdout.write(
      `cluster of ${cluster.nodes.length} nodes and ${SERVICES} services × 3 files ready in ${((performance.now() - setupStart) / 1000).toFixed(1)} s; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`,
    );

    const rows: string[] = [];
    const round = async (label: string, during?: () => Promise<void>): Promise<number> => {
      await clean();
      const started = performance.now();
      const runs = roots.map((root) => renderOnHost(root, cluster.rootToken));
      const side = during?.();
      const results = await Promise.all(runs);
      await side;
      const wall = performance.now() - started;
      const bad = await verify();
      const errors = [...new Set(results.flatMap((r) => r.errors))];
      rows.push(
        `| ${label} | ${(wall / 1000).toFixed(2)} | ${results.map((r) => (r.ms / 1000).toFixed(2)).join(' / ')} | ${results.map((r) => r.code).join(' / ')} | ${errors.length === 0 ? 'none' : errors.join(', ')} | ${bad} |`,
      );
      return wall;
    };
    const walls: number[] = [];
    for (let i = 0; i < RUNS; i++) walls.push(await round(`fresh ${i + 1}`));
    // Baseline in the same run: the same hosts with only the active node as \`vault.address\` (no failover layer).
    const configs = await Promise.all(roots.map((root) => readFile(path.join(root, 'coffre.yaml'), 'utf8')));
    const activeNow = await cluster.activeNode();
    await Promise.all(
      roots.map((root, i) =>
        writeFile(path.join(root, 'coffre.yaml'), configs[i]!.replace(/ {2}addresses:\n( {4}- .*\n)+/, `  address: ${activeNow.address}\n`)),
      ),
    );
    const single: number[] = [];
    for (let i = 0; i < RUNS; i++) single.push(await round(`baseline ${i + 1}: one address (the active node)`));
    await Promise.all(roots.map((root, i) => writeFile(path.join(root, 'coffre.yaml'), configs[i]!)));
    const killed = await cluster.activeNode();
    await round(`fresh, active node killed after ${KILL_AFTER_MS} ms`, async () => {
      await new Promise((resolve) => setTimeout(resolve, KILL_AFTER_MS));
      await killed.kill();
    });

    process.stdout.write(
      [
        '',
        `${HOSTS} hosts × \`coffre render --all\` (${SERVICES} services, ${SERVICES * 3} files each), concurrently, cold processes:`,
        '',
        '| round | wall (s) | per host (s) | exit codes | errors | files wrong or missing |',
        '| --- | ---: | --- | --- | --- | ---: |',
        ...rows,
        '',
        `median wall time: ${(median(walls) / 1000).toFixed(2)} s with vault.addresses (3 nodes), ${(median(single) / 1000).toFixed(2)} s with one address (ratio ${(median(walls) / median(single)).toFixed(2)})`,
        '',
      ].join('\n'),
    );
  } finally {
    await cluster.stop();
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  }
}

await main();
