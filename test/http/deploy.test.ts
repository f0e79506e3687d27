// The Dockerfile (docker-compose.yml: test/deploy/compose.test.ts, read by the real docker compose; the
// systemd unit: test/deploy/systemd.test.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { projectRoot } from '../support/tools.js';

t.test('Dockerfile: a supported Node LTS pinned by version, multi-stage, npm ci, build, prune dev deps, non-root, ENTRYPOINT coffre', async (t) => {
  const text = await readFile(path.join(projectRoot, 'Dockerfile'), 'utf8');
  const stages = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1] as string);
  t.equal(stages.length, 2);
  t.equal(new Set(stages).size, 1, 'build and runtime on the same image');
  const match = /^node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim$/.exec(stages[0] as string);
  t.ok(match, `pinned to an exact version and Debian release: ${stages[0]}`);
  // Node 20 reached end of life in April 2026; 22 and 24 are LTS lines (even majors from 22 up).
  const major = Number(match?.[1]);
  t.ok(major >= 22 && major % 2 === 0, `an LTS line still supported (got ${major})`);
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  t.ok(readme.includes(`\`${stages[0]}\``), 'the README names the image\'s Node');
  t.match(text, /^RUN npm ci /m);
  t.match(text, /npx tsc -p tsconfig\.json/);
  t.match(text, /npm prune --omit=dev/);
  t.match(text, /npx tsc -p tsconfig\.json && node scripts\/bundle\.mjs/, 'the start-up bundle is built');
  t.match(text, /^COPY --from=build \/app\/dist\/cli \.\/dist\/cli$/m, 'and shipped');
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
