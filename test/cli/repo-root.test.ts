// The CLI finds the repo upwards (coffre.yaml, else the git top, else cwd), and `render` or `check` with no
// service acts on the service folder the working directory is in.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { resolveRepoRoot, serviceOfCwd } from '../../src/cli/repo-root.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

t.test('the repo root: explicit, else coffre.yaml upwards, else the git top, else cwd', async (t) => {
  const dir = t.testdir({ withConfig: { 'coffre.yaml': 'version: 1\n', svc: { deep: {} } }, withGit: { '.git': {}, svc: {} }, bare: { svc: {} } });
  t.equal(await resolveRepoRoot(dir, 'bare'), path.join(dir, 'bare'));
  t.equal(await resolveRepoRoot(path.join(dir, 'withConfig', 'svc', 'deep'), undefined), path.join(dir, 'withConfig'));
  t.equal(await resolveRepoRoot(path.join(dir, 'withGit', 'svc'), undefined), path.join(dir, 'withGit'));
  // The testdir lives inside coffre's own checkout, whose .git is found above `bare`.
  t.equal(await resolveRepoRoot(path.join(dir, 'bare', 'svc'), undefined), projectRoot);
});

const cases = [
  { name: 'in a service folder', cwd: 'chat', expected: 'chat' },
  { name: 'below a service folder', cwd: 'chat/secrets', expected: 'chat' },
  { name: 'the deepest of nested services', cwd: 'apps/wiki/conf', expected: 'apps/wiki' },
  { name: 'at the root', cwd: '.', expected: null },
  { name: 'outside the root', cwd: '../elsewhere', expected: null },
  { name: 'a folder whose name only starts like a service', cwd: 'chat2', expected: null },
];
for (const c of cases) {
  t.test(`the service of cwd: ${c.name}`, async (t) => {
    t.equal(serviceOfCwd('/repo', path.join('/repo', c.cwd), ['chat', 'apps', 'apps/wiki', '.']), c.expected);
  });
}

t.test('inside a service folder of the demo: `render` renders it, `check` checks it (`check --all`: the whole repo)', async (t) => {
  const dir = t.testdir();
  await cp(path.join(projectRoot, 'examples', 'infra'), dir, { recursive: true });
  await exec('git', ['init', '-q', dir]);
  const io = (cwd: string) => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: {}, cwd } };
  };
  const inWebsite = io(path.join(dir, 'website', 'secrets'));
  t.equal(await runCli(['render'], inWebsite.io), 0, inWebsite.out.stderr);
  t.match(inWebsite.out.stdout, /website: rendered/);
  t.equal((await stat(path.join(dir, 'website', 'secrets', 'deploy.secrets'))).mode & 0o777, 0o600);
  t.match(await readFile(path.join(dir, 'website', 'secrets', 'deploy.secrets'), 'utf8'), /^WEBHOOK_TOKEN="/);
  await t.rejects(stat(path.join(dir, 'mattermost', 'secrets', 'db.secrets')), { code: 'ENOENT' }, 'only that service');

  const check = io(path.join(dir, 'mattermost'));
  t.equal(await runCli(['check', '--format', 'json'], check.io), 0, check.out.stderr);
  t.same(JSON.parse(check.out.stdout).services.map((s: { name: string }) => s.name), ['mattermost'], 'only the service cwd is in');
  const checkAll = io(path.join(dir, 'mattermost', 'secrets'));
  t.equal(await runCli(['check', '--all', '--format', 'json'], checkAll.io), 1);
  t.equal(JSON.parse(checkAll.out.stdout).summary.services, 3, '--all: the whole repo from inside a service');

  const atRoot = io(dir);
  t.equal(await runCli(['render'], atRoot.io), 2, 'no service at the root: usage error');
  t.match(atRoot.out.stderr, /render needs service names or --all/);
  // A folder that is neither a service nor a repo of its own: a usage error pointing at -C.
  await mkdir(path.join(dir, 'etherpad', 'conf'), { recursive: true });
  const folderAsService = io(dir);
  t.equal(await runCli(['render', 'etherpad/conf'], folderAsService.io), 2);
  t.match(folderAsService.out.stderr, /"etherpad\/conf" is not a service .*coffre -C etherpad\/conf render --all/);
  await rm(path.join(dir, 'etherpad', 'conf'), { recursive: true });
});
