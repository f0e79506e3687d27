// End-to-end `coffre render --as-of <commit>` over a real git history built here: keys from the examples of
// the commit, values current (or the newest that existed) or as of the commit's date, from a real OpenBao
// (KV versions) and real sops files (re-encrypted with the sops binary and committed). No value printed.
import { execFile } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { createTokenRegistry, tokenDigest } from '../../src/http/token-registry.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { parseEnvFile } from '../../src/core/env-file.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

async function coffre(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd: projectRoot });
  return { code, stdout, stderr };
}

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['-c', 'user.name=coffre test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir });
  return stdout.trim();
}

async function commitAll(dir: string, message: string): Promise<string> {
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', message]);
  return git(dir, ['rev-parse', 'HEAD']);
}

async function rendered(file: string): Promise<Record<string, string>> {
  return Object.fromEntries(parseEnvFile(await readFile(file, 'utf8'), { lookup: () => undefined }).entries.map((e) => [e.key, e.value]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('Vault: renders a past commit with current values, the newest value of a renamed key, or the values of its date', async (t) => {
  const bao = await sharedOpenBao(t);
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n',
      secrets: { 'app.secrets.example': 'A=\nB=\n' },
    },
  });
  await git(dir, ['init', '-q']);
  const secret = `secret/data/${bao.prefix}/app/app`;
  t.equal((await bao.vaultHttp('POST', secret, { data: { A: 'planted-a-v1', B: 'planted-b-v1' } })).status, 200);
  const commit1 = await commitAll(dir, 'A and B');
  await sleep(1100); // KV created_time vs committer date: second precision
  t.equal((await bao.vaultHttp('POST', secret, { data: { A: 'planted-a-v2', B: 'planted-b-v2' } })).status, 200, 'rotation: version 2');
  await writeFile(path.join(dir, 'app', 'secrets', 'app.secrets.example'), 'A=\nC=\n');
  await commitAll(dir, 'rename B to C');
  t.equal((await bao.vaultHttp('POST', secret, { data: { A: 'planted-a-v3', C: 'planted-c-v3' } })).status, 200, 'version 3 drops B');

  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: await bao.tokenWithPolicies(['coffre-admin']) };
  const target = path.join(dir, 'app', 'secrets', 'app.secrets');
  const planted = ['planted-a-v1', 'planted-b-v1', 'planted-a-v2', 'planted-b-v2', 'planted-a-v3', 'planted-c-v3'];

  const plan = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1.slice(0, 10), '--dry-run', '--format', 'json'], env);
  t.equal(plan.code, 0, plan.stderr);
  for (const value of planted) t.notOk(plan.stdout.includes(value) || plan.stderr.includes(value), `${value} not in the plan`);
  const report = JSON.parse(plan.stdout);
  t.match(report.asOf, { commit: commit1, committedAt: /^\d{4}-/, values: 'current' }, 'the report names the full commit');
  t.match(report.services[0].files[0].valueSources, [
    { key: 'A', from: 'current', version: 3 },
    { key: 'B', from: 'vault-version', version: 2, date: /^\d{4}-/ },
  ]);
  await t.rejects(stat(target), { code: 'ENOENT' }, 'a dry run writes nothing');

  const text = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1, '--dry-run'], env);
  t.match(text.stdout, /= B from version 2 of \d{4}-/);

  const current = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1], env);
  t.equal(current.code, 0, current.stderr);
  t.same(await rendered(target), { A: 'planted-a-v3', B: 'planted-b-v2' }, 'A current, B the newest value that existed');
  for (const value of planted) t.notOk(current.stdout.includes(value), `${value} not printed`);

  const old = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1, '--values-as-of'], env);
  t.equal(old.code, 0, old.stderr);
  t.same(await rendered(target), { A: 'planted-a-v1', B: 'planted-b-v1' }, 'the version current at the commit date');

  const now = await coffre(['-C', dir, 'render', 'app'], env);
  t.equal(now.code, 0, now.stderr);
  t.same(await rendered(target), { A: 'planted-a-v3', C: 'planted-c-v3' }, 'without --as-of: this checkout\'s examples');

  // The version holding the newest B is destroyed: an older B would be a silent downgrade.
  t.equal((await bao.vaultHttp('POST', `secret/destroy/${bao.prefix}/app/app`, { versions: [2] })).status, 204);
  await rm(target);
  const destroyed = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1, '--format', 'json'], env);
  t.equal(destroyed.code, 3);
  const refused = JSON.parse(destroyed.stdout).services[0];
  t.equal(refused.error.code, 'COFFRE_AS_OF_VALUE_GONE');
  t.match(refused.error.message, /version 2 .*destroyed.*\bB\b/);
  for (const value of planted) t.notOk(destroyed.stdout.includes(value), `${value} not printed`);
  await t.rejects(stat(target), { code: 'ENOENT' }, 'nothing written');

  // --values-as-of needs version 1 only (intact), until it is soft-deleted.
  const dated = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1, '--values-as-of'], env);
  t.equal(dated.code, 0, dated.stdout);
  t.same(await rendered(target), { A: 'planted-a-v1', B: 'planted-b-v1' });
  await rm(target);
  t.equal((await bao.vaultHttp('POST', `secret/delete/${bao.prefix}/app/app`, { versions: [1] })).status, 204);
  const deleted = await coffre(['-C', dir, 'render', 'app', '--as-of', commit1, '--values-as-of', '--format', 'json'], env);
  t.equal(deleted.code, 3);
  t.match(JSON.parse(deleted.stdout).services[0].error, { code: 'COFFRE_AS_OF_VALUE_GONE', message: /version 1 .*deleted/ });
  await t.rejects(stat(target), { code: 'ENOENT' }, 'nothing written');
});

