// The example model: keys with line and example value, annotations from the comment block above a key,
// commented-out keys as optional, warnings for traps, and the lossless line view.
import t from 'tap';
import { parseExample } from '../../src/core/example.js';
import { CoffreError } from '../../src/errors.js';

const FILE = 'chat/secrets/db.secrets.example';

t.test('lists every key with its line and example value', async (t) => {
  const model = parseExample('# Shared\nPOSTGRES_USER=ephios\n\nPOSTGRES_PASSWORD=\nURL="https://x.org"\n', FILE);
  t.equal(model.file, FILE);
  t.same(
    model.keys.map((k) => [k.name, k.line, k.exampleValue, k.quote]),
    [
      ['POSTGRES_USER', 2, 'ephios', 'none'],
      ['POSTGRES_PASSWORD', 4, '', 'none'],
      ['URL', 5, 'https://x.org', 'double'],
    ],
  );
  t.same(model.warnings, []);
});

t.test('annotations from the contiguous comment block above a key', async (t) => {
  const cases: Array<{ name: string; text: string; key: string; expect: { optional: boolean; allowEmpty: boolean; generate?: unknown } }> = [
    { name: '@optional alone on a line', text: '# @optional\nA=\n', key: 'A', expect: { optional: true, allowEmpty: false } },
    { name: '@allow-empty mixed with prose', text: '# Leave empty to disable mail @allow-empty.\nSMTP_PASSWORD=\n', key: 'SMTP_PASSWORD', expect: { optional: false, allowEmpty: true } },
    {
      name: 'several annotations on one line',
      text: '# @optional @allow-empty @generate=base64url:32\nA=\n',
      key: 'A',
      expect: { optional: true, allowEmpty: true, generate: { charset: 'base64url', length: 32 } },
    },
    {
      name: 'annotations spread over the block',
      text: '# Session secret\n# @generate=hex:64\n# rotate yearly @optional\nSESSION_SECRET=\n',
      key: 'SESSION_SECRET',
      expect: { optional: true, allowEmpty: false, generate: { charset: 'hex', length: 64 } },
    },
    { name: 'a blank line detaches the block', text: '# @optional\n\nA=\n', key: 'A', expect: { optional: false, allowEmpty: false } },
    { name: 'a key line ends the block of the next key', text: '# @optional\nA=\nB=\n', key: 'B', expect: { optional: false, allowEmpty: false } },
    { name: 'an e-mail address is not an annotation', text: '# ask admin@optional.example\nA=\n', key: 'A', expect: { optional: false, allowEmpty: false } },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const key = parseExample(c.text, FILE).keys.find((k) => k.name === c.key);
      t.ok(key, `${c.key} is a key`);
      t.same({ optional: key!.optional, allowEmpty: key!.allowEmpty, ...(key!.generate ? { generate: key!.generate } : {}) }, c.expect);
    });
  }
  t.test('keeps the prose of the block without the annotations', async (t) => {
    const [key] = parseExample('# Database password @optional\n# see the wiki\nDB_PASSWORD=\n', FILE).keys;
    t.equal(key!.comment, 'Database password\nsee the wiki');
  });
});

t.test('a malformed @generate is a syntax error at its line', async (t) => {
  for (const spec of ['@generate=base64:32', '@generate=hex:0', '@generate=hex:4097', '@generate=hex', '@generate']) {
    t.throws(() => parseExample(`A=1\n# ${spec}\nB=\n`, FILE), { code: 'COFFRE_EXAMPLE_SYNTAX', location: { file: FILE, line: 2 } }, spec);
  }
});

t.test('commented-out keys are optional keys, prose comments are not keys', async (t) => {
  const model = parseExample(
    [
      '# TANDOOR_PORT=8080',
      '#ADMIN_TOKEN=\'$argon2id$v=19$x\'',
      '## export OLD_KEY = value # note',
      '# Database password',
      '# e.g. FOO=bar',
      '# see https://example.org/?a=b',
      '# ------------------',
      '# NOTE: set KEY=1 first',
      'REAL=1',
    ].join('\n') + '\n',
    FILE,
  );
  t.same(
    model.keys.map((k) => [k.name, k.line, k.exampleValue, k.optional, k.commentedOut]),
    [
      ['TANDOOR_PORT', 1, '8080', true, true],
      ['ADMIN_TOKEN', 2, '$argon2id$v=19$x', true, true],
      ['OLD_KEY', 3, 'value', true, true],
      ['REAL', 9, '1', false, false],
    ],
  );
  t.same(model.lines.map((l) => l.kind), ['commented-key', 'commented-key', 'commented-key', 'comment', 'comment', 'comment', 'comment', 'comment', 'key']);
});

