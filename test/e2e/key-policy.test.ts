// Issue 10 item 7 end to end: an upstream .env.example used as is, its keys made optional / allow-empty by
// coffre.yaml, checked and rendered from a real sops file; a committed env file without example gets a
// COFFRE_EXAMPLE_MISSING that suggests `skip`.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCoffre } from '../support/run-cli.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

const run = promisify(execFile);
const git = (dir: string, ...args: string[]) => run('git', ['-C', dir, ...args], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });

const upstream = '# upstream example, not ours to edit\nAPP_KEY=changeme\nMAIL_HOST=\nMAIL_PASSWORD=\nDEBUG=\n';

t.test('files.<glob>.keys makes an upstream example usable without editing it (check and render)', async (t) => {
  const key = await newAgeKey();
  const dir = t.testdir({
    '.gitignore': '.env\n',
    'coffre.yaml': '# no policy yet\n',
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: .env\n', '.env.example': upstream },
  });
  await writeSopsFile(path.join(dir, 'app', '.env.sops.yaml'), 'APP_KEY: k-0123456789\nDEBUG: ""\n', key);
  const env = { SOPS_AGE_KEY: key.identity };

  const before = await runCoffre(['-C', dir, 'check', '--format', 'json'], env);
  t.equal(before.code, 1, before.stdout + before.stderr);
  const statuses = (out: string) => Object.fromEntries(JSON.parse(out).services[0].files[0].keys.map((k: { name: string; status: string; optional: boolean }) => [k.name, `${k.status}${k.optional ? ' (optional)' : ''}`]));
  t.same(statuses(before.stdout), { APP_KEY: 'ok', MAIL_HOST: 'missing', MAIL_PASSWORD: 'missing', DEBUG: 'empty' });

  await git(dir, 'init', '-q');
  await writeFile(path.join(dir, 'coffre.yaml'), 'files:\n  "**/.env":\n    keys:\n      "MAIL_*": { optional: true }\n      DEBUG: { allowEmpty: true }\n');
  const after = await runCoffre(['-C', dir, 'check', '--format', 'json'], env);
  t.equal(after.code, 0, after.stdout);
  t.same(statuses(after.stdout), { APP_KEY: 'ok', MAIL_HOST: 'missing (optional)', MAIL_PASSWORD: 'missing (optional)', DEBUG: 'ok' });
  t.equal(await readFile(path.join(dir, 'app', '.env.example'), 'utf8'), upstream, 'the example is untouched');

  const rendered = await runCoffre(['-C', dir, 'render', 'app'], env);
  t.equal(rendered.code, 0, rendered.stderr);
  t.equal(await readFile(path.join(dir, 'app', '.env'), 'utf8'), 'APP_KEY="k-0123456789"\nDEBUG=""\n', 'the allow-empty key is rendered, optional absent keys are not');
});

t.test('a tracked env file without example: the error suggests files.<target>.skip, which silences it', async (t) => {
  const dir = t.testdir({
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [config.env]\n', 'config.env': 'TZ=Europe/Paris\n' },
  });
  await git(dir, 'init', '-q');
  await git(dir, 'add', 'app/config.env');
  const result = await runCoffre(['-C', dir, 'check'], {});
  t.equal(result.code, 2);
  t.match(result.stdout, /COFFRE_EXAMPLE_MISSING app\/config\.env is an env_file target with no example \(looked for app\/config\.env\.example.*\); git tracks app\/config\.env: if it holds no secret, mark it skipped in coffre\.yaml: files: \{ "app\/config\.env": \{ skip: true \} \}/);
  t.notMatch(result.stdout, /TZ|Europe/, 'the committed file is never read into the report');

  const untracked = t.testdir({ app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [config.env]\n' } });
  await git(untracked, 'init', '-q');
  t.notMatch((await runCoffre(['-C', untracked, 'check'], {})).stdout, /mark it skipped/, 'no skip suggestion for a target git does not track');

  await writeFile(path.join(dir, 'coffre.yaml'), 'files:\n  "app/config.env": { skip: true }\n');
  const skipped = await runCoffre(['-C', dir, 'check'], {});
  t.equal(skipped.code, 0, skipped.stdout);
  t.match(skipped.stdout, /\(no env_file secrets\)/);
});
