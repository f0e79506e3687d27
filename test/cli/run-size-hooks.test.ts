// bin/coffre.js tunes V8 for short runs and for sops files, and lifts both settings for a run discovery shows
// needs neither (see its comments). The workspace tells it what discovery found, through two hooks; this pins
// what it tells: the service folders found (before they are read), then the secret files and how many are sops;
// and that coffre serve, a long run, tells it so once started (and not before its start-up work).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { startServeProcess } from '../support/serve-process.js';
import { projectRoot } from '../support/tools.js';
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

t.test('coffre serve tells the executable it is a long run: after its start-up discovery, before it listens', async (t) => {
  const dir = t.testdir({});
  // Preloaded into the real process: wraps bin/coffre.js's hooks, once it has defined them, to log each call.
  const spy = path.join(dir, 'spy.mjs');
  writeFileSync(
    spy,
    `const names = ['servicesFound', 'discovered', 'longRun'];
const wrap = () => {
  if (!names.every((name) => typeof globalThis[Symbol.for('coffre.' + name)] === 'function')) return setImmediate(wrap);
  for (const name of names) {
    const original = globalThis[Symbol.for('coffre.' + name)];
    globalThis[Symbol.for('coffre.' + name)] = (facts) => {
      process.stderr.write('HOOK ' + name + '\\n');
      return original(facts);
    };
  }
};
wrap();
`,
  );
  const serve = await startServeProcess(t, ['-C', path.join(projectRoot, 'examples', 'infra'), '--insecure-no-auth', '--listen', '127.0.0.1:0'], {}, ['--import', pathToFileURL(spy).href]);
  // Written before it listens, but on stderr: its pipe may be read after stdout's listening line.
  for (let waited = 0; !serve.output().stderr.includes('HOOK longRun') && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  const calls = serve.output().stderr.split('\n').filter((line) => line.startsWith('HOOK ')).map((line) => line.slice(5));
  t.same(calls, ['servicesFound', 'discovered', 'longRun'], 'the start-up discovery first, then the long run, once');
  await serve.stop();
});
