// What coffre serve reuses between requests, and what it no longer waits for: dry runs are not queued behind
// the renders of their service; the config, the repo model (discovery cache) and the example files are still
// what is on disk at each request (edits between two requests are seen by the second), and sources are read
// at every request.
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/repo/config.js';
import { createDiscoveryCache } from '../../src/repo/discovery-cache.js';
import { createExampleCache } from '../../src/repo/example-cache.js';
import { runRender } from '../../src/use-cases/render.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { bearer, makeHttpFixture } from './http-fixture.js';

const fixture = await makeHttpFixture(t);

t.test('a dry run is not queued behind a render of its service, and dry runs of one service run side by side', async (t) => {
  const events: string[] = [];
  let running = 0;
  let maxParallel = 0;
  const app = fixture.app({
    useCases: {
      runRender: async (context, options) => {
        const kind = options.dryRun ? 'dry' : 'real';
        running += 1;
        maxParallel = Math.max(maxParallel, running);
        events.push(`start ${kind}`);
        // The real render is held long enough for the dry runs to arrive meanwhile.
        await new Promise((resolve) => setTimeout(resolve, kind === 'real' ? 300 : 50));
        // Planned only, so the fixture stays unwritten (the HTTP layer still saw a real render).
        const report = await runRender(context, { ...options, dryRun: true });
        events.push(`end ${kind}`);
        running -= 1;
        return report;
      },
    },
  });
  t.teardown(() => app.close());
  const render = (dryRun: boolean) => app.inject({ method: 'POST', url: '/v1/services/chat/render', headers: bearer(fixture.tokens.admin), payload: dryRun ? { dryRun: true } : {} });
  const real = render(false);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const dry = await Promise.all([render(true), render(true)]);
  t.same(dry.map((a) => a.statusCode), [200, 200]);
  t.same(dry.map((a) => (JSON.parse(a.body) as { dryRun: boolean }).dryRun), [true, true]);
  t.equal((await real).statusCode, 200);
  t.ok(events.indexOf('end dry') < events.indexOf('end real'), `the dry runs ended while the render of chat was running (${events.join(', ')})`);
  t.equal(maxParallel, 3, 'the render and both dry runs of chat ran at once');

  // Real renders of one service are still one at a time.
  events.length = 0;
  maxParallel = 0;
  const answers = await Promise.all([render(false), render(false)]);
  t.same(answers.map((a) => a.statusCode), [200, 200]);
  t.same(events, ['start real', 'end real', 'start real', 'end real'], 'the second render starts after the first ended');
});

t.test('the parsed config is reused only for the same text: an edit is seen by the next load, a broken file refused each time', async (t) => {
  const root = t.testdir({ 'coffre.yaml': 'version: 1\nvault:\n  prefix: one\n' });
  const first = await loadConfig(root);
  t.equal(first.config.vault.prefix, 'one');
  const again = await loadConfig(root);
  t.equal(again.config, first.config, 'the same text: the parsed config is reused, not parsed again');
  t.ok(Object.isFrozen(first.config) && Object.isFrozen(first.config.vault) && Object.isFrozen(first.config.discovery.exclude), 'shared, so deeply frozen');
  t.throws(() => {
    (first.config.vault as { prefix: string }).prefix = 'changed';
  }, TypeError, 'no caller can change what the next request gets');

  // Same size, same second: only the text tells them apart.
  await writeFile(path.join(root, 'coffre.yaml'), 'version: 1\nvault:\n  prefix: two\n');
  t.equal((await loadConfig(root)).config.vault.prefix, 'two', 'an edit is seen at once');
  await writeFile(path.join(root, 'coffre.yaml'), 'version: 1\nvault:\n  prefix: [\n');
  await t.rejects(loadConfig(root), { code: 'COFFRE_CONFIG_INVALID' });
  await t.rejects(loadConfig(root), { code: 'COFFRE_CONFIG_INVALID' }, 'and refused again: a failure is not remembered');
  await writeFile(path.join(root, 'coffre.yaml'), 'version: 1\nvault:\n  prefix: one\n');
  const back = await loadConfig(root);
  t.equal(back.config.vault.prefix, 'one');
  await writeFile(path.join(root, '.coffre.yaml'), 'version: 1\n');
  await t.rejects(loadConfig(root), { code: 'COFFRE_CONFIG_INVALID' }, 'a second config file appearing is still refused');
});

