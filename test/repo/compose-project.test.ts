// Discovery of compose's project model, the parts the compose oracle tests (test/oracle/compose-targets.test.ts)
// do not cover: coffre.yaml validation of the `compose` section and globs, absolute target mapping, refusals,
// one file claimed by two services, and when the project `.env` is (not) a target.
import path from 'node:path';
import t from 'tap';
import { defaultConfig, parseConfig, type CoffreConfig } from '../../src/repo/config.js';
import { discoverRepo, type RepoModel } from '../../src/repo/discover.js';

function discover(root: string, config: CoffreConfig = defaultConfig()): Promise<RepoModel> {
  return discoverRepo({ root, config, vaultEnabled: true });
}

t.test('coffre.yaml: compose.projects and absoluteTargets are validated, composeFiles takes names or globs only', async (t) => {
  const cases: Array<{ name: string; yaml: string; error: RegExp }> = [
    { name: 'a project file climbing out', yaml: 'compose:\n  projects:\n    - files: [../x/docker-compose.yml]\n', error: /compose\.projects\[0\]\.files\[0\]: expected a path relative to the repo root, without "\.\."/ },
    { name: 'an absolute project directory', yaml: 'compose:\n  projects:\n    - files: [a.yml]\n      projectDirectory: /srv\n', error: /compose\.projects\[0\]\.projectDirectory/ },
    { name: 'a project without files', yaml: 'compose:\n  projects:\n    - files: []\n', error: /compose\.projects\[0\]\.files/ },
    { name: 'an unknown key', yaml: 'compose:\n  projects:\n    - files: [a.yml]\n      profiles: [x]\n', error: /compose\.projects\[0\]\.profiles: unknown key/ },
    { name: 'a relative absoluteTargets folder', yaml: 'compose:\n  absoluteTargets:\n    etc/app: x\n', error: /compose\.absoluteTargets\["etc\/app"\]/ },
    { name: 'an absoluteTargets mapping out of the repo', yaml: 'compose:\n  absoluteTargets:\n    /etc/app: ../x\n', error: /without "\.\."/ },
    { name: 'a compose file pattern with a folder', yaml: 'discovery:\n  composeFiles: [deploy/docker-compose.yml]\n', error: /a compose file name or glob, without "\/"/ },
  ];
  for (const c of cases) t.throws(() => parseConfig(c.yaml, 'coffre.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: c.error }, c.name);
  const config = parseConfig('compose:\n  projects:\n    - files: [a/docker-compose.yml]\n  absoluteTargets:\n    /etc/app: host/app\n', 'coffre.yaml');
  t.same(config.compose, { projects: [{ files: ['a/docker-compose.yml'] }], absoluteTargets: { '/etc/app': 'host/app' } });
  t.equal(defaultConfig().compose, undefined, 'absent by default');
});

t.test('an absolute target under a compose.absoluteTargets folder is the mapped repo file, checked like any other', async (t) => {
  const root = t.testdir({
    'host-secrets': { app: { 'db.env.example': 'K=\n', 'db.env.sops.yaml': 'not read here\n' } },
    app: {
      'docker-compose.yml': 'services:\n  a:\n    env_file: [/etc/app/db.env, /etc/other/x.env]\nsecrets:\n  k:\n    file: /etc/app/keys/k.txt\n',
    },
  });
  const repo = await discover(root, parseConfig('compose:\n  absoluteTargets:\n    /etc/app/: host-secrets/app\n', 'coffre.yaml'));
  const files = repo.services[0]!.secretFiles;
  t.same(
    files.map((f) => [f.targetRel, f.declaredPath, f.format, f.exampleRel, f.source?.kind ?? null]),
    [
      ['host-secrets/app/db.env', '/etc/app/db.env', 'compose', 'host-secrets/app/db.env.example', 'sops'],
      ['/etc/other/x.env', '/etc/other/x.env', 'compose', null, null],
      ['host-secrets/app/keys/k.txt', '/etc/app/keys/k.txt', 'secret', null, 'vault'],
    ],
  );
  t.same(
    repo.problems.map((p) => [p.severity, p.code, p.message]),
    [
      ['error', 'COFFRE_EXAMPLE_MISSING', 'env_file /etc/other/x.env has no example (outside the repo)'],
      ['warning', 'COFFRE_TARGET_UNSAFE', 'env_file /etc/other/x.env is an absolute path outside the repo; render will refuse it (map its folder into the repo with compose.absoluteTargets in coffre.yaml)'],
      ['error', 'COFFRE_EXAMPLE_MISSING', 'secret file host-secrets/app/keys/k.txt has no example (looked for host-secrets/app/keys/k.txt.example, host-secrets/app/keys/k.txt.dist, host-secrets/app/keys/k.txt.sample, then from examples.patterns app/k.txt.example, app/k.txt.dist, app/k.txt.sample)'],
    ],
  );
  t.notMatch(JSON.stringify(repo.problems), root, 'no message depends on the checkout location');
});

t.test('a COMPOSE_FILE entry outside the repo is refused, the others are read', async (t) => {
  const root = t.testdir({
    '.env': 'COMPOSE_FILE=a/docker-compose.yml:../elsewhere.yml\n',
    a: { 'docker-compose.yml': 'services:\n  x:\n    env_file: x.env\n', 'x.env.example': 'K=\n' },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.secretFiles.map((f) => f.targetRel)), [['a/x.env']]);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_UNSUPPORTED', file: '.env', message: /names \.\.\/elsewhere\.yml, outside the repo/ }]);
});

t.test('a file that two services read from different sources is an error naming both', async (t) => {
  const root = t.testdir({
    wiki: { 'docker-compose.yml': 'services:\n  w:\n    env_file: .env\n', '.env.example': 'K=\n' },
    chat: { 'docker-compose.yml': 'services:\n  c:\n    env_file: ../wiki/.env\n' },
  });
  const repo = await discover(root);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_CONFIG_INVALID', service: 'wiki', file: 'wiki/.env', message: 'wiki/.env is a target of chat (Vault secret/chat/env) and of wiki (Vault secret/wiki/env): give it one source' }]);
  const sops = t.testdir({ ...structuredClone({ wiki: { 'docker-compose.yml': 'services:\n  w:\n    env_file: .env\n', '.env.example': 'K=\n', '.env.sops.yaml': 'x\n' }, chat: { 'docker-compose.yml': 'services:\n  c:\n    env_file: ../wiki/.env\n' } }) });
  t.same((await discover(sops)).problems, [], 'one sops file beside it: one source, no problem');
});

t.test('the project .env is a target only when the compose file interpolates and an example of it exists', async (t) => {
  const root = t.testdir({
    none: { 'docker-compose.yml': 'services:\n  a:\n    image: "x:${TAG:-1}"\n' },
    novars: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n    command: echo $$HOME\n', '.env.example': 'K=\n' },
    used: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n    environment:\n      - P=${PASS}\n      - Q=$QUIET\n', 'env.example': 'PASS=\nQUIET=\n' },
    listed: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n    env_file: .env\n    environment:\n      - P=${PASS}\n', '.env.dist': 'PASS=\n' },
  });
  const repo = await discover(root);
  const targets = Object.fromEntries(repo.services.map((s) => [s.name, s.secretFiles.map((f) => [f.targetRel, f.exampleRel, f.projectEnv ?? false])]));
  t.same(targets, {
    listed: [['listed/.env', 'listed/.env.dist', false]],
    none: [],
    novars: [],
    used: [['used/.env', 'used/env.example', true]],
  });
  t.same(
    repo.problems.map((p) => [p.code, p.file]),
    [['EXAMPLE_UNREFERENCED', 'novars/.env.example']],
    '"$$" is no variable; no example no target; every variable declared',
  );
});

t.test('composeFiles globs: the override file is merged, not a second compose file; a glob is never read literally', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': 'services:\n  a:\n    env_file: a.env\n',
      'docker-compose.override.yml': 'services:\n  a:\n    env_file: b.env\n',
      'a.env.example': 'K=\n',
      'b.env.example': 'K=\n',
    },
    other: { 'docker-compose.prod.yml': 'services:\n  a:\n    env_file: p.env\n', 'p.env.example': 'K=\n' },
    none: { 'compose.yaml': 'services: {}\n' },
  });
  const repo = await discover(root, parseConfig('discovery:\n  composeFiles: ["docker-compose*.yml"]\n', 'coffre.yaml'));
  t.same(repo.services.map((s) => [s.name, path.basename(s.composeFile), s.secretFiles.map((f) => f.targetRel)]), [
    ['other', 'docker-compose.prod.yml', ['other/p.env']],
    ['svc', 'docker-compose.yml', ['svc/a.env', 'svc/b.env']],
  ]);
  t.same(repo.problems, []);
});

t.test('an example .env coffre cannot parse is no problem when looking for COMPOSE_FILE', async (t) => {
  const root = t.testdir({
    '.env.example': 'A="unterminated\n',
    svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: a.env\n', 'a.env.example': 'K=\n', '.env.dist': 'B="unterminated\n' },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => [s.name, s.secretFiles.map((f) => f.targetRel)]), [['svc', ['svc/a.env']]]);
  t.same(repo.problems.filter((p) => p.severity === 'error'), []);
});
