import t from 'tap';
import path from 'node:path';
import { CoffreError } from '../../src/errors.js';
import { ANNOTATED_CONFIG_EXAMPLE } from '../../src/repo/config-example.js';
import { defaultConfig, formatFieldPath, loadConfig, parseConfig, renderSettingsFor } from '../../src/repo/config.js';

t.test('an absent or empty config gives every default', async (t) => {
  const config = defaultConfig();
  t.same(config, {
    version: 1,
    discovery: { composeFiles: ['docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml'], maxDepth: 3, exclude: ['node_modules', '.git'] },
    examples: { suffixes: ['.example', '.dist', '.sample'], patterns: ['{dir}/{stem}{suffix}', '{base}{suffix}', '{dir}/../conf-sample/{base}{suffix}'] },
    sops: { suffixes: ['.sops.yaml', '.sops.yml', '.sops.json', '.sops.env', '.sops.ini', '.sops'], ageKeyFile: null },
    vault: { address: null, mount: 'secret', prefix: '', path: '{prefix}/{service}/{name}', namespace: null, tls: { caCert: null, caPath: null, clientCert: null, clientKey: null, serverName: null }, timeoutMs: 10000, concurrency: 8, auth: { method: 'token' } },
    render: { mode: 0o600, owner: null, group: null },
    services: {},
    files: {},
    warnings: { ignore: [] },
  });
  t.same(parseConfig('', 'coffre.yaml'), config);
  t.same(parseConfig('# only a comment\n', 'coffre.yaml'), config);
  const dir = t.testdir({});
  t.same(await loadConfig(dir), { config, file: null });
});

t.test('a full config is parsed, with sources normalised', async (t) => {
  const config = parseConfig(
    `version: 1
vault:
  address: https://bao.example.org:8200
  prefix: infra
  timeoutMs: 2500
  auth:
    method: approle
    roleIdFile: /etc/coffre/role-id
    secretIdFile: /etc/coffre/secret-id
render:
  mode: 0640
  group: docker
services:
  mattermost:
    render: { mode: "0600", owner: 1000 }
    files:
      secrets/db.secrets:
        source: { vault: "kv/chat/{name}" }
      secrets/app.secrets:
        source: { vault: { mount: team/kv, path: chat/app } }
      secrets/smtp.secrets:
        source: { sops: secrets/smtp.enc.yaml }
      secrets/blob.secrets:
        source: { sops: secrets/blob.bin, format: dotenv }
        example: conf-sample/blob.env.sample
      plain.env:
        skip: true
      manual.env:
        source: null
  legacy:
    skip: true
`,
    'coffre.yaml',
  );
  t.equal(config.vault.address, 'https://bao.example.org:8200');
  t.equal(config.vault.timeoutMs, 2500);
  t.same(config.vault.auth, { method: 'approle', roleIdFile: '/etc/coffre/role-id', secretIdFile: '/etc/coffre/secret-id', mount: 'approle' });
  t.same(config.render, { mode: 0o640, owner: null, group: 'docker' });
  const files = config.services.mattermost!.files;
  t.same(files['secrets/db.secrets'], { source: { kind: 'vault', mount: 'kv', path: 'chat/{name}' }, skip: false });
  t.same(files['secrets/app.secrets']!.source, { kind: 'vault', mount: 'team/kv', path: 'chat/app' });
  t.same(files['secrets/smtp.secrets']!.source, { kind: 'sops', file: 'secrets/smtp.enc.yaml' });
  t.same(files['secrets/blob.secrets'], { source: { kind: 'sops', file: 'secrets/blob.bin', format: 'dotenv' }, example: 'conf-sample/blob.env.sample', skip: false });
  t.same(files['plain.env'], { skip: true });
  t.equal(files['manual.env']!.source, null);
  t.equal(config.services.legacy!.skip, true);
  t.same(renderSettingsFor(config, 'mattermost'), { mode: 0o600, owner: 1000, group: 'docker' });
  t.same(renderSettingsFor(config, 'other'), { mode: 0o640, owner: null, group: 'docker' });
});

