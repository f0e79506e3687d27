// Memory of a large discovery (issue 12, goal 4): services are read a bounded number at a time, not all
// thousands at once (each held its half-read state through every young-generation collection), and the model
// is the same, in the same order.
import t from 'tap';
import { defaultConfig } from '../../src/repo/config.js';
import { discoverRepo } from '../../src/repo/discover.js';
import { diskFiles, type RepoFiles } from '../../src/repo/repo-files.js';

t.test('at most 32 services are read at once; every service is found, in order', async (t) => {
  const tree: Record<string, Record<string, string>> = {};
  const names = Array.from({ length: 100 }, (_, i) => `svc${String(i).padStart(3, '0')}`);
  for (const name of names) tree[name] = { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: app.secrets\n', 'app.secrets.example': 'PASS=\n' };
  const root = t.testdir(tree);
  let reading = 0;
  let most = 0;
  const files: RepoFiles = {
    ...diskFiles,
    async readText(file, maxBytes) {
      if (!file.endsWith('docker-compose.yml')) return diskFiles.readText(file, maxBytes);
      reading++;
      most = Math.max(most, reading);
      try {
        // Slow enough for every service started to be reading at once.
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await diskFiles.readText(file, maxBytes);
      } finally {
        reading--;
      }
    },
  };
  const repo = await discoverRepo({ root, config: defaultConfig(), vaultEnabled: true, files });
  t.same(repo.services.map((s) => s.name), names);
  t.same(repo.services.map((s) => s.secretFiles.map((f) => f.targetRel)), names.map((name) => [`${name}/app.secrets`]));
  t.ok(most <= 32, `at most 32 compose files read at once (saw ${most})`);
  t.ok(most > 1, 'still side by side');
});