t.test('refuses an unknown commit and an option-looking one, with named errors and nothing written', async (t) => {
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n', secrets: { 'app.secrets.example': 'A=\n' } },
  });
  await git(dir, ['init', '-q']);
  await commitAll(dir, 'one');
  const unknown = await coffre(['-C', dir, 'render', 'app', '--as-of', 'deadbeefdeadbeef']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /COFFRE_COMMIT_UNKNOWN/);
  const injected = path.join(dir, 'injected');
  for (const value of [`--output=${injected}`, 'HEAD', 'HEAD~1', '-n1', 'abc', `${'a'.repeat(41)}`]) {
    const refused = await coffre(['-C', dir, 'render', 'app', `--as-of=${value}`]);
    t.equal(refused.code, 2, value);
    t.match(refused.stderr, /COFFRE_USAGE.*commit id/, value);
  }
  await t.rejects(stat(injected), { code: 'ENOENT' }, 'no file created by an injected option');
  const noAsOf = await coffre(['-C', dir, 'render', 'app', '--values-as-of']);
  t.equal(noAsOf.code, 2);
  t.match(noAsOf.stderr, /--values-as-of needs --as-of/);
});

t.test('sops: the newest committed value of a key gone since, or the file of the commit itself', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    db: {
      'docker-compose.yml': 'services:\n  db:\n    image: db\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'A=\nB=\n' },
    },
  });
  const sopsFile = path.join(dir, 'db', 'secrets', 'db.secrets.sops.yaml');
  const example = path.join(dir, 'db', 'secrets', 'db.secrets.example');
  await git(dir, ['init', '-q']);
  await writeSopsFile(sopsFile, 'A: planted-sa1\nB: planted-sb1\n', key);
  const commit1 = await commitAll(dir, 'A and B');
  await writeSopsFile(sopsFile, 'A: planted-sa2\nB: planted-sb2\n', key);
  const rotated = await commitAll(dir, 'rotate');
  await writeFile(example, 'A=\nC=\n');
  await writeSopsFile(sopsFile, 'A: planted-sa3\nC: planted-sc3\n', key);
  await commitAll(dir, 'rename B to C');
  // The working tree is what "current" means: an uncommitted rotation of A counts.
  await writeSopsFile(sopsFile, 'A: planted-sa4\nC: planted-sc3\n', key);

  const env = { SOPS_AGE_KEY: key.identity };
  const target = path.join(dir, 'db', 'secrets', 'db.secrets');
  const planted = ['planted-sa1', 'planted-sb1', 'planted-sa2', 'planted-sb2', 'planted-sa3', 'planted-sc3', 'planted-sa4'];

  const plan = await coffre(['-C', dir, 'render', 'db', '--as-of', commit1, '--dry-run', '--format', 'json'], env);
  t.equal(plan.code, 0, plan.stderr);
  for (const value of planted) t.notOk(plan.stdout.includes(value), `${value} not in the plan`);
  t.match(JSON.parse(plan.stdout).services[0].files[0].valueSources, [
    { key: 'A', from: 'current' },
    { key: 'B', from: 'sops-commit', commit: rotated },
  ]);

  const current = await coffre(['-C', dir, 'render', 'db', '--as-of', commit1], env);
  t.equal(current.code, 0, current.stderr);
  t.same(await rendered(target), { A: 'planted-sa4', B: 'planted-sb2' });

  const old = await coffre(['-C', dir, 'render', 'db', '--as-of', commit1, '--values-as-of', '--format', 'json'], env);
  t.equal(old.code, 0, old.stderr);
  t.same(await rendered(target), { A: 'planted-sa1', B: 'planted-sb1' }, 'the sops file of the commit');
  t.match(JSON.parse(old.stdout).services[0].files[0].valueSources, [{ key: 'A', from: 'sops-commit', commit: commit1 }, { key: 'B', from: 'sops-commit', commit: commit1 }]);

  // Over HTTP, for a render token: `asOf` takes a hex commit id only, the schema is strict.
  const token = 'coffre_test_asof_render_token_0123456789';
  const logged: string[] = [];
  const app = buildApp({
    openWorkspace: (scope) => openWorkspace({ root: dir, env, ...(scope?.services ? { services: scope.services } : {}), ...(scope?.asOf !== undefined ? { asOf: scope.asOf } : {}) }),
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logged.push(line) } }),
    tokens: createTokenRegistry([{ id: 'deployer', sha256: tokenDigest(token), role: 'render', services: ['**'] }]),
  });
  t.teardown(() => app.close());
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/services/db/render', headers: { authorization: `Bearer ${token}`, host: 'localhost' }, payload: body as object });
  const planned = await post({ asOf: commit1.slice(0, 8), dryRun: true });
  t.equal(planned.statusCode, 200, planned.body);
  t.match(planned.json(), { asOf: { commit: commit1, values: 'current' }, services: [{ status: 'planned', files: [{ valueSources: [{ key: 'A', from: 'current' }, { key: 'B', from: 'sops-commit', commit: rotated }] }] }] });
  const dated = await post({ asOf: commit1, valuesAsOf: true, dryRun: true });
  t.equal(dated.statusCode, 200, dated.body);
  t.match(dated.json(), { asOf: { values: 'at-commit-date' }, services: [{ files: [{ valueSources: [{ key: 'A', from: 'sops-commit', commit: commit1 }] }] }] });
  for (const [body, status, code] of [
    [{ asOf: '--output=/tmp/x' }, 400, 'COFFRE_USAGE'],
    [{ asOf: 'HEAD' }, 400, 'COFFRE_USAGE'],
    [{ asof: commit1 }, 400, 'COFFRE_USAGE'],
    [{ valuesAsOf: true }, 400, 'COFFRE_USAGE'],
    [{ asOf: 'deadbeefdeadbeef' }, 404, 'COFFRE_COMMIT_UNKNOWN'],
  ] as const) {
    const answer = await post(body);
    t.equal(answer.statusCode, status, JSON.stringify(body));
    t.equal(answer.json().code ?? answer.json().error?.code, code, JSON.stringify(body));
  }
  for (const value of planted) t.notOk(logged.join('').includes(value) || planned.body.includes(value) || dated.body.includes(value), `${value} neither logged nor answered`);

  // From a checkout of the old commit itself, plain render keeps meaning "this checkout's examples".
  await git(dir, ['checkout', '-q', '-f', commit1]);
  const checkedOut = await coffre(['-C', dir, 'render', 'db'], env);
  t.equal(checkedOut.code, 0, checkedOut.stderr);
  t.same(await rendered(target), { A: 'planted-sa1', B: 'planted-sb1' });
});

