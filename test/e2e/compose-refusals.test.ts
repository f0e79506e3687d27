// End-to-end fail-closed behaviour on compose files coffre cannot fully read, through the real CLI
// (runCli) on temp repos with real sops files: check counts them as errors in every format, render refuses
// the service, exits non-zero and writes nothing. Also override files, extends and targets with no source.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { checkReport } from '../../src/http/schemas.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../support/sops.js';
import { runCoffre } from '../support/run-cli.js';

const exec = promisify(execFile);

const coffre = runCoffre;

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * A git repo holding one service `app` with the given compose files; every `<name>.secrets` listed gets an
 * example and a sops file (one key, `<NAME>_TOKEN`), so each would render if coffre read the compose file.
 */
async function repoWith(t: { testdir(fixture?: unknown): string }, files: Record<string, string>, secrets: string[], key: TestAgeKey): Promise<string> {
  const app: Record<string, string> = { ...files };
  for (const name of secrets) app[`${name}.secrets.example`] = `${name.toUpperCase()}_TOKEN=\n`;
  const dir = t.testdir({ '.gitignore': '*.secrets\n', app });
  await exec('git', ['init', '-q', dir]);
  for (const name of secrets) await writeSopsFile(path.join(dir, 'app', `${name}.secrets.sops.yaml`), `${name.toUpperCase()}_TOKEN: sops-${name}-value\n`, key);
  return dir;
}

