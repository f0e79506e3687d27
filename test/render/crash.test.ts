import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writeTargetsAtomically } from '../../src/render/atomic-write.js';
import { cleanStaleTemps } from '../../src/render/stale-temps.js';
import type { RenderChildJob } from './render-child.js';
import { initGitRepo, listTemps, octal } from './render-fixture.js';

// 2 lanes (one repo each) run in parallel on 2 cores; ≥ 200 kills in total, well under a minute.
const RUNS_PER_LANE = 100;
const MAX_KILL_DELAY_MS = 30;
const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'render-child.js');
const TARGETS = ['a/secrets/one.env', 'a/secrets/two.env', 'b/secrets/three.env'];
const DIRS = ['a/secrets', 'b/secrets'];

/** 16 KiB per file, so a partially written file could not pass for a complete one. */
function contentOf(tag: string, index: number): Buffer {
  return Buffer.from(`K${index}="${tag}-${index}-${String(index).repeat(16 * 1024)}"\n`);
}
const OLD = TARGETS.map((_rel, index) => contentOf('old', index));
const NEW = TARGETS.map((_rel, index) => contentOf('new', index));

interface LaneStats {
  runs: number;
  killed: number;
  completed: number;
  completedAfterKill: number;
  allOld: number;
  allNew: number;
  mixed: number;
  tempsLeft: number;
  failures: string[];
}

/**
 * Spawns the writer and SIGKILLs it a random 0–MAX ms after an event: mostly after it created its first temp
 * file (under the lock), sometimes after it announced itself (during the checks and the lock wait).
 */
function runAndKill(job: RenderChildJob, kill = true): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  const trigger = Math.random() < 0.2 ? '"ready"' : '"writing"';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let armed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!kill || armed || !stdout.includes(trigger)) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), Math.random() * MAX_KILL_DELAY_MS);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ killed: signal === 'SIGKILL', code, stderr }));
  });
}

async function lane(root: string): Promise<LaneStats> {
  const stats: LaneStats = { runs: 0, killed: 0, completed: 0, completedAfterKill: 0, allOld: 0, allNew: 0, mixed: 0, tempsLeft: 0, failures: [] };
  const job: RenderChildJob = {
    root,
    service: 'svc',
    writes: TARGETS.map((targetRel, index) => ({ targetRel, content: NEW[index]!.toString(), mode: 0o600 })),
    jitterMs: 3,
  };
  let previousKilled = false;
  for (let run = 0; run < RUNS_PER_LANE; run += 1) {
    TARGETS.forEach((rel, index) => {
      writeFileSync(path.join(root, rel), OLD[index]!);
      chmodSync(path.join(root, rel), 0o600);
    });
    // Every tenth run is left to finish: on a loaded machine the random kills could otherwise land in every
    // run, and the lock-breaking after a killed holder would go unexercised.
    const outcome = await runAndKill(job, run % 10 !== 9);
    stats.runs += 1;
    if (outcome.killed) stats.killed += 1;
    else if (outcome.code === 0) {
      stats.completed += 1;
      if (previousKilled) stats.completedAfterKill += 1;
    } else stats.failures.push(`run ${run}: child exited ${outcome.code}: ${outcome.stderr.slice(0, 400)}`);
    previousKilled = outcome.killed;

    const states = TARGETS.map((rel, index) => {
      const file = path.join(root, rel);
      const bytes = readFileSync(file);
      const mode = octal(statSync(file).mode);
      if (mode !== '600') stats.failures.push(`run ${run}: ${rel} has mode ${mode}`);
      if (bytes.equals(OLD[index]!)) return 'old';
      if (bytes.equals(NEW[index]!)) return 'new';
      stats.failures.push(`run ${run}: ${rel} is neither complete old nor complete new (${bytes.length} bytes)`);
      return 'torn';
    });
    if (states.every((state) => state === 'old')) stats.allOld += 1;
    else if (states.every((state) => state === 'new')) stats.allNew += 1;
    else stats.mixed += 1;
    if (!outcome.killed && outcome.code === 0 && !states.every((state) => state === 'new')) {
      stats.failures.push(`run ${run}: completed but not every target is new`);
    }

    const dirs = DIRS.map((dir) => path.join(root, dir));
    stats.tempsLeft += listTemps(...dirs).length;
    for (const dir of dirs) await cleanStaleTemps(dir);
    const remaining = listTemps(...dirs);
    if (remaining.length > 0) stats.failures.push(`run ${run}: temps remain after cleanStaleTemps: ${remaining.join(', ')}`);
  }
  return stats;
}

t.test('SIGKILL at any moment leaves each target entirely old or entirely new, 0600, and no temp after cleanup', async (t) => {
  const base = t.testdir({});
  const roots = ['lane-1', 'lane-2'].map((name) => {
    const root = path.join(base, name);
    for (const dir of DIRS) mkdirSync(path.join(root, dir), { recursive: true });
    writeFileSync(path.join(root, '.gitignore'), 'secrets/\n');
    return initGitRepo(root);
  });
  const started = Date.now();
  const lanes = await Promise.all(roots.map((root) => lane(root)));
  const total = lanes.reduce((sum, stats) => ({
    runs: sum.runs + stats.runs,
    killed: sum.killed + stats.killed,
    completed: sum.completed + stats.completed,
    completedAfterKill: sum.completedAfterKill + stats.completedAfterKill,
    allOld: sum.allOld + stats.allOld,
    allNew: sum.allNew + stats.allNew,
    mixed: sum.mixed + stats.mixed,
    tempsLeft: sum.tempsLeft + stats.tempsLeft,
    failures: [...sum.failures, ...stats.failures],
  }));
  t.comment(`crash runs: ${JSON.stringify({ ...total, failures: total.failures.length, seconds: (Date.now() - started) / 1000 })}`);
  t.same(total.failures, [], 'no torn, empty, world-readable or leftover file in any run');
  t.ok(total.runs >= 200, `${total.runs} runs`);
  t.ok(total.killed >= 100, 'most runs were killed');
  t.ok(total.mixed + total.tempsLeft > 0, 'some kills landed in the middle of a render (mixed targets or temps left)');
  t.ok(total.completedAfterKill > 0, 'a render after a killed one completed: the dead holder\'s lock was broken');

  // After all that, a normal render still works and the lock directory holds no debris.
  for (const root of roots) {
    await sleep(0);
    const results = await writeTargetsAtomically(root, 'svc', TARGETS.map((targetRel, index) => ({ targetRel, content: OLD[index]!.toString() })), { lockTimeoutMs: 2000 });
    t.equal(results.length, 3);
    t.same(readdirSync(path.join(root, '.coffre/locks')), ['.gitignore'], 'no lock, guard or creation temp left');
  }
});
