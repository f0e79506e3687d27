// Store parsing without keys: go-yaml v3 scalar resolution, syntax and metadata errors with file:line and
// no value text, JSON order and numbers, dotenv literalness, go-ini rules, metadata unflattening, Go text forms.
import t from 'tap';
import { CoffreError } from '../../src/errors.js';
import { canonicalTimeText, formatGoFloat, reformatRfc3339, yamlTimestampAsTime } from '../../src/sops/go-scalars.js';
import { parseSopsFile, listSopsKeys, JsonInteger, YamlTimestamp, isSopsMap, type SopsMap } from '../../src/sops/index.js';
import { unflattenMetadata } from '../../src/sops/metadata.js';
import { resolveGoYamlPlain } from '../../src/sops/yaml-store.js';
import { re2ToRegExp } from '../../src/sops/encryption-rule.js';
import { combineShamirParts, splitShamirSecret } from '../../src/sops/shamir.js';
import { randomBytes } from 'node:crypto';

const META_YAML = 'sops:\n    lastmodified: "2024-01-01T00:00:00Z"\n    mac: ""\n    version: 3.11.0\n';

t.test('go-yaml v3 resolution of plain scalars', async (t) => {
  const cases: Array<{ text: string; expected: unknown }> = [
    { text: 'true', expected: true },
    { text: 'True', expected: true },
    { text: 'yes', expected: 'yes' },
    { text: 'on', expected: 'on' },
    { text: 'null', expected: null },
    { text: '~', expected: null },
    { text: '12', expected: 12n },
    { text: '0755', expected: 493n },
    { text: '0o17', expected: 15n },
    { text: '0x1F', expected: 31n },
    { text: '0b101', expected: 5n },
    { text: '1_000', expected: 1000n },
    { text: '08', expected: 8 },
    { text: '1.5', expected: 1.5 },
    { text: '1e3', expected: 1000 },
    { text: '.5', expected: 0.5 },
    { text: '.inf', expected: Infinity },
    { text: '-.inf', expected: -Infinity },
    { text: '9223372036854775807', expected: 9223372036854775807n },
    { text: '-', expected: '-' },
    { text: '1.2.3', expected: '1.2.3' },
    { text: 'abc', expected: 'abc' },
  ];
  for (const c of cases) t.same(resolveGoYamlPlain(c.text), c.expected, `${c.text} → ${String(c.expected)}`);
  t.ok(Number.isNaN(resolveGoYamlPlain('.nan')), '.nan is NaN');
  const ts = resolveGoYamlPlain('2024-1-2 3:04:05.5');
  t.ok(ts instanceof YamlTimestamp, 'timestamps are recognised');
  t.equal((ts as YamlTimestamp).text, '2024-1-2 3:04:05.5', 'and keep their text');
  t.equal((ts as YamlTimestamp).asTime, '2024-01-02T03:04:05.5Z');
});

t.test('Go text forms of floats and times', async (t) => {
  const floats: Array<[number, string]> = [
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [25.4, '25.4'],
    [1234568000, '1234568000'],
    [-0, '-0'],
    [Infinity, '+Inf'],
    [0.1 + 0.2, '0.30000000000000004'],
  ];
  for (const [n, text] of floats) t.equal(formatGoFloat(n), text);
  t.equal(yamlTimestampAsTime('2024-02-30'), undefined, 'an impossible date is not a timestamp');
  t.equal(yamlTimestampAsTime('2001-12-14t21:59:43.10-05:00'), '2001-12-14T21:59:43.1-05:00');
  t.equal(canonicalTimeText('2024-01-01T00:00:00.000000000+00:00'), '2024-01-01T00:00:00Z');
  t.equal(reformatRfc3339('2022-03-15T22:11:15.123Z'), '2022-03-15T22:11:15Z');
  t.equal(reformatRfc3339('2022-03-15 22:11:15Z'), undefined);
});

t.test('syntax errors name file:line and never the offending text', async (t) => {
  const cases: Array<{ name: string; format: 'yaml' | 'json' | 'dotenv' | 'ini'; text: string; line: number }> = [
    { name: 'yaml duplicate key', format: 'yaml', text: `A: secret-one\nA: secret-two\n${META_YAML}`, line: 2 },
    { name: 'yaml bad indentation', format: 'yaml', text: `A: secret-one\n  B: secret-two\n  - x\n${META_YAML}`, line: 1 },
    { name: 'yaml non-string key', format: 'yaml', text: `A: secret-one\n1: secret-two\n${META_YAML}`, line: 2 },
    { name: 'yaml sequence document', format: 'yaml', text: '- secret-one\n', line: 1 },
    { name: 'json missing comma', format: 'json', text: '{\n"A": "secret-one"\n"B": "secret-two"}', line: 3 },
    { name: 'json top-level array', format: 'json', text: '["secret-one"]', line: 1 },
    { name: 'dotenv line without =', format: 'dotenv', text: 'A=1\nsecret-two\n', line: 2 },
    { name: 'ini line without delimiter', format: 'ini', text: '[s]\nA = 1\nsecret-two\n', line: 3 },
    { name: 'ini unclosed section', format: 'ini', text: '[secret-two\n', line: 1 },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      let error: unknown;
      try {
        parseSopsFile(c.text, c.format, 'f.x');
      } catch (e) {
        error = e;
      }
      t.ok(error instanceof CoffreError, 'a CoffreError');
      t.equal((error as CoffreError).code, 'COFFRE_SOPS_SYNTAX');
      t.equal((error as CoffreError).location.line, c.line);
      t.equal((error as CoffreError).location.file, 'f.x');
      t.notMatch((error as Error).message, /secret-/, 'no value text in the message');
    });
  }
});