t.test('render refuses a service whose compose file has a duplicate key: exit 2, file:line named, nothing written', async (t) => {
  const key = await newAgeKey();
  const dir = await repoWith(t, { 'compose.yaml': 'services:\n  web:\n    image: a\n    env_file: web.secrets\n    image: b\n' }, ['web'], key);
  const result = await coffre(['-C', dir, 'render', 'app', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 2);
  const service = JSON.parse(result.stdout).services[0];
  t.equal(service.error.code, 'COFFRE_COMPOSE_INVALID');
  t.match(service.error.message, /^service app refused, nothing written: app\/compose\.yaml:5: not valid YAML: Map keys must be unique/);
  t.notOk(await exists(path.join(dir, 'app', 'web.secrets')), 'no target written');

  const deep = await repoWith(t, { 'compose.yaml': `services:\n  web:\n    env_file: web.secrets\n    labels: ${'['.repeat(20000)}${']'.repeat(20000)}\n` }, ['web'], key);
  const tooDeep = await coffre(['render', deep, 'app', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(tooDeep.code, 2, 'a compose file nested too deep to parse is refused too');
  t.equal(JSON.parse(tooDeep.stdout).services[0].error.code, 'COFFRE_COMPOSE_INVALID');
  t.notOk(await exists(path.join(deep, 'app', 'web.secrets')));
});

t.test('render refuses a service when one env_file path has an unresolvable ${VAR}: the variable is named, nothing written', async (t) => {
  const key = await newAgeKey();
  const compose = 'services:\n  web:\n    env_file:\n      - web.secrets\n      - ${SECRETS_DIR:?set SECRETS_DIR}/db.secrets\n';
  const dir = await repoWith(t, { 'compose.yaml': compose }, ['web'], key);
  const result = await coffre(['-C', dir, 'render', 'app'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 2);
  t.match(result.stdout, /COFFRE_COMPOSE_INVALID/);
  t.match(result.stdout, /app\/compose\.yaml:5: .*SECRETS_DIR/);
  t.notOk(await exists(path.join(dir, 'app', 'web.secrets')), 'the resolvable target is not written either');
  const unset = await repoWith(t, { 'compose.yaml': 'services:\n  web:\n    env_file: [web.secrets, "${NOPE}/x.secrets"]\n' }, ['web'], key);
  const plain = await coffre(['render', unset, 'app'], { SOPS_AGE_KEY: key.identity });
  t.equal(plain.code, 2, 'an unset ${VAR} (compose: empty string and a warning) is refused too');
  t.match(plain.stdout, /variable NOPE is not set/);
  t.notOk(await exists(path.join(unset, 'app', 'web.secrets')));
});

t.test('render refuses a target with no source even when its example requires nothing: exit 1, no empty file', async (t) => {
  const dir = t.testdir({
    '.gitignore': '*.secrets\n',
    app: { 'compose.yaml': 'services:\n  web:\n    env_file: web.secrets\n', 'web.secrets.example': '# OPTIONAL_FLAG=\n' },
  });
  await exec('git', ['init', '-q', dir]);
  const result = await coffre(['-C', dir, 'render', 'app', '--format', 'json']);
  t.equal(result.code, 1);
  const service = JSON.parse(result.stdout).services[0];
  t.equal(service.error.code, 'COFFRE_INCOMPLETE');
  t.match(service.error.message, /app\/web\.secrets has no source/);
  t.notOk(await exists(path.join(dir, 'app', 'web.secrets')), 'no empty env file written');
  const dry = await coffre(['-C', dir, 'render', 'app', '--dry-run']);
  t.equal(dry.code, 1, 'a dry run says so too');
});

t.test('check counts a service whose compose file cannot be read as an error in text, JSON and JUnit', async (t) => {
  const key = await newAgeKey();
  const dir = await repoWith(t, { 'compose.yaml': 'services:\n  - web\n' }, [], key);
  const json = await coffre(['-C', dir, 'check', '--format', 'json']);
  t.equal(json.code, 2);
  const report = JSON.parse(json.stdout);
  t.equal(report.complete, false);
  t.equal(report.summary.errors, 1, 'the summary counts it');
  t.match(report.services[0].errors, [{ code: 'COFFRE_COMPOSE_INVALID', file: 'app/compose.yaml', line: 2, message: /"services" is not a mapping/ }]);
  t.same(checkReport.parse(report).services[0]!.errors, report.services[0].errors, 'the HTTP response allow-list lets the service errors through');
  const junit = await coffre(['-C', dir, 'check', '--format', 'junit']);
  t.equal(junit.code, 2);
  t.match(junit.stdout, /<testsuites name="coffre check" tests="1" failures="0" errors="1">/);
  t.match(junit.stdout, /<testcase classname="app" name="app\/compose\.yaml:2">\n\s+<error type="COFFRE_COMPOSE_INVALID" message="&quot;services&quot; is not a mapping"\/>/);
  const text = await coffre(['-C', dir, 'check']);
  t.equal(text.code, 2);
  t.notMatch(text.stdout, /no env_file secrets/);
  t.match(text.stdout, /app\/compose\.yaml:2  error/);
  t.match(text.stdout, /0 complete, 0 incomplete, 0 source-missing, 1 error$/m);
});

t.test('an override file is followed: render writes the targets it adds', async (t) => {
  const key = await newAgeKey();
  const dir = await repoWith(
    t,
    { 'compose.yaml': 'services:\n  web:\n    env_file: web.secrets\n', 'compose.override.yaml': 'services:\n  web:\n    env_file: [extra.secrets]\n' },
    ['web', 'extra'],
    key,
  );
  const result = await coffre(['-C', dir, 'render', 'app'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 0, result.stdout);
  t.ok(await exists(path.join(dir, 'app', 'web.secrets')));
  t.ok(await exists(path.join(dir, 'app', 'extra.secrets')), 'the override target is rendered');
  const check = await coffre(['-C', dir, 'check', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(JSON.parse(check.stdout).summary.files, 2);
});

t.test('an override file with an include: coffre cannot follow exactly refuses the service, naming the file and line', async (t) => {
  const key = await newAgeKey();
  const dir = await repoWith(
    t,
    { 'docker-compose.yml': 'services:\n  web:\n    env_file: web.secrets\n', 'docker-compose.override.yml': '# more\ninclude:\n  - path: ../db/compose.yaml\n    project_directory: ../db\n' },
    ['web'],
    key,
  );
  const result = await coffre(['-C', dir, 'render', 'app', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 2);
  const service = JSON.parse(result.stdout).services[0];
  t.equal(service.error.code, 'COFFRE_COMPOSE_UNSUPPORTED');
  t.match(service.error.message, /app\/docker-compose\.override\.yml:3: include: project_directory is not followed/);
  t.notOk(await exists(path.join(dir, 'app', 'web.secrets')));
  const check = await coffre(['-C', dir, 'check', '--format', 'json'], { SOPS_AGE_KEY: key.identity });
  t.equal(check.code, 2);
  t.equal(JSON.parse(check.stdout).summary.errors, 1);
});

t.test('extends: is followed: the base service env_file is rendered', async (t) => {
  const key = await newAgeKey();
  const dir = await repoWith(t, { 'compose.yaml': 'services:\n  web:\n    extends:\n      service: base\n      file: base.yml\n', 'base.yml': 'services:\n  base:\n    env_file: web.secrets\n' }, ['web'], key);
  const result = await coffre(['-C', dir, 'render', 'app'], { SOPS_AGE_KEY: key.identity });
  t.equal(result.code, 0, result.stdout);
  t.ok(await exists(path.join(dir, 'app', 'web.secrets')));
});
