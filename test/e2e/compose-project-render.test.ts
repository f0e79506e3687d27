// `coffre check` / `render` on the targets of compose's project model, end to end through the CLI on sops
// files made by the real sops binary, with the real Docker Compose v2 as the oracle (`config --format json`,
// no engine): the project `.env` of `${VAR}` renders so that compose's interpolation gives back the store
// values byte for byte; a compose secret file holds exactly its value; a "../" target inside the repo renders.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCoffre } from '../support/run-cli.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { composeConfig, type ComposeModel as Model } from '../support/compose.js';

const exec = promisify(execFile);

/** Values a compose file interpolation must give back unchanged (no `$` expansion, quotes, escapes, newlines). */
const hostile = {
  POSTGRES_PASSWORD: 'p$a"s\'s\\w#o ${HOME} $$ `x`\t é 😀',
  API_TOKEN: 'line1\nline2',
  SPACES: '  lead and trail  ',
  HASH: 'value # not a comment',
};

t.test('the project .env of ${VAR} is a target: rendered from sops, compose interpolates it back to the store values', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '.env\n',
    app: {
      'docker-compose.yml': `services:
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
      API_TOKEN: "\${API_TOKEN:?needed}"
      SPACES: \${SPACES}
      HASH: \${HASH}
      UNDECLARED: \${NOT_IN_EXAMPLE}
      DEFAULTED: \${HAS_DEFAULT:-fine}
`,
      '.env.example': 'POSTGRES_PASSWORD=\nAPI_TOKEN=\nSPACES=\nHASH=\n',
    },
  });
  await exec('git', ['init', '-q', dir]);
  await writeSopsFile(path.join(dir, 'app', '.env.sops.yaml'), Object.entries(hostile).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join(''), key);
  const env = { SOPS_AGE_KEY: key.identity };

  const check = await runCoffre(['-C', dir, 'check', '--format', 'json'], env);
  const report = JSON.parse(check.stdout);
  t.same(report.services[0].files.map((f: Model) => [f.target, f.example, f.status]), [['app/.env', 'app/.env.example', 'complete']]);
  t.match(report.problems, [{ severity: 'warning', code: 'COMPOSE_VARIABLE_UNDECLARED', file: 'app/docker-compose.yml', message: /^NOT_IN_EXAMPLE is interpolated/ }]);
  t.notOk(report.problems.some((p: Model) => p.code === 'EXAMPLE_UNREFERENCED'), 'the .env example is referenced');
  t.notMatch(JSON.stringify(report.problems), /HAS_DEFAULT/, 'a variable with a default is not reported');

  const render = await runCoffre(['-C', dir, 'render', 'app'], env);
  t.equal(render.code, 0, render.stderr);
  const target = path.join(dir, 'app', '.env');
  t.equal((await stat(target)).mode & 0o777, 0o600);
  const model = await composeConfig(path.join(dir, 'app'));
  const environment = model.services.db.environment;
  // `config` prints a compose file, so each literal `$` of a value is written `$$` there: undone here.
  for (const [name, value] of Object.entries(hostile)) t.equal(environment[name].replaceAll('$$', '$'), value, `compose interpolates ${name} to the store value`);
  for (const value of Object.values(hostile)) t.notOk(render.stdout.includes(value) || render.stderr.includes(value) || check.stdout.includes(value), 'no value printed');

  const rotate = await runCoffre(['-C', dir, 'rotate', 'app', 'env', 'API_TOKEN', '--generate', '--render'], env);
  t.equal(rotate.code, 0, rotate.stderr + rotate.stdout);
  const after = (await composeConfig(path.join(dir, 'app'))).services.db.environment;
  t.match(after.API_TOKEN, /^[A-Za-z0-9]{32}$/, 'rotated: compose interpolates the new value');
  t.equal(after.POSTGRES_PASSWORD.replaceAll('$$', '$'), hostile.POSTGRES_PASSWORD, 'the other keys are kept');
});

