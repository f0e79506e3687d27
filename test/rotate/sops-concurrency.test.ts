// Concurrent rotations of one sops file: writes are serialised by a per-file lock and checked-and-set against
// the file read at the start, so two rotations of different keys never both report `written` while one
// change is lost; the loser gets COFFRE_CONFLICT (exit 5). Pairs run in-process (two CLI runs side by side,
// as in one `serve`) for every store, and as real child processes of the built CLI (two admins), started in
// step: both get their value on stdin only once both wait for it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { parseAgeIdentities } from '../../src/sops/index.js';
import { createSopsSource } from '../../src/sources/sops.js';
import { projectRoot } from '../support/tools.js';
import { canary, makeRotateFixture, SOPS_STORES, type Captured, type SopsStoreCase } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);
const identities = parseAgeIdentities(fixture.key.identity, 'test');
const KEYS = ['APP_USER', 'APP_PASS'] as const;
/** Output of the child processes, for the canary check. */
const childOutputs: string[] = [];

/** The file as coffre's own decoder reads it now (a fresh source: no cache). */
async function decoded(c: SopsStoreCase): Promise<Map<string, string>> {
  const snapshot = await createSopsSource({ identities }).readValues({ kind: 'sops', file: fixture.sopsFile(c), format: c.store });
  if (snapshot === null) throw new Error(`${c.store}: the sops file is gone`);
  return snapshot.values;
}

/** `sops decrypt` (the real binary) read as key → value. */
async function decodedBySops(c: SopsStoreCase): Promise<Map<string, string>> {
  const text = await fixture.sopsDecrypt(fixture.sopsFile(c));
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*"?(APP_USER|APP_PASS)"?\s*[:=]\s*"?([A-Za-z0-9]*)"?,?\s*$/.exec(line);
    if (match) values.set(match[1]!, match[2]!);
  }
  return values;
}

/**
 * Resolves once process `pid` sits idle in its event loop (Linux /proc: waiting in epoll with no CPU time
 * spent for 300 ms): a `--value-stdin` run reads stdin before it opens the repo, so it is then waiting for
 * its value. Gives up after 30 s (the pair then simply starts less in step).
 */
async function idle(pid: number): Promise<void> {
  let last = '';
  let still = 0;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && still < 6; await sleep(50)) {
    try {
      const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = `${fields[11]}:${fields[12]}`;
      still = wchan.includes('epoll') && cpu === last ? still + 1 : 0;
      last = cpu;
    } catch {
      return;
    }
  }
}

/** Two child processes of the built CLI started in step: both get their stdin once both wait for it. */
async function childPair(argvs: string[][], stdins: string[]): Promise<Captured[]> {
  const children = argvs.map((argv) => childCoffre(argv));
  await Promise.all(children.map((child) => idle(child.pid)));
  children.forEach((child, i) => child.stdin.end(stdins[i]!));
  return Promise.all(children.map((child) => child.result));
}