t.test('as in coffre serve (shared discovery and example caches): edits of an example, a compose file and coffre.yaml are seen by the next request', async (t) => {
  const dir = fixture.dir;
  // Everything on disk is older than the racy window, so that the cache does reuse the model between requests.
  let clock = Date.now() + 10_000;
  const discoveryCache = createDiscoveryCache(() => clock);
  const exampleCache = createExampleCache(() => clock);
  const app = fixture.app({
    openWorkspace: (scope) => openWorkspace({ root: dir, env: fixture.env, discoveryCache, exampleCache, ...(scope?.services ? { services: scope.services } : {}) }),
  });
  t.teardown(() => app.close());
  const check = async () => {
    const answer = await app.inject({ method: 'GET', url: '/v1/services/wiki/check', headers: bearer(fixture.tokens.check) });
    t.equal(answer.statusCode, 200);
    const report = JSON.parse(answer.body) as { services: Array<{ files: Array<{ target: string; keys: Array<{ name: string; status: string }> }> }>; problems: Array<{ code: string }> };
    return report;
  };
  const keysOf = (report: Awaited<ReturnType<typeof check>>) => Object.fromEntries((report.services[0]?.files ?? []).flatMap((f) => f.keys.map((k) => [k.name, k.status])));
  const original = {
    example: 'WIKI_KEY=\nWIKI_MISSING=\n',
    compose: 'services:\n  wiki:\n    image: wiki\n    env_file: ./secrets/wiki.secrets\n',
    config: (await import('node:fs')).readFileSync(path.join(dir, 'coffre.yaml'), 'utf8'),
  };
  t.teardown(async () => {
    await writeFile(path.join(dir, 'wiki', 'secrets', 'wiki.secrets.example'), original.example);
    await writeFile(path.join(dir, 'wiki', 'docker-compose.yml'), original.compose);
    await writeFile(path.join(dir, 'coffre.yaml'), original.config);
  });
  t.same(keysOf(await check()), { WIKI_KEY: 'ok', WIKI_MISSING: 'missing' });
  t.same(keysOf(await check()), { WIKI_KEY: 'ok', WIKI_MISSING: 'missing' }, 'a second request, from the reused model');

  const example = path.join(dir, 'wiki', 'secrets', 'wiki.secrets.example');
  await writeFile(example, 'WIKI_KEY=\nWIKI_NEW=\n');
  clock = Date.now() + 10_000;
  t.same(keysOf(await check()), { WIKI_KEY: 'ok', WIKI_NEW: 'missing' }, 'an edited example: the next request sees it');

  // The same size and an old timestamp put back: the inode change time still differs.
  await writeFile(example, 'WIKI_KEY=\nWIKI_OLD=\n');
  const old = new Date(Date.now() - 60_000);
  await utimes(example, old, old);
  clock = Date.now() + 10_000;
  t.same(keysOf(await check()), { WIKI_KEY: 'ok', WIKI_OLD: 'missing' }, 'an edit with its mtime set back is seen too');

  await writeFile(path.join(dir, 'wiki', 'secrets', 'extra.secrets.example'), 'EXTRA_KEY=\n');
  await writeFile(path.join(dir, 'wiki', 'docker-compose.yml'), 'services:\n  wiki:\n    image: wiki\n    env_file: [./secrets/wiki.secrets, ./secrets/extra.secrets]\n');
  clock = Date.now() + 10_000;
  const twoFiles = await check();
  t.same(twoFiles.services[0]?.files.map((f) => f.target), ['wiki/secrets/wiki.secrets', 'wiki/secrets/extra.secrets'], 'an edited compose file: the next request sees its new env_file');

  await writeFile(path.join(dir, 'coffre.yaml'), `${original.config}files:\n  wiki/secrets/extra.secrets:\n    skip: true\n`);
  clock = Date.now() + 10_000;
  t.same((await check()).services[0]?.files.map((f) => f.target), ['wiki/secrets/wiki.secrets'], 'an edited coffre.yaml: the next request follows it');

  // Values are read at every request: a new value in OpenBao shows in the very next check.
  const put = await fixture.bao.vaultHttp('POST', `secret/data/${fixture.bao.prefix}/wiki/wiki`, { data: { WIKI_KEY: 'k', WIKI_OLD: 'now-set' } });
  t.equal(put.status, 200);
  t.same(keysOf(await check()), { WIKI_KEY: 'ok', WIKI_OLD: 'ok' }, 'the source is read again, never remembered');
});
