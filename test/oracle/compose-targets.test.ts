// Where a target really is, with the real Docker Compose v2 as the oracle (pinned in scripts/tools.env;
// `config --format json` needs no engine). For each fixture repo, coffre's discovery resolves the targets;
// the test writes a marker into each env_file target coffre names and asks compose, run the way the project
// is run (in the service folder, from the root with COMPOSE_FILE, or with -f/--project-directory/--env-file),
// which files it reads: compose fails on a required file that is not where coffre put it, and the markers it
// returns must be exactly coffre's targets. Secret files are compared with compose's `secrets.<name>.file`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { defaultConfig, parseConfig, type CoffreConfig } from '../../src/repo/config.js';
import { discoverRepo, type RepoModel } from '../../src/repo/discover.js';
import { composeConfig, type ComposeModel as Model } from '../support/compose.js';

async function discover(root: string, config: CoffreConfig = defaultConfig()): Promise<RepoModel> {
  return discoverRepo({ root, config, vaultEnabled: true });
}

/**
 * Writes a marker into every env_file target of `services` (empty content for secret files) and returns the
 * targets (repo-relative) per kind, as coffre resolved them.
 */
function plantMarkers(repo: RepoModel, services: string[]): { envFiles: string[]; secretFiles: string[] } {
  const envFiles: string[] = [];
  const secretFiles: string[] = [];
  let index = 0;
  for (const file of repo.services.filter((s) => services.includes(s.name)).flatMap((s) => s.secretFiles)) {
    if (file.projectEnv) continue;
    mkdirSync(path.dirname(file.target), { recursive: true });
    if (file.format === 'secret') {
      secretFiles.push(file.targetRel);
      writeFileSync(file.target, 'x');
    } else {
      envFiles.push(file.targetRel);
      writeFileSync(file.target, `COFFRE_MARKER_${index++}=${file.targetRel}\n`);
    }
  }
  return { envFiles: envFiles.sort(), secretFiles: secretFiles.sort() };
}

/** The env_file targets compose read (from the markers) and its secret files, repo-relative. */
function composeTargets(root: string, model: Model): { envFiles: string[]; secretFiles: string[] } {
  const envFiles = new Set<string>();
  for (const service of Object.values<Model>(model.services ?? {})) {
    for (const [key, value] of Object.entries<string>(service.environment ?? {})) if (key.startsWith('COFFRE_MARKER_')) envFiles.add(value);
  }
  const secretFiles = Object.values<Model>(model.secrets ?? {}).map((secret) => path.relative(root, secret.file).split(path.sep).join('/'));
  return { envFiles: [...envFiles].sort(), secretFiles: [...new Set(secretFiles)].sort() };
}

async function assertSameTargets(t: Test, root: string, repo: RepoModel, services: string[], cwd: string, args: string[] = []): Promise<void> {
  const errors = repo.problems.filter((p) => p.severity === 'error' && p.code !== 'COFFRE_EXAMPLE_MISSING');
  t.same(errors, [], 'discovery found no error');
  const planted = plantMarkers(repo, services);
  t.ok(planted.envFiles.length + planted.secretFiles.length > 0, 'the fixture has targets');
  const model = await composeConfig(cwd, args);
  t.same(composeTargets(root, model), planted, `compose reads exactly coffre's targets (${[...planted.envFiles, ...planted.secretFiles].join(', ')})`);
}

const IMAGE = '    image: x\n';

t.test('a service folder run on its own: relative, override, extends (file and service), ${VAR:-default} from its .env, secrets', async (t) => {
  const root = t.testdir({
    common: { 'base.yml': `services:\n  base:\n${IMAGE}    env_file: ./shared.env\n` },
    app: {
      'docker-compose.yml': `services:
  web:
${IMAGE}    env_file:
      - ./secrets/web.env
      - path: \${CONF_DIR:-conf}/opt.env
        required: false
      - \${DATA}/data.env
  worker:
    extends:
      file: ../common/base.yml
      service: base
  proto:
    extends: web
    secrets: [db_password]
secrets:
  db_password:
    file: ./secrets/db_password.txt
`,
      'docker-compose.override.yml': `services:\n  web:\n    env_file: ./override.env\n`,
      '.env': 'DATA=./var\nCONF_DIR=cfg\n',
    },
  });
  const repo = await discover(root);
  await assertSameTargets(t, root, repo, ['app'], path.join(root, 'app'));
  const app = repo.services.find((s) => s.name === 'app')!;
  t.same(app.secretFiles.map((f) => f.targetRel).sort(), ['app/cfg/opt.env', 'app/override.env', 'app/secrets/db_password.txt', 'app/secrets/web.env', 'app/var/data.env', 'common/shared.env']);
});

