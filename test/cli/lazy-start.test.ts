// Fast start: each command's module is imported only when that command runs, fastify/pino only by serve,
// undici (coffre's Vault client), node:http(s) only when a Vault-backed file is read, age-encryption (noble curves, ML-KEM) only
// for post-quantum keys, node:child_process only when git runs, picomatch only for glob exclude patterns; and bin/coffre.js runs the start-up bundle
// (dist/cli, scripts/bundle.mjs) while it is fresh, dist/src after a `tsc`-only build. Not timed
// (bench/start.ts measures): the loaded module list of real `coffre` processes, with positive controls
// proving the recorder sees these packages, in node_modules and inside the bundle's chunks alike.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { generateHybridIdentity } from 'age-encryption';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);
const hook = path.join(projectRoot, 'dist', 'test', 'support', 'record-modules.js');
const bin = path.join(projectRoot, 'bin', 'coffre.js');

// The bundle as `npm run build` leaves it (a no-op when it is already fresh; writes are atomic).
await exec(process.execPath, [path.join(projectRoot, 'scripts', 'bundle.mjs')], { cwd: projectRoot });
const bundleOutputs = JSON.parse(await readFile(path.join(projectRoot, 'dist', 'cli', 'meta.json'), 'utf8')) as Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;

/** The package a file or URL belongs to (node_modules/<name>/… or node_modules/@scope/<name>/…). */
function packageOf(file: string): string | undefined {
  const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file.slice(file.lastIndexOf('node_modules')));
  return match ? (match[1] as string).replace('\\', '/') : undefined;
}

interface Run {
  code: number;
  stdout: string;
  /** Every file and built-in (`node:x`) loaded, files relative to the project root. */
  files: string[];
  /** Packages whose code ran: loaded from node_modules, or part of a loaded bundle chunk. */
  packages: Set<string>;
}

