import t from 'tap';
import path from 'node:path';
import { parseConfig, defaultConfig, type CoffreConfig } from '../../src/repo/config.js';
import { discoverRepo, type RepoModel } from '../../src/repo/discover.js';

const PLAIN = 'KEY=\n';

function discover(root: string, options: { config?: CoffreConfig; vaultEnabled?: boolean; environment?: Record<string, string> } = {}): Promise<RepoModel> {
  return discoverRepo({ root, config: options.config ?? defaultConfig(), vaultEnabled: options.vaultEnabled ?? true, ...(options.environment ? { environment: options.environment } : {}) });
}

const picasoft = {
  'README.md': '# infra\n',
  mattermost: {
    'docker-compose.yml': `services:
  app:
    image: mattermost
    env_file: ./secrets/mattermost.secrets
  db:
    image: postgres
    env_file:
      - ./secrets/mattermost-db.secrets
`,
    secrets: {
      'mattermost.secrets.example': 'MM_SQLSETTINGS_DATASOURCE=\n',
      'mattermost-db.secrets.example': 'POSTGRES_PASSWORD=\n',
    },
  },
  wiki: {
    'docker-compose.yml': 'services:\n  wiki:\n    env_file: secrets/wiki.secrets\n',
    secrets: { 'wiki.secrets.example': PLAIN },
  },
  docs: { 'index.md': 'no compose here\n' },
};

t.test('the Picasoft layout works with no coffre.yaml', async (t) => {
  const root = t.testdir(picasoft);
  const repo = await discover(root);
  t.equal(repo.root, root);
  t.same(repo.problems, []);
  t.same(repo.skipped, []);
  t.same(repo.services.map((s) => s.name), ['mattermost', 'wiki']);
  const mattermost = repo.services[0]!;
  t.equal(mattermost.dir, path.join(root, 'mattermost'));
  t.equal(mattermost.composeFile, path.join(root, 'mattermost', 'docker-compose.yml'));
  t.equal(mattermost.composeFileRel, 'mattermost/docker-compose.yml');
  t.same(mattermost.render, { mode: 0o600, owner: null, group: null });
  t.same(mattermost.secretFiles, [
    {
      service: 'mattermost',
      name: 'mattermost',
      target: path.join(root, 'mattermost/secrets/mattermost.secrets'),
      targetRel: 'mattermost/secrets/mattermost.secrets',
      declaredPath: './secrets/mattermost.secrets',
      format: 'compose',
      required: true,
      example: path.join(root, 'mattermost/secrets/mattermost.secrets.example'),
      exampleRel: 'mattermost/secrets/mattermost.secrets.example',
      composeLine: 4,
      source: { kind: 'vault', mount: 'secret', path: 'mattermost/mattermost' },
    },
    {
      service: 'mattermost',
      name: 'mattermost-db',
      target: path.join(root, 'mattermost/secrets/mattermost-db.secrets'),
      targetRel: 'mattermost/secrets/mattermost-db.secrets',
      declaredPath: './secrets/mattermost-db.secrets',
      format: 'compose',
      required: true,
      example: path.join(root, 'mattermost/secrets/mattermost-db.secrets.example'),
      exampleRel: 'mattermost/secrets/mattermost-db.secrets.example',
      composeLine: 8,
      source: { kind: 'vault', mount: 'secret', path: 'mattermost/mattermost-db' },
    },
  ]);
  t.same(repo.services[1]!.secretFiles.map((f) => [f.name, f.source]), [['wiki', { kind: 'vault', mount: 'secret', path: 'wiki/wiki' }]]);
});

t.test('without Vault and without a sops file a secrets file has no source', async (t) => {
  const repo = await discover(t.testdir(picasoft), { vaultEnabled: false });
  t.same(repo.services.flatMap((s) => s.secretFiles.map((f) => f.source)), [null, null, null]);
});

t.test('compose file names: compose.yaml is found, the first configured name wins', async (t) => {
  const root = t.testdir({
    chat: { 'compose.yaml': 'services:\n  a:\n    env_file: .env\n', '.env.example': PLAIN },
    both: { 'compose.yaml': 'services:\n  b:\n    env_file: b.env\n', 'docker-compose.yml': 'services:\n  a:\n    env_file: a.env\n', 'a.env.example': PLAIN },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => [s.name, s.composeFileRel]), [
    ['both', 'both/docker-compose.yml'],
    ['chat', 'chat/compose.yaml'],
  ]);
  t.same(repo.services[1]!.secretFiles.map((f) => [f.name, f.targetRel, f.exampleRel]), [['env', 'chat/.env', 'chat/.env.example']]);
  t.same(repo.services[0]!.secretFiles.map((f) => f.name), ['a']);
  t.same(repo.problems, [
    { severity: 'warning', code: 'COFFRE_COMPOSE_INVALID', service: 'both', file: 'both/compose.yaml', message: 'both has several compose files; coffre reads docker-compose.yml only (ignored: compose.yaml)' },
  ]);
});

