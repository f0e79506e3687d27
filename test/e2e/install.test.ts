// The install story as the README tells it: `npm pack`, then `npm install -g` of the tarball into a prefix,
// then the installed `coffre` on the demo repo. Proves `files` in package.json ships what a run needs (the
// compiled dist/src, bin, policies) and nothing of the tests. Dependencies come from the npm cache when
// present (--prefer-offline), else from the registry.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

t.test('npm pack + npm install -g: the installed coffre runs check on the demo repo', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffre-install-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // No NODE_OPTIONS of the test runner and no Vault/age settings of the caller leak into the installed tool.
  const env: Record<string, string | undefined> = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  for (const name of ['NODE_OPTIONS', 'BAO_ADDR', 'VAULT_ADDR', 'BAO_TOKEN', 'VAULT_TOKEN', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_FILE', 'COFFRE_REPO']) delete env[name];

  const manifest = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
    version: string;
    files: string[];
    bin: Record<string, string>;
    scripts: Record<string, string>;
  };
  t.match(manifest.scripts.prepare, /\btsc\b/, '`prepare` compiles, so a clone (npm ci) and `npm pack` have dist/src');
  t.same(manifest.bin, { coffre: 'bin/coffre.js' });

  t.match(manifest.scripts.prepare, /node scripts\/bundle\.mjs/, '`prepare` also builds the start-up bundle dist/cli');
  // The test run has just compiled dist/ (npm test builds first): packing without scripts reuses that build
  // instead of recompiling into the dist/ other tests are reading. Only the bundle is brought up to date
  // (as `prepare` would; a no-op when fresh): an installed package runs its bundle without comparing file times.
  await exec(process.execPath, [path.join(projectRoot, 'scripts', 'bundle.mjs')], { cwd: projectRoot, env });
  await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: projectRoot, env });
  const tarball = path.join(dir, `coffre-${manifest.version}.tgz`);
  const { stdout: listing } = await exec('tar', ['-tzf', tarball]);
  const files = listing.split('\n').filter(Boolean);
  for (const needed of ['package/bin/coffre.js', 'package/dist/cli/main.js', 'package/dist/cli/inputs.json', 'package/dist/src/cli/main.js', 'package/dist/src/cli/check-command.js', 'package/dist/src/http/app.js', 'package/policies/coffre-host.hcl', 'package/package.json', 'package/README.md']) {
    t.ok(files.includes(needed), `the tarball ships ${needed}`);
  }
  t.same(files.filter((f) => /^package\/(dist\/test|dist\/bench|test|src|examples|node_modules|\.tools)\//.test(f) || f.endsWith('.tsbuildinfo')), [], 'no tests, sources, examples or build state');

  const prefix = path.join(dir, 'prefix');
  await exec('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, env, timeout: 240_000 });
  const installed = path.join(prefix, 'bin', 'coffre');
  t.equal(await realpath(installed), path.join(prefix, 'lib', 'node_modules', 'coffre', 'bin', 'coffre.js'), 'bin/coffre links into the installed package');

  const version = await exec(installed, ['--version'], { cwd: dir, env });
  t.equal(version.stdout, `coffre ${manifest.version}\n`);
  // The installed coffre runs the bundle (an installed package has no tsconfig.json: file times are not compared).
  const log = path.join(dir, 'modules.txt');
  await exec(process.execPath, ['--import', path.join(projectRoot, 'dist', 'test', 'support', 'record-modules.js'), installed, '--version'], {
    cwd: dir,
    env: { ...env, COFFRE_TEST_MODULE_LOG: log },
  });
  const loadedFiles = (await readFile(log, 'utf8')).split('\n');
  const installedRoot = path.join(prefix, 'lib', 'node_modules', 'coffre');
  t.ok(loadedFiles.includes(pathToFileURL(path.join(installedRoot, 'dist', 'cli', 'main.js')).href), 'the installed coffre runs the bundle');
  t.notOk(loadedFiles.some((file) => file.includes('/dist/src/')), 'not dist/src');

  // From outside the checkout: nothing but the installed package and the repo named by -C is used.
  // Exit code 1: etherpad is incomplete on purpose.
  const check = await exec(installed, ['-C', path.join(projectRoot, 'examples', 'infra'), 'check', '--keys-only'], { cwd: dir, env }).then(
    () => t.fail('check of the demo repo must exit 1') as never,
    (error: { code?: number; stdout: string; stderr: string }) => error,
  );
  t.equal(check.code, 1, 'exit code 1: one file incomplete');
  t.match(check.stdout, /3 services, 4 secrets files: 3 complete, 1 incomplete, 0 source-missing, 0 errors \(key names only\)/);
  t.match(check.stdout, /✓ mattermost\/secrets\/db\.secrets {2}complete/);
  t.equal(check.stderr, '');
});