t.test('reading the past commit runs no program the repo configures (filter, textconv, fsmonitor) and follows no committed symlink', async (t) => {
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    '.gitattributes': '* filter=evil diff=evil\n',
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [./secrets/app.secrets, ./secrets/link.secrets]\n',
      secrets: { 'app.secrets.example': 'A=\n' },
    },
  });
  await git(dir, ['init', '-q']);
  await exec('ln', ['-s', '/etc/hostname', path.join(dir, 'app', 'secrets', 'link.secrets.example')]);
  const key = await newAgeKey();
  await writeSopsFile(path.join(dir, 'app', 'secrets', 'app.secrets.sops.yaml'), 'A: planted-x\n', key);
  await writeSopsFile(path.join(dir, 'app', 'secrets', 'link.secrets.sops.yaml'), 'L: planted-y\n', key);
  const commit = await commitAll(dir, 'one');
  // Configured after the commit (the test's own git calls would run them): only coffre's reads could now.
  const marker = path.join(dir, 'ran');
  const program = `sh -c 'touch ${marker}; cat' </dev/null`;
  for (const [name, value] of [['filter.evil.smudge', program], ['filter.evil.clean', program], ['diff.evil.textconv', program], ['core.fsmonitor', program]]) {
    await git(dir, ['config', name!, value!]);
  }
  const result = await coffre(['-C', dir, 'render', 'app', '--as-of', commit, '--dry-run', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  await t.rejects(stat(marker), { code: 'ENOENT' }, 'no configured program ran');
  t.equal(result.code, 2, 'the symlinked example is not followed: the service is refused');
  t.match(result.stdout, /COFFRE_EXAMPLE_MISSING[\s\S]*link\.secrets/);
  t.notOk(result.stdout.includes('planted-x') || result.stdout.includes('planted-y'));
});