t.test('a file mode is read as octal digits whatever the YAML type', async (t) => {
  const cases = [
    { yaml: 'mode: "0600"', mode: 0o600 },
    { yaml: 'mode: "640"', mode: 0o640 },
    { yaml: 'mode: 0600', mode: 0o600 },
    { yaml: 'mode: 600', mode: 0o600 },
  ];
  for (const c of cases) t.equal(parseConfig(`render:\n  ${c.yaml}\n`, 'c.yaml').render.mode, c.mode, c.yaml);
  for (const bad of ['mode: 0o600', 'mode: "0800"', 'mode: "rw-------"', 'mode: 1777']) {
    t.throws(() => parseConfig(`render:\n  ${bad}\n`, 'c.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: /^c\.yaml:2: render\.mode: expected an octal file mode/ }, bad);
  }
});

t.test('config errors name file:line and the field path', async (t) => {
  const cases = [
    {
      name: 'a type error',
      text: 'version: 1\nvault:\n  mount: secret\n  timeoutMs: soon\n',
      message: 'coffre.yaml:4: vault.timeoutMs: expected number, got string',
      line: 4,
    },
    {
      name: 'an unknown key (typo)',
      text: 'vault:\n  mount: secret\n  timeoutMS: 100\n',
      message: 'coffre.yaml:3: vault.timeoutMS: unknown key in vault',
      line: 3,
    },
    {
      name: 'an unknown top-level key',
      text: 'vaults:\n  mount: secret\n',
      message: 'coffre.yaml:1: vaults: unknown key',
      line: 1,
    },
    {
      name: 'a YAML syntax error',
      text: 'vault:\n  mount: secret\n  prefix: [infra\nrender: {}\n',
      message: /^coffre\.yaml:4: Flow sequence in block collection must be sufficiently indented and end with a \]$/,
      line: 4,
    },
    {
      name: 'a missing required field of the AppRole auth',
      text: 'vault:\n  auth:\n    method: approle\n    roleIdFile: /r\n',
      message: 'coffre.yaml:2: vault.auth.secretIdFile: missing (expected string)',
      line: 2,
    },
    {
      name: 'an unknown auth method',
      text: 'vault:\n  auth:\n    method: ldap\n',
      message: /^coffre\.yaml:3: vault\.auth\.method: Invalid discriminator value/,
      line: 3,
    },
    {
      name: 'a source with both vault and sops, in a file key with slashes',
      text: 'services:\n  chat:\n    files:\n      secrets/db.secrets:\n        source:\n          vault: secret/x\n          sops: x.yaml\n',
      message: 'coffre.yaml:5: services.chat.files["secrets/db.secrets"].source: give exactly one of "vault" or "sops"',
      line: 5,
    },
    {
      name: 'an unknown placeholder in the path template',
      text: 'vault:\n  path: "{prefix}/{svc}/{name}"\n',
      message: 'coffre.yaml:2: vault.path: unknown placeholder {svc} (allowed: {prefix}, {service}, {name})',
      line: 2,
    },
    {
      name: 'a list where a map is expected',
      text: 'services:\n  - chat\n',
      message: 'coffre.yaml:1: services: expected a mapping, got a list',
      line: 1,
    },
    {
      name: 'a top level that is not a map',
      text: '- a\n- b\n',
      message: 'coffre.yaml:1: expected a mapping, got a list',
      line: 1,
    },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      let error: unknown;
      try {
        parseConfig(c.text, 'coffre.yaml');
      } catch (e) {
        error = e;
      }
      t.ok(error instanceof CoffreError, 'throws a CoffreError');
      const coffreError = error as CoffreError;
      t.equal(coffreError.code, 'COFFRE_CONFIG_INVALID');
      if (typeof c.message === 'string') t.equal(coffreError.message, c.message);
      else t.match(coffreError.message, c.message);
      t.same(coffreError.location, { file: 'coffre.yaml', line: c.line });
    });
  }
});

t.test('several problems are all reported, one per line', async (t) => {
  t.throws(() => parseConfig('vault:\n  timeoutMs: -1\n  concurrency: x\nrender:\n  ownr: root\n', 'coffre.yaml'), {
    message: 'coffre.yaml:2: vault.timeoutMs: Too small: expected number to be >0\ncoffre.yaml:3: vault.concurrency: expected number, got string\ncoffre.yaml:5: render.ownr: unknown key in render',
  });
});

t.test('loadConfig reads coffre.yaml or .coffre.yaml, not both', async (t) => {
  const plain = t.testdir({ 'coffre.yaml': 'vault:\n  prefix: infra\n' });
  const loaded = await loadConfig(plain);
  t.equal(loaded.file, path.join(plain, 'coffre.yaml'));
  t.equal(loaded.config.vault.prefix, 'infra');

  const hidden = t.testdir({ '.coffre.yaml': 'vault:\n  prefix: hidden\n' });
  t.equal((await loadConfig(hidden)).config.vault.prefix, 'hidden');

  const both = t.testdir({ 'coffre.yaml': '', '.coffre.yaml': '' });
  await t.rejects(loadConfig(both), { code: 'COFFRE_CONFIG_INVALID', message: /both coffre\.yaml and \.coffre\.yaml/ });

  const broken = t.testdir({ 'coffre.yaml': 'vault:\n  timeoutMs: "x"\n' });
  await t.rejects(loadConfig(broken), { code: 'COFFRE_CONFIG_INVALID', message: `${path.join(broken, 'coffre.yaml')}:2: vault.timeoutMs: expected number, got string` });
});

t.test('formatFieldPath quotes keys that are not identifiers', async (t) => {
  t.equal(formatFieldPath(['services', 'apps/wiki', 'files', 'secrets/db.secrets', 'source']), 'services["apps/wiki"].files["secrets/db.secrets"].source');
  t.equal(formatFieldPath(['discovery', 'exclude', 1]), 'discovery.exclude[1]');
  t.equal(formatFieldPath([]), '');
});

t.test('the annotated example parses and shows the defaults', async (t) => {
  const config = parseConfig(ANNOTATED_CONFIG_EXAMPLE, 'coffre.yaml');
  const { services, ...rest } = config;
  const { services: _none, ...defaults } = defaultConfig();
  t.same(rest, defaults);
  t.same(Object.keys(services), ['mattermost']);
  t.same(services.mattermost!.render, { mode: 0o640, group: 'docker' });
});

t.test('a YAML alias bomb in coffre.yaml is COFFRE_CONFIG_INVALID, not an internal error', async (t) => {
  let text = 'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  let previous = 'a';
  for (let level = 0; level < 9; level++) {
    text += `x-b${level}: &b${level} [${Array(9).fill(`*${previous}`).join(', ')}]\n`;
    previous = `b${level}`;
  }
  text += `services:\n  app:\n    skip: *${previous}\n`;
  const root = t.testdir({ 'coffre.yaml': text });
  await t.rejects(loadConfig(root), { code: 'COFFRE_CONFIG_INVALID', message: /coffre\.yaml: YAML aliases expand to too many nodes/ });
});

t.test('a coffre.yaml over the size cap is refused by name', async (t) => {
  const root = t.testdir({ 'coffre.yaml': `version: 1\n# ${'x'.repeat(1024 * 1024)}\n` });
  await t.rejects(loadConfig(root), { code: 'COFFRE_CONFIG_INVALID', message: /larger than 1048576 bytes/ });
});
