// The corpus of real self-hosting repos (test/corpus/<slug>/, pinned upstream commits, see each corpus.json)
// against the real Docker Compose v2: for every compose project of every repo, the targets coffre resolves
// are exactly the files compose reads (env_file, secrets `file:`, and the project .env when the compose file
// interpolates variables and the repo commits its example), each with the example the repo intends, and
// coffre raises no error compose would not. Then, rendered from sops stores made by the real sops binary,
// every rendered key reads back through compose byte for byte. Mismatches are listed one per line: repo,
// compose project:service, what compose reads vs what coffre does.
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readExample } from '../../src/repo/read-example.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { runRender } from '../../src/use-cases/render.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../support/sops.js';
import { composeBinary } from '../support/compose.js';
import { coffreView, compareRepo, composeTargets, listCorpusRepos, renderCheck, type Mismatch } from './corpus-oracle.js';

const repos = listCorpusRepos();

function lines(mismatches: Mismatch[]): string[] {
  return mismatches.map((m) => `${m.where}: compose ${m.compose} | coffre ${m.coffre}`);
}

t.test('the pinned docker compose binary is installed', async (t) => {
  try {
    accessSync(composeBinary, constants.X_OK);
  } catch {
    t.fail(`docker compose is missing at ${composeBinary}: run \`npm run tools\` (scripts/install-tools.sh)`);
  }
});

t.test('the corpus has at least 8 repos, each pinned by commit with its licence noted and no real env file', async (t) => {
  t.ok(repos.length >= 8, `${repos.length} corpus repos`);
  for (const repo of repos) {
    t.match(repo.manifest.commit, /^[0-9a-f]{40}$/, `${repo.slug}: pinned commit`);
    t.match(repo.manifest.upstream, /^https:\/\/github\.com\/[^/]+\/[^/]+$/, `${repo.slug}: upstream`);
    t.ok(repo.manifest.licence.length > 0, `${repo.slug}: licence noted`);
    const realFiles = [...Object.keys(repo.manifest.examples), ...Object.keys(repo.manifest.noExample ?? {})].filter((target) => !path.isAbsolute(target) && existsSync(path.join(repo.dir, target)));
    t.same(realFiles, [], `${repo.slug}: no target exists in the corpus (only examples)`);
  }
});

let ageKey: TestAgeKey | null = null;

for (const repo of repos) {
  t.test(repo.slug, async (t) => {
    const [compose, coffre] = await Promise.all([composeTargets(repo), coffreView(repo)]);
    const comparison = compareRepo(repo, compose, coffre);
    const byKind = (kind: Mismatch['kind']) => lines(comparison.mismatches.filter((m) => m.kind === kind));

    t.same(byKind('compose-failure'), [], 'compose (the oracle) answers for every project');
    t.ok(compose.targets.length > 0, `compose reads ${comparison.composeTargets} secret-bearing files`);
    t.same(byKind('missing-target'), [], 'every file compose reads is a coffre target');
    t.same(byKind('extra-target'), [], 'coffre has no target compose does not read');
    t.same(byKind('wrong-example'), [], 'each target has the example the repo intends');
    t.same(byKind('false-error'), [], 'no error compose would not raise');

    ageKey ??= await newAgeKey();
    const key = ageKey;
    const render = await renderCheck(repo, coffre, compose, {
      makeStore: (file, plaintext) => writeSopsFile(file, plaintext, key),
      readExampleKeys: async (file) => (await readExample(file, file)).keys.map((k) => ({ name: k.name, value: k.exampleValue })),
      render: async (root) => {
        const workspace = await openWorkspace({ root, env: { SOPS_AGE_KEY: key.identity } });
        try {
          const names = workspace.repo.services.filter((s) => s.secretFiles.length > 0).map((s) => s.name);
          if (names.length === 0) return [];
          return (await runRender(workspace, { services: names })).services;
        } finally {
          workspace.close();
        }
      },
    });
    for (const skipped of render.invalidUpstream) t.comment(`not compared: compose refuses ${skipped.project} as the repo ships it (${skipped.message})`);
    t.same(render.mismatches.map((m) => `${m.where}: ${m.problem}`), [], `rendered files read back through compose byte for byte (${render.rendered.length} files, ${render.keysCompared} keys compared)`);
  });
}