/** The built CLI as a child process (its own pid: another admin's invocation); stdin stays open until ended. */
function childCoffre(argv: string[]): { pid: number; stdin: NodeJS.WritableStream; result: Promise<Captured> } {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'coffre.js'), ...argv], {
    cwd: fixture.dir,
    env: { ...fixture.env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const result = new Promise<Captured>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      childOutputs.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  return { pid: child.pid ?? 0, stdin: child.stdin, result };
}

interface PairOutcome {
  written: number;
  conflicts: number;
  /** Rotations that reported success but whose value is not in the file. */
  lost: number;
}

/**
 * Rotates APP_USER and APP_PASS of one store's file at the same time, then checks the file against the model:
 * every rotation that reported success is in the file, every other one failed with COFFRE_CONFLICT and left
 * the key as it was.
 */
async function rotatePair(
  t: Test,
  c: SopsStoreCase,
  model: Map<string, string>,
  runner: (argvs: string[][], stdins: string[]) => Promise<Captured[]>,
  bySops: boolean,
): Promise<PairOutcome> {
  const values = KEYS.map((key) => canary(key.replace('_', '').toLowerCase()));
  const results = await runner(
    KEYS.map((key) => ['rotate', fixture.dir, `s-${c.store}`, 'app', key, '--value-stdin']),
    values.map((value) => `${value}\n`),
  );
  const outcome: PairOutcome = { written: 0, conflicts: 0, lost: 0 };
  results.forEach((result, i) => {
    const key = KEYS[i]!;
    if (result.code === 0) {
      outcome.written += 1;
      model.set(key, values[i]!);
      return;
    }
    outcome.conflicts += 1;
    // Only a lost check-and-set may fail here; anything else is a bug of its own.
    if (result.code !== 5 || !result.stderr.includes('COFFRE_CONFLICT')) t.fail(`${c.store} ${key}: exit ${result.code}, expected 0 or 5 (COFFRE_CONFLICT): ${result.stderr.split('\n')[0]}`);
  });
  if (outcome.written === 0) t.fail(`${c.store}: neither rotation of the pair was written`);
  const actual = await decoded(c);
  if (bySops) {
    const sopsValues = await decodedBySops(c);
    for (const key of KEYS) if (sopsValues.get(key) !== actual.get(key)) t.fail(`${c.store} ${key}: sops decrypt and coffre's decoder disagree`);
  }
  for (const key of KEYS) {
    if (actual.get(key) === model.get(key)) continue;
    outcome.lost += 1;
    // Counted once: the next pair starts from what the file really holds.
    model.set(key, actual.get(key)!);
  }
  return outcome;
}

async function initialModel(c: SopsStoreCase): Promise<Map<string, string>> {
  const values = await decoded(c);
  return new Map(KEYS.map((key) => [key, values.get(key)!] as const));
}

t.test('100 in-process pairs of concurrent rotations (20 per store): no lost update, losers get COFFRE_CONFLICT', async (t) => {
  const totals: PairOutcome = { written: 0, conflicts: 0, lost: 0 };
  for (const c of SOPS_STORES) {
    const model = await initialModel(c);
    for (let pair = 0; pair < 20; pair++) {
      const inProcess = (argvs: string[][], stdins: string[]): Promise<Captured[]> => Promise.all(argvs.map((argv, i) => fixture.coffre(argv, { stdin: stdins[i]! })));
      const outcome = await rotatePair(t, c, model, inProcess, pair % 5 === 0);
      totals.written += outcome.written;
      totals.conflicts += outcome.conflicts;
      totals.lost += outcome.lost;
    }
    t.same(await decodedBySops(c), model, `${c.store}: sops decrypt reads the last written values`);
    t.same((await readdir(path.dirname(fixture.sopsFile(c)))).filter((n) => n.endsWith('.tmp')), [], `${c.store}: no temp file left`);
  }
  t.equal(totals.lost, 0, 'no rotation reported as written is missing from the file');
  t.equal(totals.written + totals.conflicts, 200, 'every rotation either wrote or lost with COFFRE_CONFLICT');
  t.ok(totals.written >= 100, `at least one rotation per pair was written (${totals.written} written, ${totals.conflicts} conflicts)`);
});

t.test('4 pairs of concurrent rotations as child processes of the CLI: no lost update', async (t) => {
  const totals: PairOutcome = { written: 0, conflicts: 0, lost: 0 };
  for (const c of SOPS_STORES.filter((s) => s.store === 'yaml' || s.store === 'dotenv')) {
    const model = await initialModel(c);
    for (let pair = 0; pair < 2; pair++) {
      const outcome = await rotatePair(t, c, model, childPair, true);
      totals.written += outcome.written;
      totals.conflicts += outcome.conflicts;
      totals.lost += outcome.lost;
    }
    t.same(await decodedBySops(c), model, `${c.store}: sops decrypt reads the last written values`);
  }
  t.equal(totals.lost, 0, 'no rotation reported as written is missing from the file');
  t.equal(totals.written + totals.conflicts, 8, `every rotation either wrote or lost with COFFRE_CONFLICT (${totals.written} written, ${totals.conflicts} conflicts)`);
  const locks = await readdir(path.join(fixture.dir, '.coffre', 'locks')).catch(() => [] as string[]);
  t.same(locks.filter((n) => n !== '.gitignore'), [], 'no lock file left behind');
});

t.test('no rotated value appears in any output', async (t) => {
  t.notOk(/canary/.test(fixture.outputs()), 'no canary text in the in-process CLI output');
  t.notOk(/canary/.test(childOutputs.join('\n')), 'no canary text in the child processes\' output');
});