t.test('missing or invalid metadata is COFFRE_SOPS_METADATA', async (t) => {
  const cases: Array<{ name: string; format: 'yaml' | 'json' | 'dotenv' | 'ini'; text: string; message: RegExp }> = [
    { name: 'plain yaml', format: 'yaml', text: 'A: 1\n', message: /no sops metadata/ },
    { name: 'plain json', format: 'json', text: '{"A": 1}', message: /no sops metadata/ },
    { name: 'plain dotenv', format: 'dotenv', text: 'A=1\n', message: /no sops metadata/ },
    { name: 'plain ini', format: 'ini', text: '[a]\nb = 1\n', message: /no sops metadata/ },
    { name: 'no lastmodified', format: 'yaml', text: 'A: 1\nsops:\n    mac: ""\n', message: /no lastmodified/ },
    { name: 'bad lastmodified', format: 'yaml', text: 'A: 1\nsops:\n    lastmodified: yesterday\n', message: /not an RFC 3339/ },
    { name: 'two rules', format: 'yaml', text: `A: 1\n${META_YAML}    encrypted_regex: x\n    unencrypted_suffix: _u\n`, message: /more than one encryption rule/ },
    { name: 'list gap', format: 'dotenv', text: 'A=1\nsops_lastmodified=2024-01-01T00:00:00Z\nsops_age__list_1__map_recipient=age1x\n', message: /gap/ },
  ];
  for (const c of cases) t.throws(() => parseSopsFile(c.text, c.format, 'f'), { code: 'COFFRE_SOPS_METADATA', message: c.message }, c.name);
});

t.test('metadata unflattening rebuilds maps and lists', async (t) => {
  const flat = new Map([
    ['age__list_0__map_recipient', 'age1a'],
    ['age__list_0__map_enc', 'E0'],
    ['age__list_1__map_recipient', 'age1b'],
    ['age__list_1__map_enc', 'E1'],
    ['key_groups__list_0__map_age__list_0__map_recipient', 'age1c'],
    ['lastmodified', '2024-01-01T00:00:00Z'],
  ]);
  t.same(unflattenMetadata(flat, 'f'), {
    age: [
      { recipient: 'age1a', enc: 'E0' },
      { recipient: 'age1b', enc: 'E1' },
    ],
    key_groups: [{ age: [{ recipient: 'age1c' }] }],
    lastmodified: '2024-01-01T00:00:00Z',
  });
  t.throws(() => unflattenMetadata(new Map([['a', 'x'], ['a__map_b', 'y']]), 'f'), { code: 'COFFRE_SOPS_METADATA' }, 'a value cannot also be a container');
});

t.test('json keeps source order and int64 precision', async (t) => {
  const sops = parseSopsFile('{"b": 1, "10": 2, "1": 9223372036854775807, "f": 1.0, "sops": {"lastmodified": "2024-01-01T00:00:00Z"}}', 'json', 'f.json');
  const branch = sops.branches[0] as SopsMap;
  const entries = branch.items.filter((i) => i.kind === 'entry');
  t.same(entries.map((e) => e.key), ['b', '10', '1', 'f']);
  t.ok(entries[2]?.kind === 'entry' && entries[2].value instanceof JsonInteger && entries[2].value.value === 9223372036854775807n);
  t.equal(entries[3]?.kind === 'entry' && entries[3].value, 1, '1.0 is a float');
});

t.test('ini: DEFAULT keys, repeated sections, last value of a repeated key, """ values', async (t) => {
  const text = 'top = 1\n[a]\nk = one\nk = two\n[a]\nm = """multi\nline"""\n[sops]\nlastmodified = 2024-01-01T00:00:00Z\n';
  const sops = parseSopsFile(text, 'ini', 'f.ini');
  const sections = (sops.branches[0] as SopsMap).items.flatMap((i) => (i.kind === 'entry' ? [i.key] : []));
  t.same(sections, ['DEFAULT', 'a', 'a']);
  t.same([...listSopsKeys(sops).keys.keys()], ['top', 'k', 'm']);
  const second = (sops.branches[0] as SopsMap).items[2];
  t.ok(second?.kind === 'entry' && isSopsMap(second.value) && second.value.items[0]?.kind === 'entry' && second.value.items[0].value === 'multi\nline');
});

t.test('RE2 patterns: translated when equivalent, refused otherwise', async (t) => {
  t.ok(re2ToRegExp('^(data|stringData)$', 'f').test('stringData'));
  t.ok(re2ToRegExp('(?i)^PASS', 'f').test('password'));
  t.ok(re2ToRegExp('(?P<n>x)\\z', 'f').test('ax'));
  t.notOk(re2ToRegExp('x\\z', 'f').test('x\n'));
  t.ok(re2ToRegExp('(?:a|b)c', 'f').test('bc'), 'non-capturing groups are fine');
  t.throws(() => re2ToRegExp('a(?=b)', 'f'), { code: 'COFFRE_SOPS_UNSUPPORTED' });
  t.throws(() => re2ToRegExp('[[:alpha:]]', 'f'), { code: 'COFFRE_SOPS_UNSUPPORTED' });
});

t.test('Shamir parts recombine from any threshold subset', async (t) => {
  const secret = randomBytes(32);
  const parts = splitShamirSecret(secret, 3, 2, (n) => randomBytes(n));
  t.same(Buffer.from(combineShamirParts([parts[0] as Uint8Array, parts[2] as Uint8Array])), secret);
  t.same(Buffer.from(combineShamirParts([parts[2] as Uint8Array, parts[1] as Uint8Array])), secret);
});
