// The discovery cache gives what a fresh discovery gives: it reuses a model only while every file and
// folder discovery read is unchanged, and never trusts inputs modified within the racy window.
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../src/repo/config.js';
import { discoverRepo } from '../../src/repo/discover.js';
import { createDiscoveryCache } from '../../src/repo/discovery-cache.js';

const tree = {
  chat: {
    'docker-compose.yml': 'services:\n  app:\n    image: chat\n    env_file: ./secrets/app.secrets\n',
    secrets: { 'app.secrets.example': 'TOKEN=\n' },
  },
};

t.test('reuses the model while nothing changed, and re-discovers after each kind of change', async (t) => {
  const root = t.testdir(tree);
  const options = { root, config: defaultConfig(), vaultEnabled: true, services: ['chat'] };
  let clock = Date.now() + 10_000; // everything on disk is older than the racy window
  const cache = createDiscoveryCache(() => clock);
  const first = await cache.discover(options);
  t.equal(await cache.discover(options), first, 'unchanged inputs: the same model');
  t.same(first, await discoverRepo(options), 'and it equals a fresh discovery');
  t.equal(first.services[0]?.secretFiles[0]?.source?.kind, 'vault');

  await writeFile(path.join(root, 'chat', 'secrets', 'app.secrets.sops.yaml'), 'placeholder\n');
  clock = Date.now() + 10_000;
  const withSops = await cache.discover(options);
  t.not(withSops, first, 'a new file beside the target invalidates');
  t.equal(withSops.services[0]?.secretFiles[0]?.source?.kind, 'sops');

  await writeFile(path.join(root, 'chat', 'docker-compose.yml'), 'services:\n  app:\n    image: chat\n    env_file: [./secrets/app.secrets, ./secrets/db.secrets]\n');
  clock = Date.now() + 10_000;
  const edited = await cache.discover(options);
  t.equal(edited.services[0]?.secretFiles.length, 2, 'an edited compose file invalidates');

  await rm(path.join(root, 'chat', 'secrets', 'app.secrets.example'));
  clock = Date.now() + 10_000;
  const noExample = await cache.discover(options);
  t.equal(noExample.services[0]?.secretFiles[0]?.example, null, 'a removed example invalidates');
});

t.test('inputs changed within the racy window are not cached', async (t) => {
  const root = t.testdir(tree);
  const options = { root, config: defaultConfig(), vaultEnabled: true };
  const cache = createDiscoveryCache(() => Date.now());
  const first = await cache.discover(options);
  t.not(await cache.discover(options), first, 'freshly written files: discovered again');
});