t.test('a repo in a subfolder of the git work tree reads its own past files and history', async (t) => {
  const key = await newAgeKey();
  const top = t.testdir({
    '.gitignore': '*.secrets\n',
    infra: {
      'coffre.yaml': 'version: 1\n',
      db: { 'docker-compose.yml': 'services:\n  db:\n    image: db\n    env_file: ./secrets/db.secrets\n', secrets: { 'db.secrets.example': 'A=\nB=\n' } },
    },
    other: { db: { 'docker-compose.yml': 'services:\n  db:\n    image: db\n', secrets: { 'db.secrets.example': 'OTHER=\n' } } },
  });
  const sopsFile = path.join(top, 'infra', 'db', 'secrets', 'db.secrets.sops.yaml');
  await git(top, ['init', '-q']);
  await writeSopsFile(sopsFile, 'A: planted-n1\nB: planted-n2\n', key);
  const commit1 = await commitAll(top, 'one');
  await writeFile(path.join(top, 'infra', 'db', 'secrets', 'db.secrets.example'), 'A=\n');
  await writeSopsFile(sopsFile, 'A: planted-n3\n', key);
  await commitAll(top, 'drop B');
  const result = await coffre(['-C', path.join(top, 'infra'), 'render', 'db', '--as-of', commit1, '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 0, result.stdout + result.stderr);
  t.same(await rendered(path.join(top, 'infra', 'db', 'secrets', 'db.secrets')), { A: 'planted-n3', B: 'planted-n2' });
  t.same(JSON.parse(result.stdout).services.map((s: { service: string }) => s.service), ['db']);
});
