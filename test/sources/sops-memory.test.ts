// Memory of a run that decrypts many sops files: each sops decryption thread gets a small young generation
// (src/sources/sops-pool.ts), and the `coffre` process keeps its own young generation at 8 MB (bin/coffre.js),
// also once the threads have started (V8 resets the flag bin/coffre.js sets whenever it creates an isolate; the
// pool applies the cap again), unless discovery found no sops file. Real sops files; the process tests run the
// real `node bin/coffre.js`.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { SOPS_THREAD_LIMITS, SopsWorkerPool } from '../../src/sources/sops-pool.js';
import { parseAgeIdentities } from '../../src/sources/sops.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

t.test('each sops decryption thread runs with a small young generation', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'a.sops.yaml');
  await writeSopsFile(file, 'A: thread-memory-secret\n', key);
  const pool = new SopsWorkerPool(parseAgeIdentities(key.identity, 'SOPS_AGE_KEY'), 2);
  t.teardown(() => pool.close());
  const snapshot = await pool.read({ kind: 'sops', file, format: 'yaml' });
  t.same([...(snapshot?.values ?? [])], [['A', 'thread-memory-secret']], 'the thread still decrypts');
  const limits = pool.threadLimits();
  t.equal(limits.length, 2, 'two threads run');
  t.ok(SOPS_THREAD_LIMITS.maxYoungGenerationSizeMb <= 8, 'the limit is small');
  for (const limit of limits) t.equal(limit?.maxYoungGenerationSizeMb, SOPS_THREAD_LIMITS.maxYoungGenerationSizeMb, 'each thread has it');
});

/** Runs `node bin/coffre.js --version` with `body` preloaded into its main thread, run once bin/coffre.js has set V8 up. */
async function probeCoffreProcess(dir: string, body: string, env: Record<string, string> = {}): Promise<{ max: number; kept: number; values?: number }> {
  const probe = path.join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
/** Keeps ~40 MB of objects alive in steps; the largest new space seen. */
async function keepAlive() {
  const keep = [];
  let max = newSpace();
  for (let step = 0; step < 64; step++) {
    for (let i = 0; i < 10000; i++) keep.push({ i, text: 'kept ' + i + ' ' + step });
    max = Math.max(max, newSpace());
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { max, kept: keep.length };
}
// The body runs once bin/coffre.js has run its settings (its hooks exist); under load that can take a while.
const settled = async () => {
  while (typeof globalThis[Symbol.for('coffre.capYoungGeneration')] !== 'function') await new Promise((resolve) => setTimeout(resolve, 5));
};
if (isMainThread) setTimeout(async () => {
  await settled();
${body}
}, 0);
`,
  );
  const { stderr } = await promisify(execFile)(process.execPath, ['--import', pathToFileURL(probe).href, path.join(projectRoot, 'bin', 'coffre.js'), '--version'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    cwd: dir,
  });
  const line = stderr.split('\n').find((l) => l.startsWith('PROBE '));
  if (line === undefined) throw new Error(`the probe did not run: ${stderr}`);
  return JSON.parse(line.slice(6)) as { max: number; kept: number; values?: number };
}

t.test('the coffre process keeps its young generation at 8 MB, also after sops threads start', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'a.sops.yaml');
  await writeSopsFile(file, 'A: process-memory-secret\n', key);
  const pool = pathToFileURL(path.join(projectRoot, 'dist', 'src', 'sources', 'sops-pool.js')).href;
  const sops = pathToFileURL(path.join(projectRoot, 'dist', 'src', 'sources', 'sops.js')).href;
  // Once bin/coffre.js has run, start a pool of 2 threads (each start resets V8's flag), then keep objects alive.
  const result = await probeCoffreProcess(
    dir,
    `  const { SopsWorkerPool } = await import(${JSON.stringify(pool)});
  const { parseAgeIdentities } = await import(${JSON.stringify(sops)});
  const pool = new SopsWorkerPool(parseAgeIdentities(process.env.PROBE_KEY, 'k'), 2);
  const snapshot = await pool.read({ kind: 'sops', file: ${JSON.stringify(file)}, format: 'yaml' });
  const kept = await keepAlive();
  await pool.close();
  process.stderr.write('PROBE ' + JSON.stringify({ ...kept, values: snapshot.values.size }) + '\\n');`,
    { PROBE_KEY: key.identity },
  );
  t.equal(result.values, 1, 'the pool decrypted the file');
  t.equal(result.kept, 640_000, 'the objects were kept alive');
  t.ok(result.max <= 8 * 1024 * 1024, `new space stayed at most 8 MB (largest: ${(result.max / 1048576).toFixed(0)} MB)`);
});

t.test('a run whose discovery found no sops file gets the young generation back (the cap costs Vault-only runs CPU)', async (t) => {
  const dir = t.testdir({});
  const tell = (sopsFiles: number): string =>
    `  globalThis[Symbol.for('coffre.discovered')]({ secretFiles: 3, sopsFiles: ${sopsFiles} });
  process.stderr.write('PROBE ' + JSON.stringify(await keepAlive()) + '\\n');`;
  const vaultOnly = await probeCoffreProcess(dir, tell(0));
  const withSops = await probeCoffreProcess(dir, tell(1));
  t.equal(vaultOnly.kept, 640_000, 'the objects were kept alive');
  t.ok(vaultOnly.max > 8 * 1024 * 1024, `no sops file: new space grew past 8 MB (${(vaultOnly.max / 1048576).toFixed(0)} MB)`);
  t.ok(withSops.max <= 8 * 1024 * 1024, `a sops file: new space stayed at most 8 MB (${(withSops.max / 1048576).toFixed(0)} MB)`);
});

t.test("the process's first discovery decides: a later one of a Vault-only service (a coffre serve request) keeps the cap", async (t) => {
  const dir = t.testdir({});
  const result = await probeCoffreProcess(
    dir,
    `  globalThis[Symbol.for('coffre.discovered')]({ secretFiles: 600, sopsFiles: 300 });
  globalThis[Symbol.for('coffre.discovered')]({ secretFiles: 3, sopsFiles: 0 });
  process.stderr.write('PROBE ' + JSON.stringify(await keepAlive()) + '\\n');`,
  );
  t.equal(result.kept, 640_000, 'the objects were kept alive');
  t.ok(result.max <= 8 * 1024 * 1024, `the repo has sops files: new space stayed at most 8 MB (${(result.max / 1048576).toFixed(0)} MB)`);
});