t.test('COMPOSE_FILE in the root .env: every file resolves from the first file\'s folder, ${VAR} from the root .env then that folder\'s', async (t) => {
  const root = t.testdir({
    '.env': 'COMPOSE_FILE=a/docker-compose.yml:b/docker-compose.yml\nROOT_DIR=from-root\nBOTH=root-wins\n',
    a: {
      'docker-compose.yml': `services:\n  web:\n${IMAGE}    env_file: [./secrets/a.env, "\${ROOT_DIR}/r.env", "\${A_DIR}/x.env", "\${BOTH}/both.env"]\n`,
      '.env': 'A_DIR=from-a\nBOTH=a-loses\n',
    },
    b: {
      'docker-compose.yml': `services:\n  db:\n${IMAGE}    env_file: ./b.env\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n`,
    },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.name), ['a', 'b']);
  await assertSameTargets(t, root, repo, ['a', 'b'], root);
  t.same(repo.services.flatMap((s) => s.secretFiles.map((f) => f.targetRel)).sort(), ['a/b.env', 'a/root-wins/both.env', 'a/from-a/x.env', 'a/from-root/r.env', 'a/pw.txt', 'a/secrets/a.env'].sort(), 'b\'s relative paths resolve from a/');
});

t.test('COMPOSE_FILE with COMPOSE_PATH_SEPARATOR, read from .env.example when .env is absent', async (t) => {
  const root = t.testdir({
    '.env.example': 'COMPOSE_PATH_SEPARATOR=;\nCOMPOSE_FILE=docker-compose.yml;sub/extra.yml\n',
    'docker-compose.yml': `services:\n  web:\n${IMAGE}    env_file: ./web.env\n`,
    'docker-compose.override.yml': `services:\n  web:\n    env_file: ./never-read.env\n`,
    sub: { 'extra.yml': `services:\n  other:\n${IMAGE}    env_file: ./sub/other.env\n` },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.name), ['.', 'sub']);
  // compose reads .env only: the admin's copy of the example.
  writeFileSync(path.join(root, '.env'), 'COMPOSE_PATH_SEPARATOR=;\nCOMPOSE_FILE=docker-compose.yml;sub/extra.yml\n');
  await assertSameTargets(t, root, repo, ['.', 'sub'], root);
  t.notOk(repo.services.flatMap((s) => s.secretFiles).some((f) => f.targetRel === 'never-read.env'), 'no override file with COMPOSE_FILE');
});

t.test('compose.projects in coffre.yaml: -f list, --project-directory and --env-file', async (t) => {
  const root = t.testdir({
    'coffre.yaml': 'compose:\n  projects:\n    - files: [stack/base.yml, stack/prod/prod.yml]\n      projectDirectory: .\n      envFile: config/prod.env\n',
    config: { 'prod.env': 'TIER=prod\n' },
    stack: {
      'base.yml': `services:\n  web:\n${IMAGE}    env_file: ./env/\${TIER}/web.env\n`,
      prod: { 'prod.yml': `services:\n  web:\n    env_file: ./env/extra.env\n    secrets: [key]\nsecrets:\n  key:\n    file: ./keys/\${TIER}.key\n` },
    },
  });
  const config = parseConfig(await import('node:fs/promises').then((fs) => fs.readFile(path.join(root, 'coffre.yaml'), 'utf8')), 'coffre.yaml');
  const repo = await discover(root, config);
  t.same(repo.services.map((s) => s.name), ['stack', 'stack/prod']);
  await assertSameTargets(t, root, repo, ['stack', 'stack/prod'], root, ['-f', 'stack/base.yml', '-f', 'stack/prod/prod.yml', '--project-directory', '.', '--env-file', 'config/prod.env']);
  t.same(repo.services.flatMap((s) => s.secretFiles.map((f) => f.targetRel)).sort(), ['env/extra.env', 'env/prod/web.env', 'keys/prod.key']);
});

