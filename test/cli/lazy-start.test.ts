// Fast start: each command's module is imported only when that command runs, fastify/pino only by serve,
// node-vault only when a Vault address is configured. Not timed (bench/start.ts measures): the loaded
// module list of real `coffre` processes, with positive controls proving the recorder sees these packages.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);
const hook = path.join(projectRoot, 'dist', 'test', 'support', 'record-modules.js');
const bin = path.join(projectRoot, 'bin', 'coffre.js');

/** Runs coffre in a fresh process; returns its exit code, stdout and the packages it loaded. */
async function loaded(t: Test, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; packages: Set<string> }> {
  const log = path.join(t.testdir(), 'modules.txt');
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, COFFRE_TEST_MODULE_LOG: log };
  for (const name of ['BAO_ADDR', 'VAULT_ADDR', 'BAO_TOKEN', 'VAULT_TOKEN', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_FILE', 'NODE_OPTIONS']) {
    if (!(name in env)) delete childEnv[name];
  }
  let code = 0;
  let stdout = '';
  try {
    ({ stdout } = await exec(process.execPath, ['--import', hook, bin, ...args], { cwd: projectRoot, env: childEnv }));
  } catch (error) {
    const failure = error as { code?: number; stdout?: string };
    code = failure.code ?? -1;
    stdout = failure.stdout ?? '';
  }
  const files = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  // node_modules/<name>/… or node_modules/@scope/<name>/… → the package name.
  const packages = new Set(
    files.flatMap((file) => {
      const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file.slice(file.lastIndexOf('node_modules')));
      return match ? [(match[1] as string).replace('\\', '/')] : [];
    }),
  );
  return { code, stdout, packages };
}

const HEAVY = ['fastify', 'pino', 'node-vault', 'axios'];

t.test('coffre --version loads none of coffre\'s dependencies', async (t) => {
  // (The test runner's own spawn hooks may add packages of its own: only coffre's dependencies count.)
  const manifest = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const dependencies = [...Object.keys(manifest.dependencies), ...HEAVY];
  t.ok(dependencies.includes('fastify') && dependencies.includes('yaml'));
  const run = await loaded(t, ['--version']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^coffre \d+\.\d+\.\d+/);
  t.same([...run.packages].filter((name) => dependencies.includes(name)), [], 'no dependency was loaded');
});

t.test('check of the sops-only demo repo loads neither fastify/pino nor node-vault', async (t) => {
  for (const args of [['-C', 'examples/infra', 'check', '--keys-only'], ['-C', 'examples/infra', 'check']]) {
    const run = await loaded(t, args);
    t.match(run.stdout, /3 services, 4 secrets files/, `${args.join(' ')} ran`);
    for (const name of HEAVY) t.notOk(run.packages.has(name), `${args.join(' ')}: ${name} not loaded`);
    t.ok(run.packages.has('yaml'), `${args.join(' ')}: the recorder sees the packages check does use (yaml)`);
  }
});

t.test('positive controls: serve loads fastify, a configured Vault address loads node-vault', async (t) => {
  const serve = await loaded(t, ['serve', '--help']);
  t.equal(serve.code, 0);
  t.ok(serve.packages.has('fastify'), 'serve (its help) loads fastify');
  t.notOk(serve.packages.has('node-vault'), 'serve --help does not open Vault');
  // An address nothing listens on: check fails to reach it, but has created its Vault transport.
  const vault = await loaded(t, ['-C', 'examples/infra', 'check', '--keys-only'], { BAO_ADDR: 'http://127.0.0.1:9', BAO_TOKEN: 'not-a-real-token' });
  t.ok(vault.packages.has('node-vault'), 'with BAO_ADDR set, node-vault is loaded');
  t.notOk(vault.packages.has('fastify'), 'still no fastify');
});