/** Runs coffre in a fresh process; returns its exit code, stdout and what it loaded. */
async function loaded(t: Test, args: string[], env: Record<string, string> = {}, executable = bin): Promise<Run> {
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'coffre-modules-'));
  t.teardown(() => rm(logDir, { recursive: true, force: true }));
  const log = path.join(logDir, 'modules.txt');
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, COFFRE_TEST_MODULE_LOG: log };
  for (const name of ['BAO_ADDR', 'VAULT_ADDR', 'BAO_TOKEN', 'VAULT_TOKEN', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_FILE', 'NODE_OPTIONS']) {
    if (!(name in env)) delete childEnv[name];
  }
  let code = 0;
  let stdout = '';
  try {
    ({ stdout } = await exec(process.execPath, ['--import', hook, executable, ...args], { cwd: projectRoot, env: childEnv }));
  } catch (error) {
    const failure = error as { code?: number; stdout?: string };
    code = failure.code ?? -1;
    stdout = failure.stdout ?? '';
  }
  const root = path.dirname(path.dirname(executable));
  const files = (await readFile(log, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((entry) => (entry.startsWith('file:') ? fileURLToPath(entry) : entry))
    .map((entry) => (path.isAbsolute(entry) && !entry.includes('node_modules') ? path.relative(root, entry) : entry));
  const packages = new Set<string>();
  for (const file of files) {
    const name = packageOf(file);
    if (name !== undefined) packages.add(name);
    for (const [input, { bytesInOutput }] of Object.entries(bundleOutputs[file.replaceAll('\\', '/')]?.inputs ?? {})) {
      const bundled = packageOf(input);
      if (bundled !== undefined && bytesInOutput > 0) packages.add(bundled);
    }
  }
  return { code, stdout, files, packages };
}

const HEAVY = ['fastify', 'pino', 'undici', 'node-vault', 'axios', 'age-encryption', '@noble/curves', '@noble/post-quantum'];
/** Also not loaded by check with the demo's config: picomatch (only exclude patterns with glob syntax need it). */
const CHECK_NEVER = [...HEAVY, 'picomatch'];
const HEAVY_BUILTINS = ['node:http', 'node:https', 'node:http2', 'node:tls', 'node:child_process'];

t.test('coffre --version runs the bundle and loads none of coffre\'s dependencies', async (t) => {
  // (The test runner's own spawn hooks may add packages of its own: only coffre's dependencies count.)
  const manifest = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const dependencies = [...Object.keys(manifest.dependencies), ...HEAVY];
  t.ok(dependencies.includes('fastify') && dependencies.includes('yaml'));
  const run = await loaded(t, ['--version']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^coffre \d+\.\d+\.\d+/);
  t.ok(run.files.includes(path.join('dist', 'cli', 'main.js')), 'the bundle ran');
  t.same(run.files.filter((file) => file.startsWith(`dist${path.sep}src`)), [], 'no dist/src module was loaded');
  t.same([...run.packages].filter((name) => dependencies.includes(name)), [], 'no dependency was loaded');
});

t.test('check of the sops-only demo repo loads neither fastify/pino, undici, node-vault, http(s) nor age-encryption', async (t) => {
  for (const args of [['-C', 'examples/infra', 'check', '--keys-only'], ['-C', 'examples/infra', 'check']]) {
    const run = await loaded(t, args);
    t.match(run.stdout, /3 services, 4 secrets files/, `${args.join(' ')} ran`);
    for (const name of CHECK_NEVER) t.notOk(run.packages.has(name), `${args.join(' ')}: ${name} not loaded`);
    for (const name of HEAVY_BUILTINS) t.notOk(run.files.includes(name), `${args.join(' ')}: ${name} not loaded`);
    t.ok(run.packages.has('yaml') && run.packages.has('zod'), `${args.join(' ')}: the recorder sees the packages check does use (yaml, zod in the bundle)`);
  }
});

t.test('positive controls: serve loads fastify, a configured Vault address loads undici and node:http', async (t) => {
  const serve = await loaded(t, ['serve', '--help']);
  t.equal(serve.code, 0);
  t.ok(serve.packages.has('fastify'), 'serve (its help) loads fastify');
  t.notOk(serve.packages.has('undici'), 'serve --help does not open Vault');
  // The client is loaded with the first request: a sops-only repo with an address set never loads it.
  const addressOnly = await loaded(t, ['-C', 'examples/infra', 'check', '--keys-only'], { BAO_ADDR: 'http://127.0.0.1:9', BAO_TOKEN: 'not-a-real-token' });
  t.match(addressOnly.stdout, /3 services, 4 secrets files/);
  t.notOk(addressOnly.packages.has('undici') || addressOnly.files.includes('node:http'), 'BAO_ADDR set, no Vault-backed file: no undici, no node:http');
  // A Vault-backed service and an address nothing listens on: check tries to read, so loads the client.
  const dir = t.testdir({
    'coffre.yaml': 'version: 1\nvault:\n  prefix: app\n',
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./db.secrets\n',
      'db.secrets.example': 'DB_PASS=\n',
    },
  });
  const vault = await loaded(t, ['-C', dir, 'check', '--keys-only'], { BAO_ADDR: 'http://127.0.0.1:9', BAO_TOKEN: 'not-a-real-token' });
  t.match(vault.stdout, /ECONNREFUSED/, 'it tried to read from the address');
  t.ok(vault.packages.has('undici'), 'with a Vault-backed file and BAO_ADDR set, undici (its client) is loaded');
  t.notOk(vault.packages.has('node-vault') || vault.packages.has('axios'), 'node-vault is not (a test-only cross-check)');
  t.ok(vault.files.includes('node:http'), 'and node:http (the recorder sees built-ins)');
  // undici's HTTP/2 module is replaced in the bundle (scripts/bundle.mjs): coffre never offers h2.
  t.notOk(vault.files.includes('node:http2'), 'an http:// Vault read does not load node:http2');
  t.notOk(vault.files.includes('node:tls'), 'nor node:tls');
  t.notOk(vault.packages.has('fastify'), 'still no fastify');
  // A post-quantum identity: age-encryption, from the bundle's lazily imported chunk.
  const hybrid = await loaded(t, ['-C', 'examples/infra', 'check'], {
    SOPS_AGE_KEY: await generateHybridIdentity(),
  });
  t.match(hybrid.stdout, /3 services, 4 secrets files/);
  t.ok(hybrid.packages.has('age-encryption') && hybrid.packages.has('@noble/post-quantum'), 'a hybrid key loads age-encryption');
});

t.test('bin/coffre.js runs dist/src when a file the bundle was built from is newer (a tsc-only build)', async (t) => {
  // A copy of the package (bin, dist/src, dist/cli with their times, node_modules linked), so that touching a
  // file does not change what the other tests run.
  const dir = t.testdir();
  for (const part of ['bin', path.join('dist', 'src'), path.join('dist', 'cli'), 'package.json', 'tsconfig.json']) {
    await cp(path.join(projectRoot, part), path.join(dir, part), { recursive: true, preserveTimestamps: true });
  }
  await symlink(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const copiedBin = path.join(dir, 'bin', 'coffre.js');
  const fresh = await loaded(t, ['--version'], {}, copiedBin);
  t.ok(fresh.files.includes(path.join('dist', 'cli', 'main.js')), 'fresh: the bundle');
  const later = new Date(Date.now() + 5_000);
  await utimes(path.join(dir, 'dist', 'src', 'errors.js'), later, later);
  const stale = await loaded(t, ['--version'], {}, copiedBin);
  t.equal(stale.code, 0);
  t.ok(stale.files.includes(path.join('dist', 'src', 'cli', 'main.js')), 'stale: dist/src');
  t.notOk(stale.files.includes(path.join('dist', 'cli', 'main.js')), 'stale: not the bundle');
  await writeFile(path.join(dir, 'dist', 'cli', 'inputs.json'), 'not json');
  const broken = await loaded(t, ['--version'], {}, copiedBin);
  t.ok(broken.files.includes(path.join('dist', 'src', 'cli', 'main.js')), 'an unreadable stamp: dist/src');
  // An installed package (no tsconfig.json; npm sets extraction times) runs its bundle whatever the times.
  await cp(path.join(projectRoot, 'dist', 'cli', 'inputs.json'), path.join(dir, 'dist', 'cli', 'inputs.json'));
  await rm(path.join(dir, 'tsconfig.json'));
  const installed = await loaded(t, ['--version'], {}, copiedBin);
  t.ok(installed.files.includes(path.join('dist', 'cli', 'main.js')), 'installed: the bundle, though dist/src/errors.js is newer');
});
