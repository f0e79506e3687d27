// The deployment files: the Dockerfile and the systemd unit (docker-compose.yml: test/deploy/compose.test.ts,
// read by the real docker compose).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { projectRoot } from '../support/tools.js';

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
  t.match(text, /^CMD \["serve", "-C", "\/repo"\]$/m, 'the repo is named with -C');
  t.match(text, /^ {4}COFFRE_TOKENS_FILE=\/run\/secrets\/coffre-tokens$/m, 'the tokens file is a mounted secret');
  t.match(text, /CMD \["node", "\/app\/bin\/healthcheck\.js"\]/, 'the healthcheck follows COFFRE_LISTEN and TLS');
  t.notMatch(text, /^ENV[^\n]*(BAO|VAULT)_TOKEN=/m, 'no token in the image environment');
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
