import t from 'tap';
import { findTemplatePlaceholders, secretFileName, sopsFormatOf, vaultPathFor } from '../../src/repo/secret-naming.js';
import { isEnvLike } from '../../src/repo/discover.js';

t.test('secretFileName derives the logical name from the target file name', async (t) => {
  const cases = [
    { target: 'secrets/db.secrets', name: 'db' },
    { target: '/abs/mattermost/secrets/mattermost-db.secrets', name: 'mattermost-db' },
    { target: 'app.env', name: 'app' },
    { target: '.env', name: 'env' },
    { target: '../wiki/.env', name: 'env' },
    { target: '.secrets', name: 'secrets' },
    { target: '.env.local', name: 'env.local' },
    { target: 'env/pdns.env', name: 'pdns' },
    { target: 'app.secrets.env', name: 'app.secrets' },
    { target: 'token.txt', name: 'token.txt' },
    { target: 'config\\win.env', name: 'win' },
  ];
  for (const c of cases) t.equal(secretFileName(c.target), c.name, c.target);
});

t.test('vaultPathFor fills the template and drops empty segments', async (t) => {
  const cases = [
    { name: 'empty prefix gives service/name', template: '{prefix}/{service}/{name}', values: { prefix: '', service: 'mattermost', name: 'db' }, path: 'mattermost/db' },
    { name: 'prefix with slashes is kept', template: '{prefix}/{service}/{name}', values: { prefix: 'infra/prod', service: 'mattermost', name: 'db' }, path: 'infra/prod/mattermost/db' },
    { name: 'leading and trailing slashes of the prefix are dropped', template: '{prefix}/{service}/{name}', values: { prefix: '/infra/', service: 'wiki', name: 'env' }, path: 'infra/wiki/env' },
    { name: 'a nested service keeps its slash', template: '{prefix}/{service}/{name}', values: { prefix: '', service: 'apps/wiki', name: 'db' }, path: 'apps/wiki/db' },
    { name: 'the root service "." is dropped', template: '{prefix}/{service}/{name}', values: { prefix: 'p', service: '.', name: 'env' }, path: 'p/env' },
    { name: 'literal text around placeholders stays', template: 'coffre/{service}-{name}', values: { prefix: '', service: 'a', name: 'b' }, path: 'coffre/a-b' },
    { name: 'a placeholder-looking value is not expanded again', template: '{prefix}/{name}', values: { prefix: '{service}', service: 'a', name: 'b' }, path: '{service}/b' },
  ];
  for (const c of cases) t.equal(vaultPathFor(c.template, c.values), c.path, c.name);
  t.throws(() => vaultPathFor('{svc}/{name}', { prefix: '', service: 'a', name: 'b' }), /unknown placeholder \{svc\}/);
  t.same(findTemplatePlaceholders('{prefix}/x/{service}{name}'), ['prefix', 'service', 'name']);
});

t.test('sopsFormatOf picks the store from the last extension like sops does', async (t) => {
  const cases = [
    ['db.secrets.sops.yaml', 'yaml'],
    ['db.secrets.sops.yml', 'yaml'],
    ['db.secrets.sops.json', 'json'],
    ['db.secrets.sops.env', 'dotenv'],
    ['db.secrets.sops.ini', 'ini'],
    ['db.secrets.sops', 'binary'],
    ['db.secrets.enc.YAML', 'yaml'],
    ['blob', 'binary'],
  ] as const;
  for (const [file, format] of cases) t.equal(sopsFormatOf(file), format, file);
});

t.test('isEnvLike keeps env-ish example stems and secrets folders only', async (t) => {
  const cases = [
    { stem: 'db.secrets', dir: 'secrets', envLike: true },
    { stem: 'app.env', dir: '', envLike: true },
    { stem: '.env', dir: '', envLike: true },
    { stem: '.env.prod', dir: '', envLike: true },
    { stem: 'env', dir: '', envLike: true },
    { stem: 'token.txt', dir: 'secrets', envLike: true },
    { stem: 'token.txt', dir: 'conf/secrets/x', envLike: true },
    { stem: 'nginx.conf', dir: 'config', envLike: false },
    { stem: 'config.php', dir: '', envLike: false },
  ];
  for (const c of cases) t.equal(isEnvLike(c.stem, c.dir), c.envLike, `${c.dir}/${c.stem}`);
});
