// Issue 10 item 6: examples found where people put them (coffre.yaml `examples.patterns`, with defaults for the
// common layouts), and COFFRE_EXAMPLE_MISSING naming the nearest candidate with the pattern that would find it.
import path from 'node:path';
import t from 'tap';
import { defaultConfig, parseConfig, type CoffreConfig } from '../../src/repo/config.js';
import { discoverRepo, type RepoModel } from '../../src/repo/discover.js';
import { exampleCandidates, nearestExample, suggestPattern } from '../../src/repo/example-patterns.js';

function discover(root: string, config: CoffreConfig = defaultConfig()): Promise<RepoModel> {
  return discoverRepo({ root, config, vaultEnabled: false });
}

t.test('exampleCandidates fills {dir} {base} {stem} {name} {suffix}, suffixes first, no repeats', async (t) => {
  const svc = '/r/svc';
  const cases = [
    {
      name: 'a .env in the service folder: env.example after .env.example',
      target: '/r/svc/.env',
      patterns: ['{dir}/{stem}{suffix}'],
      want: ['/r/svc/.env.example', '/r/svc/.env.dist', '/r/svc/env.example', '/r/svc/env.dist'],
    },
    {
      name: 'a root target above the service: {base}{suffix} in the service folder',
      target: '/r/.env.n8n',
      patterns: ['{base}{suffix}'],
      want: ['/r/.env.n8n.example', '/r/.env.n8n.dist', '/r/svc/.env.n8n.example', '/r/svc/.env.n8n.dist'],
    },
    {
      name: 'conf-sample beside env/: {dir}/../conf-sample',
      target: '/r/svc/env/pdns.env',
      patterns: ['{dir}/../conf-sample/{base}{suffix}'],
      want: ['/r/svc/env/pdns.env.example', '/r/svc/env/pdns.env.dist', '/r/svc/conf-sample/pdns.env.example', '/r/svc/conf-sample/pdns.env.dist'],
    },
    {
      name: '{name} is the logical name',
      target: '/r/svc/secrets/db.secrets',
      patterns: ['examples/{name}.env'],
      want: ['/r/svc/secrets/db.secrets.example', '/r/svc/secrets/db.secrets.dist', '/r/svc/examples/db.env'],
    },
    {
      name: 'a candidate outside both the service folder and the target folder is dropped',
      target: '/r/svc/.env',
      patterns: ['{dir}/../conf-sample/{base}{suffix}', '../../etc/{base}'],
      want: ['/r/svc/.env.example', '/r/svc/.env.dist'],
    },
  ];
  for (const c of cases) t.same(exampleCandidates(svc, c.target, ['.example', '.dist'], c.patterns), c.want, c.name);
});

t.test('nearestExample: smallest edit distance within a third of the name, then fewest folder steps', async (t) => {
  const near = (target: string, files: string[]) => nearestExample(target, files.map((file) => ({ file, stem: path.basename(file).replace(/\.(example|dist|sample)$/, '') })))?.file ?? null;
  t.equal(near('/r/s/env/pdns.env', ['/r/s/conf-sample/pdns.env.sample', '/r/s/conf-sample/mysql.env.sample']), '/r/s/conf-sample/pdns.env.sample', 'same name in another folder');
  t.equal(near('/r/s/app.env', ['/r/s/ap.env.example', '/r/s/deep/app.env.example']), '/r/s/deep/app.env.example', 'distance 0 beats distance 1 even further away');
  t.equal(near('/r/s/app.env', ['/r/s/x/y/app.env.example', '/r/s/z/app.env.example']), '/r/s/z/app.env.example', 'ties go to fewer folder steps');
  t.equal(near('/r/s/.env', ['/r/s/env.sample']), '/r/s/env.sample', 'leading dots are ignored');
  t.equal(near('/r/s/app.env', ['/r/s/nginx.conf.sample', '/r/s/database.env.example']), null, 'nothing close enough');
});

t.test('suggestPattern writes a pattern that finds the file, or null', async (t) => {
  t.equal(suggestPattern('/r/s', '/r/s/env/pdns.env', '/r/s/conf-sample/pdns.env.sample'), 'conf-sample/{base}.sample');
  t.equal(suggestPattern('/r/s', '/r/s/.env', '/r/s/env.sample'), '{dir}/{stem}.sample');
  t.equal(suggestPattern('/r/s', '/r/s/env/a.env', '/r/s/env/examples/a.env.tpl'), '{dir}/examples/{base}.tpl');
  t.equal(suggestPattern('/r/s', '/r/s/app.env', '/r/s/other.env.example'), null, 'a different name is no pattern');
});

