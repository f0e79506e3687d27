// The discovery cache gives what a fresh discovery gives: it reuses a model only while every file and
// folder discovery read is unchanged, and never trusts inputs modified within the racy window.
import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { defaultConfig, parseConfig } from '../../src/repo/config.js';
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

t.test('a frozen config is keyed by identity: the same object reuses, another frozen one re-discovers', async (t) => {
  const root = t.testdir(tree);
  const cache = createDiscoveryCache(() => Date.now() + 10_000);
  const vaultConfig = Object.freeze(defaultConfig());
  const first = await cache.discover({ root, config: vaultConfig, vaultEnabled: true });
  t.equal(await cache.discover({ root, config: vaultConfig, vaultEnabled: true }), first, 'the same frozen config: the same model');
  // Another coffre.yaml text gives another frozen object: a model built under the first must not answer it.
  const skipping = Object.freeze(parseConfig('files:\n  chat/secrets/app.secrets: { skip: true }\n', 'coffre.yaml'));
  const other = await cache.discover({ root, config: skipping, vaultEnabled: true });
  t.not(other, first, 'another frozen config: discovered again');
  t.equal(other.services[0]?.secretFiles.length, 0, 'with the file skipped');
  t.equal(first.services[0]?.secretFiles.length, 1);
  t.same(other, await discoverRepo({ root, config: skipping, vaultEnabled: true }), 'and as a fresh discovery with it');
  // An unfrozen config may change under the cache: keyed by its content, so equal content still reuses.
  const open = defaultConfig();
  const opened = await cache.discover({ root, config: open, vaultEnabled: true });
  t.equal(await cache.discover({ root, config: defaultConfig(), vaultEnabled: true }), opened, 'unfrozen configs of the same content share a model');
});

t.test('a compose file that is a link: an edit of the file behind it re-discovers', async (t) => {
  const root = t.testdir({
    shared: { 'compose.yml': 'services:\n  app:\n    image: chat\n    env_file: ./secrets/app.secrets\n' },
    chat: { secrets: { 'app.secrets.example': 'TOKEN=\n', 'db.secrets.example': 'PASSWORD=\n' } },
  });
  await symlink('../shared/compose.yml', path.join(root, 'chat', 'docker-compose.yml'));
  const options = { root, config: defaultConfig(), vaultEnabled: true, services: ['chat'] };
  let clock = Date.now() + 10_000;
  const cache = createDiscoveryCache(() => clock);
  const first = await cache.discover(options);
  t.equal(first.services[0]?.secretFiles.length, 1, 'discovery follows the link');
  t.equal(await cache.discover(options), first, 'unchanged: reused');
  await writeFile(path.join(root, 'shared', 'compose.yml'), 'services:\n  app:\n    image: chat\n    env_file: [./secrets/app.secrets, ./secrets/db.secrets]\n');
  clock = Date.now() + 10_000;
  const edited = await cache.discover(options);
  t.equal(edited.services[0]?.secretFiles.length, 2, 'the file behind the link was edited: discovered again');
  t.same(edited, await discoverRepo(options), 'as a fresh discovery');
});