t.test('a commented-out line next to a real key of the same name adds nothing', async (t) => {
  const model = parseExample('# PORT=8080\nPORT=9090\n', FILE);
  t.same(model.keys.map((k) => [k.name, k.line, k.commentedOut]), [['PORT', 2, false]]);
});

t.test('warns about KEY=   # comment: compose takes the comment as value', async (t) => {
  const model = parseExample('AP_ENCRYPTION_KEY=      # openssl rand -hex 16\nCOLOR=#ea5e0f\nB=1 # fine\n', FILE);
  t.same(model.warnings.map((w) => [w.code, w.line, w.key]), [['suspicious-inline-comment', 1, 'AP_ENCRYPTION_KEY']]);
  const key = model.keys[0]!;
  t.equal(key.exampleValue, '# openssl rand -hex 16', 'the value compose would read');
  t.equal(key.looksLikePlaceholder, true, 'the author meant a value to fill in');
  t.equal(model.keys[1]!.looksLikePlaceholder, false);
});

t.test('warns about duplicate keys; the last definition wins', async (t) => {
  const model = parseExample('MAX=1\nOTHER=x\nMAX=2 #aka 2\n', FILE);
  t.same(model.keys.map((k) => [k.name, k.line, k.exampleValue]), [['OTHER', 2, 'x'], ['MAX', 3, '2']]);
  t.same(model.warnings.map((w) => [w.code, w.line, w.key]), [['duplicate-key', 3, 'MAX']]);
  t.match(model.warnings[0]!.message, /first at line 1/);
});

t.test('bare keys are declared keys with a warning', async (t) => {
  const model = parseExample('A\nB=1\nC', FILE);
  t.same(model.keys.map((k) => [k.name, k.line, k.bare, k.exampleValue]), [['A', 1, true, ''], ['B', 2, false, '1'], ['C', 3, true, '']]);
  t.same(model.warnings.map((w) => [w.code, w.line]), [['bare-key', 1], ['missing-newline-bare-key', 3]]);
});

t.test('placeholder detection of example values, not of ${…} templates', async (t) => {
  const model = parseExample('A=changeme\nB=<change_me>\nC=${OTHER}\nD=ephios\nE=\nF=postgres://u:${PASS}@db\n', FILE);
  t.same(
    model.keys.map((k) => [k.name, k.looksLikePlaceholder, k.interpolated]),
    [
      ['A', true, false],
      ['B', true, false],
      ['C', false, true],
      ['D', false, false],
      ['E', true, false],
      ['F', false, true],
    ],
  );
  t.equal(model.keys[5]!.exampleValue, 'postgres://u:${PASS}@db', 'a template keeps its text');
});

t.test('${V:?msg} in an example does not fail (the variable is known at deploy time)', async (t) => {
  const model = parseExample('DOMAIN=${BASE_DOMAIN:?set BASE_DOMAIN}\n', FILE);
  t.equal(model.keys[0]!.exampleValue, '${BASE_DOMAIN:?set BASE_DOMAIN}');
});

t.test('the line view is lossless and classifies every line', async (t) => {
  const text = '\ufeff# c\r\nA="x\r\ny"\r\n\r\n  # TOKEN=abc\r\nB=2';
  const model = parseExample(text, FILE);
  t.same(model.lines.map((l) => [l.line, l.kind, l.key]), [
    [1, 'comment', undefined],
    [2, 'key', 'A'],
    [3, 'continuation', 'A'],
    [4, 'blank', undefined],
    [5, 'commented-key', 'TOKEN'],
    [6, 'key', 'B'],
  ]);
  t.equal(model.lines.map((l) => l.text).join('\n'), text.slice(1), 'joining the lines gives the text back (BOM aside)');
  t.equal(model.keys[0]!.exampleValue, 'x\r\ny');
});

t.test('syntax errors name the example file and line', async (t) => {
  let error: unknown;
  try {
    parseExample('A=1\nB="open\n', FILE);
  } catch (e) {
    error = e;
  }
  t.type(error, CoffreError);
  t.equal((error as CoffreError).code, 'COFFRE_EXAMPLE_SYNTAX');
  t.same((error as CoffreError).location, { file: FILE, line: 2 });
});

t.test('an empty example has no keys and no lines', async (t) => {
  t.same(parseExample('', FILE), { file: FILE, keys: [], warnings: [], lines: [] });
});