const layouts = {
  '.gitignore': '*.env\n.env*\n',
  dns: {
    'docker-compose.yml': 'services:\n  pdns:\n    image: pdns\n    env_file: env/pdns.env\n',
    'conf-sample': { 'pdns.env.sample': 'PDNS_API_KEY=\n' },
  },
  wiki: { 'docker-compose.yml': 'services:\n  wiki:\n    image: wiki\n    env_file: .env\n', 'env.example': 'DB_PASS=\n' },
  app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/token.txt\n', secrets: { 'token.txt.example': 'TOKEN=\n' } },
};

t.test('the layouts seen in the wild find their example with no coffre.yaml', async (t) => {
  const root = t.testdir(layouts);
  const repo = await discover(root);
  t.same(repo.problems, [], 'no error, no unreferenced example');
  const examples = Object.fromEntries(repo.services.flatMap((s) => s.secretFiles).map((f) => [f.targetRel, f.exampleRel]));
  t.same(examples, { 'app/secrets/token.txt': 'app/secrets/token.txt.example', 'dns/env/pdns.env': 'dns/conf-sample/pdns.env.sample', 'wiki/.env': 'wiki/env.example' });
});

t.test('T<suffix> still wins over a pattern, and patterns are tried in the configured order', async (t) => {
  const root = t.testdir({
    wiki: { 'docker-compose.yml': 'services:\n  wiki:\n    env_file: .env\n', '.env.dist': 'A=\n', 'env.example': 'A=\n', examples: { 'env.tmpl': 'A=\n' } },
  });
  t.equal((await discover(root)).services[0]!.secretFiles[0]!.exampleRel, 'wiki/.env.dist');
  const config = parseConfig('examples:\n  suffixes: [.example]\n  patterns: ["examples/{stem}.tmpl", "{dir}/{stem}{suffix}"]\n', 'coffre.yaml');
  t.equal((await discover(root, config)).services[0]!.secretFiles[0]!.exampleRel, 'wiki/examples/env.tmpl');
});

t.test('a missing example names the nearest candidate and the pattern to add', async (t) => {
  const root = t.testdir({
    dns: {
      'docker-compose.yml': 'services:\n  pdns:\n    image: pdns\n    env_file: env/pdns.env\n',
      'samples': { 'pdns.env.sample': 'PDNS_API_KEY=\n' },
    },
  });
  const repo = await discover(root);
  const file = repo.services[0]!.secretFiles[0]!;
  t.equal(file.example, null);
  t.match(file.exampleMissing, /^looked for dns\/env\/pdns\.env\.example, dns\/env\/pdns\.env\.dist, dns\/env\/pdns\.env\.sample, then from examples\.patterns /);
  t.match(file.exampleMissing, /did you mean dns\/samples\/pdns\.env\.sample\? Add the pattern "samples\/\{base\}\.sample" to examples\.patterns in coffre\.yaml, or set services\.dns\.files\["env\/pdns\.env"\]\.example: samples\/pdns\.env\.sample$/);
  t.match(repo.problems, [{ code: 'COFFRE_EXAMPLE_MISSING', message: /did you mean dns\/samples\/pdns\.env\.sample\?/ }]);

  // The suggested pattern works.
  const fixed = await discover(root, parseConfig('examples:\n  patterns: ["samples/{base}.sample"]\n', 'coffre.yaml'));
  t.equal(fixed.services[0]!.secretFiles[0]!.exampleRel, 'dns/samples/pdns.env.sample');
  t.same(fixed.problems, []);
});

t.test('the suggestion never names a file outside the repo', async (t) => {
  const outer = t.testdir({ 'pdns.env.example': 'A=\n', repo: { svc: { 'docker-compose.yml': 'services:\n  a:\n    env_file: ../../pdns.env\n' } } });
  const repo = await discover(path.join(outer, 'repo'));
  const file = repo.services[0]!.secretFiles[0]!;
  t.equal(file.example, null);
  t.notMatch(file.exampleMissing ?? '', /did you mean/);
});

t.test('an unknown placeholder or a pattern without the target name is refused with its line', async (t) => {
  t.throws(() => parseConfig('examples:\n  patterns:\n    - "{dir}/{nope}.example"\n', 'coffre.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: /^coffre\.yaml:3: examples\.patterns\[0\]: unknown placeholder \{nope\}/ });
  t.throws(() => parseConfig('examples:\n  patterns: ["{dir}/fixed.example"]\n', 'coffre.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: /examples\.patterns\[0\]: a pattern names the target with \{base\}, \{stem\} or \{name\}/ });
});

t.test('the Picasoft layout is unchanged by the default patterns', async (t) => {
  const root = t.testdir({
    mattermost: {
      'docker-compose.yml': 'services:\n  app:\n    env_file: ./secrets/mattermost.secrets\n',
      secrets: { 'mattermost.secrets.example': 'A=\n' },
    },
  });
  const repo = await discover(root);
  t.same(repo.problems, []);
  t.equal(repo.services[0]!.secretFiles[0]!.exampleRel, 'mattermost/secrets/mattermost.secrets.example');
});