t.test('".." that stays inside the repo resolves where compose reads it', async (t) => {
  const root = t.testdir({
    shared: { 'n8n.env.example': 'K=\n' },
    apps: { n8n: { 'docker-compose.yml': `services:\n  n8n:\n${IMAGE}    env_file: ../../shared/n8n.env\n` } },
  });
  const repo = await discover(root);
  t.same(repo.problems, []);
  await assertSameTargets(t, root, repo, ['apps/n8n'], path.join(root, 'apps', 'n8n'));
});

t.test('discovery.composeFiles globs find the file compose is run with', async (t) => {
  const root = t.testdir({
    'coffre.yaml': 'discovery:\n  composeFiles: ["docker-compose*.yml"]\n',
    svc: { 'docker-compose.prod.yml': `services:\n  a:\n${IMAGE}    env_file: ./prod.env\n` },
  });
  const config = parseConfig('discovery:\n  composeFiles: ["docker-compose*.yml"]\n', 'coffre.yaml');
  const repo = await discover(root, config);
  t.same(repo.services.map((s) => [s.name, s.composeFileRel]), [['svc', 'svc/docker-compose.prod.yml']]);
  await assertSameTargets(t, root, repo, ['svc'], path.join(root, 'svc'), ['-f', 'docker-compose.prod.yml']);
});

t.test('include: files resolve from their own folder, with the including project\'s variables first, then the include\'s env_file', async (t) => {
  const root = t.testdir({
    p: {
      'docker-compose.yml': `include:\n  - ../inc/stack.yml\n  - path: ../inc2/stack.yml\n    env_file: ../inc2/custom.env\nservices:\n  main:\n${IMAGE}    env_file: ./main.env\n`,
      '.env': 'V=parent\n',
    },
    inc: {
      'stack.yml': `services:\n  i:\n${IMAGE}    env_file: [./x.env, "\${V}/y.env", "\${W:-w}/z.env"]\n    secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n`,
      '.env': 'V=inc\nW=incw\n',
      nested: { 'more.yml': `services:\n  k:\n${IMAGE}    env_file: ./k.env\n` },
    },
    inc2: {
      'stack.yml': `include: [nested.yml]\nservices:\n  j:\n${IMAGE}    env_file: [./x2.env, "\${W2:-none}/w2.env"]\n`,
      'nested.yml': `services:\n  n:\n${IMAGE}    env_file: ./n.env\n`,
      'custom.env': 'W2=fromcustom\n',
      '.env': 'W2=not-read\n',
    },
  });
  const repo = await discover(root);
  await assertSameTargets(t, root, repo, ['p'], path.join(root, 'p'));
  t.same(repo.services.find((s) => s.name === 'p')!.secretFiles.map((f) => f.targetRel).sort(), ['inc/incw/z.env', 'inc/parent/y.env', 'inc/s.txt', 'inc/x.env', 'inc2/fromcustom/w2.env', 'inc2/n.env', 'inc2/x2.env', 'p/main.env']);
});

t.test('COMPOSE_FILE in a service folder\'s own .env: its files, no override file, paths from the first file\'s folder', async (t) => {
  const root = t.testdir({
    app: {
      '.env': 'COMPOSE_FILE=docker-compose.yml:../shared/prod.yml\nTIER=prod\n',
      'docker-compose.yml': `services:\n  web:\n${IMAGE}    env_file: ./web.env\n`,
      'docker-compose.override.yml': `services:\n  web:\n    env_file: ./dev-only.env\n`,
    },
    shared: { 'prod.yml': `services:\n  web:\n    env_file: ./\${TIER}.env\n` },
  });
  const repo = await discover(root);
  t.same(repo.services.map((s) => s.name), ['app']);
  await assertSameTargets(t, root, repo, ['app'], path.join(root, 'app'));
  t.same(repo.services[0]!.secretFiles.map((f) => f.targetRel), ['app/web.env', 'app/prod.env']);
});
