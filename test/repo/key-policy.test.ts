// Issue 10 item 7: per-key policy from coffre.yaml (`files.<glob>.keys`), so an upstream example needs no edit,
// and `files.<glob>.skip` for a committed non-secret env file. Config errors name file:line:field.
import t from 'tap';
import { parseExample } from '../../src/core/example.js';
import { applyKeyPolicy } from '../../src/core/key-policy.js';
import { compileGlob } from '../../src/repo/lazy-picomatch.js';
import { parseConfig } from '../../src/repo/config.js';
import { discoverRepo } from '../../src/repo/discover.js';
import type { CheckContext } from '../../src/use-cases/check.js';
import { listExampleKeys } from '../../src/use-cases/example-keys.js';

const upstream = 'APP_KEY=changeme\nMAIL_HOST=\nMAIL_PASSWORD=\nDEBUG=\n# @optional\nSENTRY_DSN=\n';

t.test('key rules override the example annotations, later rules win, keys are never added', async (t) => {
  const example = parseExample(upstream, 'app/.env.example');
  const config = parseConfig(
    [
      'files:',
      '  "app/.env":',
      '    keys:',
      '      "MAIL_*": { optional: true }',
      '      DEBUG: { allowEmpty: true }',
      '      APP_KEY: { generate: "base64url:43" }',
      '      MAIL_PASSWORD: { optional: false }',
      '      SENTRY_DSN: { optional: false }',
      '      NOT_IN_EXAMPLE: { optional: true }',
      '',
    ].join('\n'),
    'coffre.yaml',
  );
  const rules = Object.entries(config.files['app/.env']!.keys).map(([key, policy]) => ({ key, policy }));
  const applied = applyKeyPolicy(example, rules, compileGlob);
  const view = Object.fromEntries(applied.keys.map((k) => [k.name, { optional: k.optional, allowEmpty: k.allowEmpty, generate: k.generate ?? null }]));
  t.same(view, {
    APP_KEY: { optional: false, allowEmpty: false, generate: { charset: 'base64url', length: 43 } },
    MAIL_HOST: { optional: true, allowEmpty: false, generate: null },
    MAIL_PASSWORD: { optional: false, allowEmpty: false, generate: null },
    DEBUG: { optional: false, allowEmpty: true, generate: null },
    SENTRY_DSN: { optional: false, allowEmpty: false, generate: null },
  });
  t.same(example.keys.find((k) => k.name === 'MAIL_HOST')!.optional, false, 'the parsed example itself is not changed');
});

t.test('bad policy entries are refused with file:line and field', async (t) => {
  const cases = [
    { text: 'files:\n  "a/.env":\n    keys:\n      A: { optionl: true }\n', message: /^coffre\.yaml:4: files\["a\/\.env"\]\.keys\.A\.optionl: unknown key/ },
    { text: 'files:\n  "a/.env":\n    keys:\n      A: { generate: "alnum:0" }\n', message: /^coffre\.yaml:4: files\["a\/\.env"\]\.keys\.A\.generate: / },
    { text: 'files:\n  "a/.env":\n    skip: yes please\n', message: /^coffre\.yaml:3: files\["a\/\.env"\]\.skip: expected boolean/ },
    { text: 'files:\n  "a/.env":\n    keys:\n      A: { allowEmpty: 1 }\n', message: /^coffre\.yaml:4: files\["a\/\.env"\]\.keys\.A\.allowEmpty: expected boolean, got number/ },
  ];
  for (const c of cases) t.throws(() => parseConfig(c.text, 'coffre.yaml'), { code: 'COFFRE_CONFIG_INVALID', message: c.message }, c.text);
});

t.test('discovery attaches the rules of every matching glob, and skip leaves a file out', async (t) => {
  const root = t.testdir({
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [.env, config.env]\n',
      '.env.example': upstream,
    },
    other: { 'docker-compose.yml': 'services:\n  o:\n    image: o\n    env_file: .env\n', '.env.example': 'A=\n' },
  });
  const config = parseConfig(
    'files:\n  "*/.env":\n    keys: { "MAIL_*": { optional: true } }\n  "app/.env":\n    keys: { MAIL_HOST: { optional: false } }\n  "app/config.env":\n    skip: true\n  "nothing/*.env":\n    skip: true\n',
    'coffre.yaml',
  );
  const repo = await discoverRepo({ root, config, vaultEnabled: false });
  const app = repo.services.find((s) => s.name === 'app')!;
  t.same(app.secretFiles.map((f) => f.targetRel), ['app/.env'], 'config.env is skipped: no COFFRE_EXAMPLE_MISSING for it');
  t.same(app.secretFiles[0]!.keyPolicy, [
    { key: 'MAIL_*', policy: { optional: true } },
    { key: 'MAIL_HOST', policy: { optional: false } },
  ]);
  t.same(repo.services.find((s) => s.name === 'other')!.secretFiles[0]!.keyPolicy, [{ key: 'MAIL_*', policy: { optional: true } }]);
  t.same(
    repo.problems.map((p) => [p.severity, p.code, p.message]),
    [['warning', 'COFFRE_CONFIG_INVALID', 'files["nothing/*.env"] matches no env_file target (globs match target paths relative to the repo root)']],
    'a glob matching nothing is a warning, as for services entries',
  );
});

t.test("the admin page's key list shows the coffre.yaml policy, as check and render apply it", async (t) => {
  const root = t.testdir({
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: .env\n', '.env.example': upstream },
  });
  const config = parseConfig('files:\n  "app/.env":\n    keys: { "MAIL_*": { optional: true }, APP_KEY: { generate: "alnum:32" } }\n', 'coffre.yaml');
  const repo = await discoverRepo({ root, config, vaultEnabled: false });
  // The key list reads the example only: no store is consulted.
  const report = await listExampleKeys({ repo } as CheckContext, { service: 'app', file: '.env' });
  const view = Object.fromEntries(report.keys.map((k) => [k.name, [k.optional, k.generate]]));
  t.same(view.MAIL_HOST, [true, null], 'MAIL_* optional from coffre.yaml');
  t.same(view.APP_KEY, [false, { charset: 'alnum', length: 32 }], 'generate from coffre.yaml prefills the rotate form');
});