t.test('env_file in all three shapes, with required and format, de-duplicated across compose services', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': `services:
  one:
    env_file: secrets/a.secrets
  two:
    env_file:
      - secrets/b.secrets
      - secrets/a.secrets
  three:
    env_file:
      - path: secrets/c.secrets
        required: false
      - path: raw.env
        format: raw
      - path: secrets/b.secrets
        required: false
  four:
    env_file:
      - path: optional.env
        required: false
`,
      'raw.env.example': PLAIN,
      'optional.env.example': PLAIN,
      secrets: { 'a.secrets.example': PLAIN, 'b.secrets.example': PLAIN, 'c.secrets.example': PLAIN },
    },
  });
  const repo = await discover(root);
  t.same(repo.problems, []);
  t.same(
    repo.services[0]!.secretFiles.map((f) => ({ name: f.name, format: f.format, required: f.required, line: f.composeLine })),
    [
      { name: 'a', format: 'compose', required: true, line: 3 },
      { name: 'b', format: 'compose', required: true, line: 6 },
      { name: 'c', format: 'compose', required: false, line: 10 },
      { name: 'raw', format: 'raw', required: true, line: 12 },
      { name: 'optional', format: 'compose', required: false, line: 18 },
    ],
  );
});

t.test('one target read both as raw and compose is an error', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': 'services:\n  a:\n    env_file: x.env\n  b:\n    env_file:\n      - path: x.env\n        format: raw\n',
      'x.env.example': PLAIN,
    },
  });
  const repo = await discover(root);
  t.same(repo.problems, [
    { severity: 'error', code: 'COFFRE_COMPOSE_INVALID', service: 'svc', file: 'svc/docker-compose.yml', line: 6, message: 'x.env is read as format raw here but as compose at line 3: one file cannot be rendered both ways' },
  ]);
});

t.test('${VAR} in env_file paths is resolved from the project .env, then defaults', async (t) => {
  const compose = `services:
  vw:
    env_file:
      - \${CONFIG_ROOT:-.}/vaultwarden/vw.env
      - \${SECRETS_DIR-secrets}/app.secrets
`;
  const tree = (dotenv?: string) => ({
    nas: {
      'docker-compose.yml': compose,
      ...(dotenv === undefined ? {} : { '.env': dotenv }),
      vaultwarden: { 'vw.env.example': PLAIN },
      conf: { vaultwarden: { 'vw.env.example': PLAIN }, 'app.secrets.example': PLAIN },
      secrets: { 'app.secrets.example': PLAIN },
    },
  });

  const errorsOf = (repo: RepoModel) => repo.problems.filter((p) => p.severity === 'error');
  t.test('without a project .env the defaults apply', async (t) => {
    const repo = await discover(t.testdir(tree()));
    t.same(errorsOf(repo), []);
    t.same(repo.problems.map((p) => p.file), ['nas/conf/app.secrets.example', 'nas/conf/vaultwarden/vw.env.example'], 'the examples of the other layout are unused');
    t.same(repo.services[0]!.secretFiles.map((f) => [f.targetRel, f.declaredPath]), [
      ['nas/vaultwarden/vw.env', './vaultwarden/vw.env'],
      ['nas/secrets/app.secrets', 'secrets/app.secrets'],
    ]);
  });

  t.test('with a project .env its values win over the defaults', async (t) => {
    const repo = await discover(t.testdir(tree('CONFIG_ROOT=./conf\nSECRETS_DIR="${CONFIG_ROOT}"\n')));
    t.same(errorsOf(repo), []);
    t.same(repo.services[0]!.secretFiles.map((f) => f.targetRel), ['nas/conf/vaultwarden/vw.env', 'nas/conf/app.secrets']);
  });

  t.test('the given environment wins over the project .env, like the shell does in compose', async (t) => {
    const repo = await discover(t.testdir(tree('CONFIG_ROOT=./conf\n')), { environment: { CONFIG_ROOT: '.', SECRETS_DIR: 'secrets' } });
    t.same(repo.services[0]!.secretFiles.map((f) => f.targetRel), ['nas/vaultwarden/vw.env', 'nas/secrets/app.secrets']);
  });
});

t.test('an unresolvable ${VAR} in a path is a problem and the other entries still work', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': 'services:\n  a:\n    env_file:\n      - ${ROOT}/x.env\n      - y.env\n      - ${BROKEN\n',
      'y.env.example': PLAIN,
    },
  });
  const repo = await discover(root);
  t.same(repo.services[0]!.secretFiles.map((f) => f.name), ['y']);
  t.same(repo.problems.map((p) => [p.code, p.file, p.line, p.message]), [
    ['COFFRE_COMPOSE_INVALID', 'svc/docker-compose.yml', 4, 'env_file "${ROOT}/x.env" of services.a: variable ROOT is not set (in the project .env or the environment) and has no default'],
    ['COFFRE_COMPOSE_INVALID', 'svc/docker-compose.yml', 6, 'env_file "${BROKEN" of services.a: unclosed "${" in "${BROKEN"'],
  ]);
});

t.test('a project .env that cannot be parsed is a problem', async (t) => {
  const root = t.testdir({
    svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: ${DIR:-.}/y.env\n', '.env': 'A="unterminated\n', 'y.env.example': PLAIN },
  });
  const repo = await discover(root);
  t.same(repo.services[0]!.secretFiles.map((f) => f.targetRel), ['svc/y.env']);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', file: 'svc/.env', line: 1, message: /^the project \.env cannot be parsed: / }]);
  t.equal(repo.problems.length, 1);
});

t.test('a target without example is listed with example null and an error problem', async (t) => {
  const root = t.testdir({
    svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: secrets/db.secrets\n', secrets: { 'db.secrets.txt': PLAIN } },
  });
  const repo = await discover(root);
  t.match(repo.services[0]!.secretFiles, [{ name: 'db', example: null, exampleRel: null, targetRel: 'svc/secrets/db.secrets' }]);
  t.match(repo.problems, [
    {
      severity: 'error',
      code: 'COFFRE_EXAMPLE_MISSING',
      service: 'svc',
      file: 'svc/docker-compose.yml',
      line: 3,
      message: /^env_file svc\/secrets\/db\.secrets has no example \(looked for svc\/secrets\/db\.secrets\.example, svc\/secrets\/db\.secrets\.dist, svc\/secrets\/db\.secrets\.sample, then from examples\.patterns /,
    },
  ]);
  t.equal(repo.problems.length, 1);
});

t.test('the example suffixes are tried in order', async (t) => {
  const root = t.testdir({
    svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: [x.env, y.env]\n', 'x.env.sample': PLAIN, 'x.env.dist': PLAIN, 'y.env.sample': PLAIN },
  });
  const repo = await discover(root);
  t.same(repo.services[0]!.secretFiles.map((f) => f.exampleRel), ['svc/x.env.dist', 'svc/y.env.sample']);
  t.same(repo.problems.map((p) => [p.code, p.file]), [['EXAMPLE_UNREFERENCED', 'svc/x.env.sample']]);
});

t.test('env-like examples no env_file uses are warnings; other templates are ignored', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': 'services:\n  a:\n    env_file: secrets/used.secrets\n',
      'docker-compose.yml.example': 'services: {}\n',
      'nginx.conf.sample': 'server {}\n',
      '.env.example': PLAIN,
      secrets: { 'used.secrets.example': PLAIN, 'old.secrets.example': PLAIN, 'token.txt.example': 'x\n' },
      '.hidden': { 'h.secrets.example': PLAIN },
      nested: { 'docker-compose.yml': 'services: {}\n', 'n.secrets.example': PLAIN },
    },
  });
  const repo = await discover(root);
  t.same(
    repo.problems.map((p) => [p.severity, p.code, p.service, p.file]),
    [
      ['warning', 'EXAMPLE_UNREFERENCED', 'svc', 'svc/.env.example'],
      ['warning', 'EXAMPLE_UNREFERENCED', 'svc', 'svc/secrets/old.secrets.example'],
      ['warning', 'EXAMPLE_UNREFERENCED', 'svc', 'svc/secrets/token.txt.example'],
      ['warning', 'EXAMPLE_UNREFERENCED', 'svc/nested', 'svc/nested/n.secrets.example'],
    ],
  );
  t.equal(repo.problems[0]!.message, 'svc/.env.example is an example that no env_file of svc/docker-compose.yml uses');
});

t.test('a sops file beside the target is preferred over Vault, format from its suffix', async (t) => {
  const root = t.testdir({
    svc: {
      'docker-compose.yml': 'services:\n  a:\n    env_file: [a.env, b.env, c.env, d.env]\n',
      'a.env.example': PLAIN,
      'a.env.sops.yaml': 'sops: {}\n',
      'b.env.example': PLAIN,
      'b.env.sops.env': 'x\n',
      'b.env.sops': 'x\n',
      'c.env.example': PLAIN,
      'c.env.sops': 'x\n',
      'd.env.example': PLAIN,
    },
  });
  const repo = await discover(root);
  t.same(repo.problems, []);
  t.same(repo.services[0]!.secretFiles.map((f) => f.source), [
    { kind: 'sops', file: path.join(root, 'svc/a.env.sops.yaml'), format: 'yaml' },
    { kind: 'sops', file: path.join(root, 'svc/b.env.sops.env'), format: 'dotenv' },
    { kind: 'sops', file: path.join(root, 'svc/c.env.sops'), format: 'binary' },
    { kind: 'vault', mount: 'secret', path: 'svc/d' },
  ]);
  const noVault = await discover(root, { vaultEnabled: false });
  t.same(noVault.services[0]!.secretFiles.map((f) => f.source?.kind ?? null), ['sops', 'sops', 'sops', null]);
});

t.test('the Vault path follows the configured template, mount and prefix', async (t) => {
  const root = t.testdir({ ...picasoft, apps: { chat: { 'docker-compose.yml': 'services:\n  a:\n    env_file: .env\n', '.env.example': PLAIN } } });
  const cases = [
    { name: 'prefix', yaml: 'vault:\n  prefix: infra/picasoft\n', paths: ['kv-default:infra/picasoft/apps/chat/env', 'kv-default:infra/picasoft/mattermost/mattermost'] },
    { name: 'custom template and mount', yaml: 'vault:\n  mount: kv\n  prefix: pica\n  path: "services/{service}/{name}-{prefix}"\n', paths: ['kv:services/apps/chat/env-pica', 'kv:services/mattermost/mattermost-pica'] },
  ];
  for (const c of cases) {
    const repo = await discover(root, { config: parseConfig(c.yaml, 'coffre.yaml') });
    const sources = repo.services.flatMap((s) => s.secretFiles.map((f) => f.source!)).map((s) => (s.kind === 'vault' ? `${s.mount === 'secret' ? 'kv-default' : s.mount}:${s.path}` : ''));
    t.same(sources.slice(0, 2), c.paths, c.name);
  }
});

t.test('coffre.yaml overrides sources, examples, render settings and skips', async (t) => {
  const root = t.testdir({
    'coffre.yaml': 'unused: file\n',
    chat: {
      'docker-compose.yml': `services:
  a:
    env_file:
      - secrets/db.secrets
      - secrets/app.secrets
      - env/pdns.env
      - plain.env
      - manual.env
      - auto.env
`,
      secrets: { 'db.secrets.example': PLAIN, 'app.secrets.example': PLAIN, 'app.secrets.sops.yaml': 'sops: {}\n', 'smtp.enc.json': '{}' },
      'conf-sample': { 'pdns.env.sample': PLAIN },
      'plain.env.example': PLAIN,
      'manual.env.example': PLAIN,
      'auto.env.example': PLAIN,
    },
    legacy: { 'docker-compose.yml': 'services:\n  a:\n    env_file: nothing.env\n' },
  });
  const config = parseConfig(
    `vault:
  prefix: infra
render:
  mode: "0640"
services:
  chat:
    render: { owner: 1000 }
    files:
      secrets/db.secrets:
        source: { vault: "kv/{prefix}/chat-db" }
      ./secrets/app.secrets:
        source: { sops: secrets/smtp.enc.json }
      env/pdns.env:
        example: conf-sample/pdns.env.sample
      plain.env:
        skip: true
      manual.env:
        source: null
      typo.env:
        source: null
  legacy:
    skip: true
  gone:
    skip: true
`,
    'coffre.yaml',
  );
  const repo = await discoverRepo({ root, config, vaultEnabled: true, configFile: path.join(root, 'coffre.yaml') });
  t.same(repo.skipped, ['legacy']);
  t.same(repo.services.map((s) => s.name), ['chat']);
  const chat = repo.services[0]!;
  t.same(chat.render, { mode: 0o640, owner: 1000, group: null });
  t.same(
    chat.secretFiles.map((f) => [f.name, f.exampleRel, f.source]),
    [
      ['db', 'chat/secrets/db.secrets.example', { kind: 'vault', mount: 'kv', path: 'infra/chat-db' }],
      ['app', 'chat/secrets/app.secrets.example', { kind: 'sops', file: path.join(root, 'chat/secrets/smtp.enc.json'), format: 'json' }],
      ['pdns', 'chat/conf-sample/pdns.env.sample', { kind: 'vault', mount: 'secret', path: 'infra/chat/pdns' }],
      ['manual', 'chat/manual.env.example', null],
      ['auto', 'chat/auto.env.example', { kind: 'vault', mount: 'secret', path: 'infra/chat/auto' }],
    ],
  );
  t.same(repo.problems, [
    { severity: 'warning', code: 'COFFRE_CONFIG_INVALID', service: 'chat', file: 'coffre.yaml', message: 'services.chat.files["typo.env"] matches no env_file target of chat' },
    { severity: 'warning', code: 'COFFRE_CONFIG_INVALID', file: 'coffre.yaml', message: 'services.gone matches no service folder (services: chat, legacy)' },
  ]);
});

t.test('a configured example that does not exist is an error', async (t) => {
  const root = t.testdir({ svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: x.env\n', 'x.env.example': PLAIN } });
  const config = parseConfig('services:\n  svc:\n    files:\n      x.env:\n        example: samples/x.env\n', 'coffre.yaml');
  const repo = await discover(root, { config });
  t.equal(repo.services[0]!.secretFiles[0]!.example, null);
  t.match(repo.problems, [
    { severity: 'error', code: 'COFFRE_EXAMPLE_MISSING', file: 'svc/docker-compose.yml', line: 3, message: 'the example configured for svc/x.env in coffre.yaml, svc/samples/x.env, does not exist' },
    { severity: 'warning', code: 'EXAMPLE_UNREFERENCED', file: 'svc/x.env.example' },
  ]);
});

t.test('invalid compose YAML is a problem with its line and other services are still discovered', async (t) => {
  const root = t.testdir({
    ...picasoft,
    broken: { 'docker-compose.yml': 'services:\n  a:\n    env_file: [x\n  b:\n    image: y\n', 'x.secrets.example': PLAIN },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => [s.name, s.secretFiles.length]), [
    ['broken', 0],
    ['mattermost', 2],
    ['wiki', 1],
  ]);
  t.match(repo.problems, [
    { severity: 'error', code: 'COFFRE_COMPOSE_INVALID', service: 'broken', file: 'broken/docker-compose.yml', line: 4, message: /^not valid YAML: / },
    { severity: 'warning', code: 'EXAMPLE_UNREFERENCED', file: 'broken/x.secrets.example' },
  ]);
  t.equal(repo.problems.length, 2);
});

t.test('nested service folders are found up to maxDepth, skipping hidden and excluded folders', async (t) => {
  const compose = 'services:\n  a:\n    image: x\n';
  const root = t.testdir({
    'docker-compose.yml': compose,
    apps: { wiki: { 'docker-compose.yml': compose, deep: { er: { 'docker-compose.yml': compose } } }, 'docker-compose.yml': compose },
    '.hidden': { 'docker-compose.yml': compose },
    node_modules: { pkg: { 'docker-compose.yml': compose } },
    archive: { old: { 'docker-compose.yml': compose } },
    tools: { 'docker-compose.yml': compose },
  });
  const names = async (yaml: string) => (await discover(root, { config: parseConfig(yaml, 'coffre.yaml') })).services.map((s) => s.name);
  t.same(await names(''), ['.', 'apps', 'apps/wiki', 'archive/old', 'tools'], 'default maxDepth 3 stops above depth 4');
  t.same(await names('discovery:\n  maxDepth: 4\n'), ['.', 'apps', 'apps/wiki', 'apps/wiki/deep/er', 'archive/old', 'tools']);
  t.same(await names('discovery:\n  maxDepth: 1\n'), ['.', 'apps', 'tools']);
  t.same(await names('discovery:\n  maxDepth: 0\n'), ['.']);
  t.same(await names('discovery:\n  exclude: [node_modules, "archive/*", tools]\n'), ['.', 'apps', 'apps/wiki'], 'a name pattern and a path pattern');
  t.same(await names('discovery:\n  exclude: []\n'), ['.', 'apps', 'apps/wiki', 'archive/old', 'node_modules/pkg', 'tools']);
});

t.test('a nested service keeps its slashes in the Vault path', async (t) => {
  const root = t.testdir({ apps: { wiki: { 'docker-compose.yml': 'services:\n  a:\n    env_file: secrets/db.secrets\n', secrets: { 'db.secrets.example': PLAIN } } } });
  const repo = await discover(root);
  t.same(repo.services[0]!.secretFiles[0]!.source, { kind: 'vault', mount: 'secret', path: 'apps/wiki/db' });
});

t.test('symlinked folders are not followed', async (t) => {
  const outside = t.testdir({ elsewhere: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n' } });
  const root = t.testdir({
    real: { 'docker-compose.yml': 'services:\n  a:\n    image: x\n' },
    link: t.fixture('symlink', 'real'),
    out: t.fixture('symlink', path.join(outside, 'elsewhere')),
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.name), ['real']);
  t.same(repo.problems, []);
});

t.test('targets outside the repo are reported as given, with a warning that does not depend on the checkout; ".." inside the repo is fine', async (t) => {
  const root = t.testdir({
    mattermost: {
      'docker-compose.yml': 'services:\n  a:\n    env_file:\n      - ../wiki/.env\n      - /etc/coffre/global.env\n      - ../../outside.env\n',
    },
    wiki: { '.env.example': PLAIN, 'docker-compose.yml': 'services:\n  w:\n    env_file: .env\n' },
  });
  const repo = await discover(root);
  const files = repo.services[0]!.secretFiles;
  t.same(files.map((f) => [f.targetRel, f.declaredPath, f.target]), [
    ['wiki/.env', '../wiki/.env', path.join(root, 'wiki/.env')],
    ['/etc/coffre/global.env', '/etc/coffre/global.env', '/etc/coffre/global.env'],
    ['../outside.env', '../../outside.env', path.resolve(root, '../outside.env')],
  ]);
  t.equal(files[0]!.exampleRel, 'wiki/.env.example');
  const unsafe = repo.problems.filter((p) => p.code === 'COFFRE_TARGET_UNSAFE');
  t.same(unsafe.map((p) => [p.severity, p.line, p.message]), [
    ['warning', 5, 'env_file /etc/coffre/global.env is an absolute path outside the repo; render will refuse it (map its folder into the repo with compose.absoluteTargets in coffre.yaml)'],
    ['warning', 6, 'env_file ../../outside.env is outside the repo; render will refuse it'],
  ]);
});

t.test('two targets deriving the same Vault path are an error', async (t) => {
  const root = t.testdir({
    svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: [db.env, secrets/db.secrets]\n', 'db.env.example': PLAIN, secrets: { 'db.secrets.example': PLAIN } },
  });
  const repo = await discover(root);
  t.same(repo.problems, [
    {
      severity: 'error',
      code: 'COFFRE_CONFIG_INVALID',
      service: 'svc',
      file: 'svc/docker-compose.yml',
      line: 3,
      message: 'svc/secrets/db.secrets and svc/db.env both map to Vault path secret/svc/db: set services.svc.files.<target>.source in coffre.yaml',
    },
  ]);
  const config = parseConfig('services:\n  svc:\n    files:\n      db.env:\n        source: { vault: secret/svc/db-env }\n', 'coffre.yaml');
  t.same((await discover(root, { config })).problems, []);
});

t.test('a repo root that does not exist is a usage error', async (t) => {
  const root = t.testdir({});
  await t.rejects(discover(path.join(root, 'missing')), { code: 'COFFRE_USAGE' });
});

t.test('scoped discovery reads only the named services, with the same model as a full walk', async (t) => {
  const root = t.testdir({ ...picasoft, '.hidden': { 'docker-compose.yml': 'services: {}\n' }, apps: { wiki2: structuredClone(picasoft.wiki) } });
  const full = await discover(root);
  const scoped = await discoverRepo({ root, config: defaultConfig(), vaultEnabled: true, services: ['wiki', 'apps/wiki2'] });
  t.same(scoped.services.map((s) => s.name), ['apps/wiki2', 'wiki']);
  t.same(scoped.services.find((s) => s.name === 'wiki'), full.services.find((s) => s.name === 'wiki'), 'same service model');
  const refused = await discoverRepo({ root, config: defaultConfig(), vaultEnabled: true, services: ['docs', '../etc', '.hidden', 'nope', '/abs', 'wiki/../mattermost'] });
  t.same(refused.services, [], 'non-services, hidden, escaping and unknown names find nothing');
});

t.test('compose override files beside the compose file are merged: their env_file entries are targets', async (t) => {
  const root = t.testdir({
    app: {
      'docker-compose.yml': 'services:\n  web:\n    image: x\n    env_file: secrets/web.secrets\n',
      'docker-compose.override.yml': 'services:\n  web:\n    env_file:\n      - secrets/extra.secrets\n  debug:\n    env_file: secrets/debug.secrets\n',
      secrets: { 'web.secrets.example': PLAIN, 'extra.secrets.example': PLAIN, 'debug.secrets.example': PLAIN },
    },
    other: {
      'compose.yaml': 'services:\n  a:\n    env_file: a.secrets\n',
      'compose.override.yaml': 'services:\n  a:\n    env_file: b.secrets\n',
      'docker-compose.override.yml': 'services:\n  a:\n    env_file: c.secrets\n',
      'a.secrets.example': PLAIN,
      'b.secrets.example': PLAIN,
      'c.secrets.example': PLAIN,
    },
  });
  const repo = await discover(root);
  const app = repo.services.find((s) => s.name === 'app')!;
  t.same(app.secretFiles.map((f) => f.targetRel), ['app/secrets/web.secrets', 'app/secrets/extra.secrets', 'app/secrets/debug.secrets']);
  t.equal(app.secretFiles[1]!.composeLine, 4, 'line in the override file');
  const other = repo.services.find((s) => s.name === 'other')!;
  t.same(other.secretFiles.map((f) => f.targetRel), ['other/a.secrets', 'other/b.secrets'], 'compose reads the first override name only');
  t.match(repo.problems, [{ severity: 'warning', service: 'other', file: 'other/docker-compose.override.yml', message: /several compose override files.*compose\.override\.yaml only/ }]);
});

t.test('a compose file with a custom name gets no override merged (compose reads it with -f, alone)', async (t) => {
  const root = t.testdir({
    app: { 'stack.yml': 'services:\n  web:\n    env_file: web.secrets\n', 'compose.override.yml': 'services:\n  web:\n    env_file: other.secrets\n', 'web.secrets.example': PLAIN },
  });
  const repo = await discover(root, { config: parseConfig('discovery:\n  composeFiles: [stack.yml]\n', 'coffre.yaml') });
  t.same(repo.services[0]!.secretFiles.map((f) => f.targetRel), ['app/web.secrets']);
});

t.test('a broken override file is an error problem naming it', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': 'services:\n  web:\n    env_file: web.secrets\n',
      'compose.override.yml': 'services:\n  web:\n    image: a\n    image: b\n',
      'web.secrets.example': PLAIN,
    },
  });
  const repo = await discover(root);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', service: 'app', file: 'app/compose.override.yml', line: 4, message: /unique/ }]);
});

t.test('extends: is followed in the same file and in another file, paths relative to the file declaring them', async (t) => {
  const root = t.testdir({
    common: { 'base.yml': 'services:\n  base:\n    env_file: ./shared.secrets\n  deeper:\n    extends: base\n', 'shared.secrets.example': PLAIN },
    app: {
      'compose.yaml': `services:
  proto:
    image: x
    env_file: proto.secrets
  web:
    extends: proto
  worker:
    extends:
      service: deeper
      file: ../common/base.yml
`,
      'proto.secrets.example': PLAIN,
    },
  });
  const repo = await discover(root);
  t.same(repo.problems.filter((p) => p.severity === 'error'), []);
  const app = repo.services.find((s) => s.name === 'app')!;
  t.same(app.secretFiles.map((f) => f.targetRel), ['app/proto.secrets', 'common/shared.secrets']);
  t.equal(app.secretFiles[1]!.declaredPath, '../common/shared.secrets', 'given from the service folder');
  t.same(repo.problems.filter((p) => p.code === 'COFFRE_TARGET_UNSAFE'), [], 'inside the repo: ".." is no problem by itself');
});

t.test('extends: that coffre cannot follow is an error naming the file and line', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': `services:
  a:
    extends:
      service: base
      file: missing.yml
  b:
    extends:
      service: base
      file: /etc/compose.yml
  c:
    extends: nowhere
  d:
    extends: d
`,
    },
  });
  const repo = await discover(root);
  const errors = repo.problems.filter((p) => p.severity === 'error').map((p) => [p.code, p.file, p.line, p.message]);
  t.match(errors, [
    ['COFFRE_COMPOSE_INVALID', 'app/compose.yaml', 4, /missing\.yml does not exist/],
    ['COFFRE_COMPOSE_UNSUPPORTED', 'app/compose.yaml', 8, /outside the repo/],
    ['COFFRE_COMPOSE_INVALID', 'app/compose.yaml', 11, /has no service "nowhere"/],
    ['COFFRE_COMPOSE_INVALID', 'app/compose.yaml', 13, /extends chain deeper than/],
  ]);
});

t.test('include: is followed (paths relative to the included file); what coffre cannot follow exactly is refused with its file and line', async (t) => {
  const root = t.testdir({
    app: {
      'compose.yaml': 'include:\n  - ../shared/db.yaml\n  - path: ../shared/other.yaml\n    project_directory: ../shared\n  - https://example.com/compose.yaml\nservices:\n  web:\n    env_file: web.secrets\n',
      'web.secrets.example': PLAIN,
    },
    shared: { 'db.yaml': 'services:\n  db:\n    env_file: db.secrets\n', 'db.secrets.example': PLAIN, 'other.yaml': 'services: {}\n' },
  });
  const repo = await discover(root);
  t.same(repo.services.find((s) => s.name === 'app')!.secretFiles.map((f) => f.targetRel), ['app/web.secrets', 'shared/db.secrets']);
  t.match(repo.problems, [
    { severity: 'error', code: 'COFFRE_COMPOSE_UNSUPPORTED', service: 'app', file: 'app/compose.yaml', line: 3, message: /project_directory/ },
    { severity: 'error', code: 'COFFRE_COMPOSE_UNSUPPORTED', service: 'app', file: 'app/compose.yaml', line: 5, message: /remote/ },
  ]);
});

t.test('a YAML alias bomb in a compose file is a COFFRE_COMPOSE_INVALID problem', async (t) => {
  let text = 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  let previous = 'a';
  for (let level = 0; level < 9; level++) {
    text += `x-b${level}: &b${level} [${Array(9).fill(`*${previous}`).join(', ')}]\n`;
    previous = `b${level}`;
  }
  text += `services:\n  app:\n    env_file: app.secrets\n    labels: *${previous}\n`;
  const root = t.testdir({ app: { 'compose.yaml': text, 'app.secrets.example': PLAIN } });
  const repo = await discover(root);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', service: 'app', file: 'app/compose.yaml', message: /alias bomb/ }]);
});

t.test('a compose file over the size cap is refused by name', async (t) => {
  const root = t.testdir({ app: { 'compose.yaml': `services:\n  app:\n    env_file: app.secrets\n# ${'x'.repeat(4 * 1024 * 1024)}\n` } });
  const repo = await discover(root);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', file: 'app/compose.yaml', message: /larger than 4194304 bytes/ }]);
  t.same(repo.services[0]!.secretFiles, []);
});

t.test('a doubling ${VAR} chain in the project .env is bounded and named with its line', async (t) => {
  // 398 bytes that would expand to 2^30 characters: A1=${A0}${A0}, A2=${A1}${A1}...
  let dotenv = 'A0=xxxxxxxxxxxxxxxx\n';
  for (let i = 1; i <= 30; i++) dotenv += `A${i}=\${A${i - 1}}\${A${i - 1}}\n`;
  const root = t.testdir({ app: { '.env': dotenv, 'compose.yaml': 'services:\n  app:\n    env_file: ${A30}/app.secrets\n' } });
  const started = Date.now();
  const repo = await discover(root);
  t.ok(Date.now() - started < 5000, 'discovery answers quickly');
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', file: 'app/.env', line: 18, message: /more than 1048576 characters/ }]);
});

t.test('a deeply nested ${VAR} in an env_file path is a problem, not a stack overflow', async (t) => {
  const nested = '${A:-'.repeat(5000) + 'x' + '}'.repeat(5000);
  const root = t.testdir({ app: { 'compose.yaml': `services:\n  app:\n    env_file: "${nested}/app.secrets"\n` } });
  const repo = await discover(root);
  t.match(repo.problems, [{ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', line: 3, message: /nested more than 32 deep/ }]);
});
