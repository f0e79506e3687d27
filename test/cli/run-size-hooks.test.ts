// bin/coffre.js tunes V8 for short runs and for sops files, and lifts both settings for a run discovery shows
// needs neither (see its comments). The workspace tells it what discovery found, through two hooks; this pins
// what it tells: the service folders found (before they are read), then the secret files and how many are sops.
import t from 'tap';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

t.test('opening a workspace tells the executable how many services, secret files and sops files it found', async (t) => {
  const key = await newAgeKey();
  const compose = (files: string[]): string => `services:\n  app:\n    image: app\n    env_file:\n${files.map((f) => `      - ./${f}\n`).join('')}`;
  const root = t.testdir({
    '.gitignore': '*.secrets\n',
    'coffre.yaml': 'version: 1\n',
    a: { 'docker-compose.yml': compose(['one.secrets', 'two.secrets']), 'one.secrets.example': 'K=\n', 'two.secrets.example': 'K=\n' },
    b: { 'docker-compose.yml': compose(['three.secrets']), 'three.secrets.example': 'K=\n' },
    c: { 'docker-compose.yml': compose(['four.secrets']), 'four.secrets.example': 'K=\n' },
  });
  await writeSopsFile(`${root}/a/one.secrets.sops.yaml`, 'K: v\n', key);
  await writeSopsFile(`${root}/b/three.secrets.sops.yaml`, 'K: v\n', key);
  const told: Array<[string, unknown]> = [];
  const hooks = ['servicesFound', 'discovered'].map((name) => Symbol.for(`coffre.${name}`));
  const global = globalThis as Record<symbol, unknown>;
  for (const hook of hooks) global[hook] = (facts: unknown) => told.push([hook.description ?? '', facts]);
  t.teardown(() => {
    for (const hook of hooks) delete global[hook];
  });
  const workspace = await openWorkspace({ root, env: { SOPS_AGE_KEY: key.identity } });
  workspace.close();
  t.same(told, [
    ['coffre.servicesFound', { services: 3 }],
    ['coffre.discovered', { secretFiles: 4, sopsFiles: 2 }],
  ]);
});
