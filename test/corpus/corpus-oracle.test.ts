// The corpus oracle itself, on a small literal repo: it reports exactly the files the real compose reads
// (env_file with `..` and `${VAR:-default}`, secrets `file:`, an override file with a profiled service, the project .env of an
// interpolating project with an example), and its read-back check catches a file whose bytes compose reads
// differently from the store (so a green corpus test means something).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { coffreView, composeTargets, renderCheck, storeValue, type CorpusRepo } from './corpus-oracle.js';

const composeFile = `services:
  app:
    image: alpine
    env_file:
      - app.env
      - path: \${SHARED_DIR:-../shared}/common.env
        required: false
    environment:
      PASSWORD: \${DB_PASSWORD}
    secrets: [db]
secrets:
  db:
    file: ./secrets/db.txt
`;

function repoAt(dir: string): CorpusRepo {
  return {
    slug: 'literal',
    dir,
    manifest: { upstream: 'https://github.com/example/literal', commit: '0'.repeat(40), licence: 'test', kept: 'all', examples: { 'svc/app.env': 'svc/app.env.example', 'svc/.env': 'svc/.env.example' } },
  };
}

t.test('reports every file compose reads, resolved as compose resolves it', async (t) => {
  const dir = t.testdir({
    svc: {
      'docker-compose.yml': composeFile,
      'docker-compose.override.yml': 'services:\n  worker:\n    image: alpine\n    profiles: [jobs]\n    env_file: [worker.env]\n',
      'app.env.example': 'API_KEY=\n',
      '.env.example': 'DB_PASSWORD=\n',
    },
    shared: {},
  });
  const compose = await composeTargets(repoAt(dir));
  t.same(compose.failures, []);
  const got = compose.targets.map((target) => `${target.kind} ${target.composeService} ${target.path} ${target.required}`).sort();
  t.same(got, ['env_file app shared/common.env false', 'env_file app svc/app.env true', 'env_file worker svc/worker.env true', 'interpolation * svc/.env false', 'secret app svc/secrets/db.txt true']);
});

t.test('the read-back check passes a faithful render and names the key of an unfaithful one', async (t) => {
  const dir = t.testdir({ svc: { 'docker-compose.yml': 'services:\n  app:\n    image: alpine\n    env_file: [app.env]\n', 'app.env.example': 'API_KEY=\nTOKEN=\n' } });
  const repo = repoAt(dir);
  repo.manifest.examples = { 'svc/app.env': 'svc/app.env.example' };
  const [compose, coffre] = await Promise.all([composeTargets(repo), coffreView(repo)]);
  // compose's double-quoted syntax; `escapeDollar: false` is the classic bug (compose then expands `$HOME`).
  const quote = (value: string, escapeDollar = true) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, escapeDollar ? '\\$' : '$').replace(/\n/g, '\\n')}"`;
  const run = (corrupt: boolean) => {
    const stores = new Map<string, Record<string, string>>();
    return renderCheck(repo, coffre, compose, {
      makeStore: async (file, plaintext) => void stores.set(file.replace(/\.sops\.yaml$/, ''), JSON.parse(plaintext)),
      readExampleKeys: async (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => ({ name: line.split('=')[0]!, value: '' })),
      render: async (root) => {
        const target = path.join(root, 'svc', 'app.env');
        const values = stores.get(target)!;
        const text = Object.entries(values).map(([key, value]) => `${key}=${quote(value, !(corrupt && key === 'TOKEN'))}`).join('\n');
        writeFileSync(target, `${text}\n`);
        return [{ service: 'svc', status: 'written', files: [{ target: 'svc/app.env', keys: { added: Object.keys(values), changed: [] } }] }];
      },
    });
  };
  const good = await run(false);
  t.same(good.mismatches, []);
  t.equal(good.keysCompared, 2);
  t.match(storeValue('K', true), /\$HOME .*\n/, 'the test values hold `$` and a newline');
  const bad = await run(true);
  t.equal(bad.mismatches.length, 1);
  t.match(bad.mismatches[0]?.problem, /^svc\/app\.env key TOKEN: compose reads a different value/);
  t.notMatch(bad.mismatches[0]?.problem, /w0rd/, 'the value itself is not printed');
});