t.test('a compose secret file renders raw (no newline added), 0600, where compose mounts it; a placeholder is reported', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': 'secrets/*.txt\n',
    stack: { '.gitignore': '*.txt\n' },
    'docker-compose.yml': `services:
  db:
    image: postgres
    secrets: [db_password, api_key]
secrets:
  db_password:
    file: ./secrets/db_password.txt
  api_key:
    file: ./secrets/api_key.txt
`,
    secrets: { 'db_password.txt.example': 'changeme\n', 'api_key.txt.example': 'your-api-key-here\n' },
  });
  await exec('git', ['init', '-q', dir]);
  await writeSopsFile(path.join(dir, 'secrets', 'db_password.txt.sops.yaml'), `db_password.txt: ${JSON.stringify('s3cr$t "pw"\n with a newline kept')}\n`, key);
  await writeSopsFile(path.join(dir, 'secrets', 'api_key.txt.sops.yaml'), 'api_key.txt: changeme\n', key);
  const env = { SOPS_AGE_KEY: key.identity };

  const check = JSON.parse((await runCoffre(['-C', dir, 'check', '--format', 'json'], env)).stdout);
  t.same(
    check.services[0].files.map((f: Model) => [f.target, f.status, f.keys.map((k: Model) => `${k.name}:${k.status}`)]),
    [
      ['secrets/db_password.txt', 'complete', ['db_password.txt:ok']],
      ['secrets/api_key.txt', 'incomplete', ['api_key.txt:placeholder']],
    ],
  );
  const refused = await runCoffre(['-C', dir, 'render', '.'], env);
  t.equal(refused.code, 1, 'incomplete: refused');
  await writeSopsFile(path.join(dir, 'secrets', 'api_key.txt.sops.yaml'), 'api_key.txt: k-123\n', key);
  const render = await runCoffre(['-C', dir, 'render', '.'], env);
  t.equal(render.code, 0, render.stderr);
  const file = path.join(dir, 'secrets', 'db_password.txt');
  t.equal(await readFile(file, 'utf8'), 's3cr$t "pw"\n with a newline kept', 'the value, byte for byte');
  t.equal(await readFile(path.join(dir, 'secrets', 'api_key.txt'), 'utf8'), 'k-123', 'no trailing newline added');
  t.equal((await stat(file)).mode & 0o777, 0o600);
  const model = await composeConfig(dir);
  t.same(Object.fromEntries(Object.entries<Model>(model.secrets).map(([name, s]) => [name, s.file])), { db_password: file, api_key: path.join(dir, 'secrets', 'api_key.txt') }, 'compose mounts the files coffre wrote');
});

t.test('a "../" target inside the repo renders when git ignores it; outside the repo is refused', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '.env.*\n!*.example\n!*.sops.*\n',
    '.env.n8n.example': 'N8N_KEY=\n',
    apps: { n8n: { 'docker-compose.yml': 'services:\n  n8n:\n    image: n8n\n    env_file: ../../.env.n8n\n' } },
    out: { 'docker-compose.yml': 'services:\n  o:\n    image: o\n    env_file: /etc/coffre-test/o.env\n' },
  });
  await exec('git', ['init', '-q', dir]);
  await writeSopsFile(path.join(dir, '.env.n8n.sops.yaml'), 'N8N_KEY: k\n', key);
  const env = { SOPS_AGE_KEY: key.identity };
  const render = await runCoffre(['-C', dir, 'render', 'apps/n8n'], env);
  t.equal(render.code, 0, render.stderr);
  t.equal(await readFile(path.join(dir, '.env.n8n'), 'utf8'), 'N8N_KEY="k"\n');
  const model = await composeConfig(path.join(dir, 'apps', 'n8n'));
  t.equal(model.services.n8n.environment.N8N_KEY, 'k', 'compose reads what coffre wrote');
  const outside = await runCoffre(['-C', dir, 'render', 'out', '--format', 'json'], env);
  const report = JSON.parse(outside.stdout);
  t.equal(report.services[0].error.code, 'COFFRE_TARGET_UNSAFE');
  t.match(report.services[0].error.message, /env_file \/etc\/coffre-test\/o\.env of out is an absolute path outside the repo: coffre writes only inside it \(map its folder into the repo with compose\.absoluteTargets/);
  t.notOk(outside.stdout.includes(dir), 'the message does not depend on where the repo is checked out');
});

t.test('rotate --generate --render on a compose secret file: one new raw value in the sops file and the target', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '*.txt\n',
    app: {
      'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n',
      'pw.txt.example': 'changeme\n',
    },
  });
  await exec('git', ['init', '-q', dir]);
  await writeSopsFile(path.join(dir, 'app', 'pw.txt.sops.yaml'), 'pw.txt: old-value\n', key);
  const env = { SOPS_AGE_KEY: key.identity };
  const rotate = await runCoffre(['-C', dir, 'rotate', 'app', 'pw.txt', 'pw.txt', '--generate', '--length', '40', '--render'], env);
  t.equal(rotate.code, 0, rotate.stderr + rotate.stdout);
  const value = await readFile(path.join(dir, 'app', 'pw.txt'), 'utf8');
  t.match(value, /^[A-Za-z0-9]{40}$/, 'a generated value, no newline');
  t.notOk(rotate.stdout.includes(value) || rotate.stderr.includes(value), 'the value is not printed');
  const check = JSON.parse((await runCoffre(['-C', dir, 'check', '--format', 'json'], env)).stdout);
  t.same(check.services[0].files.map((f: Model) => [f.target, f.status]), [['app/pw.txt', 'complete']]);
});
