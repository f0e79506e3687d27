// The sops writer against the real sops binary, per store: a rotated sops-made file decrypts with
// `sops decrypt` to what `sops set` would give, differs from the original only in the rotated lines,
// lastmodified and mac, matches `sops set`'s own layout (also for added keys), and `sops set` still works on it.
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { SopsStoreFormat } from '../../src/sources/secret-source.js';
import { decryptSopsFile, parseAgeIdentities, parseSopsFile } from '../../src/sops/index.js';
import { setSopsValues } from '../../src/sops/set-values.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

const run = promisify(execFile);

interface WriterCase {
  format: SopsStoreFormat;
  file: string;
  plaintext: string;
  rotate: Array<[string, string]>;
  add: Array<[string, string]>;
  /** `sops set` index path of a key. */
  sopsPath: (key: string) => string;
  /** Lines of `sops decrypt` output that must appear after rotating and adding. */
  expectLines: string[];
  /** Binary only: the env text after the change, as `sops set ["data"]` receives it. */
  binaryAfter?: string;
}

const cases: WriterCase[] = [
  {
    format: 'yaml',
    file: 'app.yaml',
    plaintext: '# leading comment\nDB_USER: app\nDB_PASSWORD: old-pass\nPORT: 5432\nnested:\n    a: 1\nNOTE_unencrypted: clear\nLAST: x\n',
    rotate: [['DB_PASSWORD', 'n3w p@ss: with colon'], ['PORT', '5433'], ['NOTE_unencrypted', 'still clear']],
    add: [['NEW_KEY', 'added value'], ['y', 'yes']],
    sopsPath: (k) => `["${k}"]`,
    expectLines: ["DB_PASSWORD: 'n3w p@ss: with colon'", 'PORT: "5433"', 'NOTE_unencrypted: still clear', 'NEW_KEY: added value', '"y": "yes"'],
  },
  {
    format: 'json',
    file: 'app.json',
    plaintext: '{"A": "old", "n": 7, "nested": {"x": 1}, "Z": "last"}',
    rotate: [['A', 'rotated <&> value']],
    add: [['NEW', 'x<y'], ['10', 'ten']],
    sopsPath: (k) => `["${k}"]`,
    expectLines: ['\t"A": "rotated \\u003c\\u0026\\u003e value",', '\t"NEW": "x\\u003cy",', '\t"10": "ten"'],
  },
  {
    format: 'dotenv',
    file: 'app.env',
    plaintext: 'A=1\nB=old\n# comment\nEMPTY=\nC=x=y\n',
    rotate: [['B', 'line1\nline2'], ['EMPTY', 'now set']],
    add: [['NEW', 'added']],
    sopsPath: (k) => `["${k}"]`,
    expectLines: ['B=line1\\nline2', 'EMPTY=now set', 'NEW=added'],
  },
  {
    format: 'ini',
    file: 'app.ini',
    plaintext: '[db]\npassword = old\nuser = admin\n[api]\ntoken = abc\n',
    rotate: [['password', 'rotated-pass']],
    add: [['a_much_longer_key_name', 'added']],
    sopsPath: (k) => (k === 'a_much_longer_key_name' ? `["api"]["${k}"]` : `["db"]["${k}"]`),
    expectLines: ['password = rotated-pass', 'token                  = abc', 'a_much_longer_key_name = added'],
  },
  {
    format: 'binary',
    file: 'app.secrets',
    plaintext: 'A=1\nB="old value"\n# comment\nC=3\n',
    rotate: [['B', 'new $value "quoted"']],
    add: [['D', 'added']],
    sopsPath: () => '["data"]',
    expectLines: ['B="new \\$value \\"quoted\\""', 'D="added"'],
    binaryAfter: 'A=1\nB="new \\$value \\"quoted\\""\n# comment\nC=3\nD="added"\n',
  },
];

function sopsEnv(key: TestAgeKey): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: key.identity };
}

async function sopsDecrypt(file: string, format: SopsStoreFormat, key: TestAgeKey): Promise<string> {
  const { stdout } = await run(toolPath('sops'), ['decrypt', '--input-type', format, '--output-type', format, file], { env: sopsEnv(key) });
  return stdout;
}

async function sopsSet(file: string, format: SopsStoreFormat, indexPath: string, value: string, key: TestAgeKey): Promise<void> {
  await run(toolPath('sops'), ['set', '--input-type', format, '--output-type', format, file, indexPath, JSON.stringify(value)], { env: sopsEnv(key) });
}

/** Hides what legitimately differs between two encryptions of the same content: ciphertexts and times. */
function normalise(text: string, format: SopsStoreFormat): string {
  let out = text.replace(/ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:(\w+)\]/g, 'ENC[$1]').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, 'TIME');
  // `sops set` adds the default unencrypted_suffix that `sops encrypt` left out of a binary envelope.
  if (format === 'binary') out = out.replace(/\n\t\t"unencrypted_suffix": "_unencrypted",/, '');
  // sops 3.11 writes the INI [sops] keys in random order: compare that section as a set of lines.
  if (format === 'ini') out = out.replace(/\[sops\]\n([\s\S]*)$/, (_, body: string) => `[sops]\n${body.split('\n').sort().join('\n')}`);
  return out;
}

async function rotate(file: string, format: SopsStoreFormat, key: TestAgeKey, changes: Array<[string, string]>, now: Date): Promise<string> {
  const sops = parseSopsFile(readFileSync(file, 'utf8'), format, file);
  const decrypted = await decryptSopsFile(sops, parseAgeIdentities(key.identity, 'test key'));
  return setSopsValues({ sops, decrypted, changes: new Map(changes), now }).text;
}

t.test('rotating values of sops-made files, per store', async (t) => {
  const key = await newAgeKey();
  const now = new Date('2030-01-02T03:04:05.678Z');
  for (const c of cases) {
    t.test(c.format, async (t) => {
      const dir = t.testdir({});
      const file = path.join(dir, c.file);
      await writeSopsFile(file, c.plaintext, key);
      const original = readFileSync(file, 'utf8');

      // Rotation only: the diff is the rotated value lines, lastmodified and mac.
      const rotated = await rotate(file, c.format, key, c.rotate, now);
      const before = original.split('\n');
      const after = rotated.split('\n');
      t.equal(after.length, before.length, 'no line added or removed');
      const changedLines = after.flatMap((line, i) => (line === before[i] ? [] : [line]));
      const rotatedKeys = c.format === 'binary' ? ['"data"'] : c.rotate.map(([k]) => (c.format === 'json' ? `"${k}"` : k));
      const allowed = (line: string): boolean =>
        /lastmodified/.test(line) || /^\s*("mac"|mac|sops_mac)\s*[:=]/.test(line) || rotatedKeys.some((k) => line.trimStart().startsWith(k));
      t.same(changedLines.filter((l) => !allowed(l)), [], 'only rotated lines, lastmodified and mac differ');
      t.equal(changedLines.length, rotatedKeys.length + 2);
      t.match(rotated, c.format === 'json' || c.format === 'binary' ? '"lastmodified": "2030-01-02T03:04:05Z"' : /lastmodified.*2030-01-02T03:04:05Z/, 'lastmodified is now, in whole seconds');

      // Rotation plus additions, compared with `sops set` doing the same on a copy of the original.
      const mine = path.join(dir, `mine-${c.file}`);
      writeFileSync(mine, await rotate(file, c.format, key, [...c.rotate, ...c.add], now));
      const twin = path.join(dir, `twin-${c.file}`);
      copyFileSync(file, twin);
      if (c.binaryAfter !== undefined) await sopsSet(twin, c.format, '["data"]', c.binaryAfter, key);
      else for (const [k, v] of [...c.rotate, ...c.add]) await sopsSet(twin, c.format, c.sopsPath(k), v, key);
      const myPlain = await sopsDecrypt(mine, c.format, key);
      t.equal(myPlain, await sopsDecrypt(twin, c.format, key), 'sops decrypt reads the same document as after sops set');
      for (const line of c.expectLines) t.ok(myPlain.split('\n').includes(line), `sops decrypt shows ${JSON.stringify(line)}`);
      t.equal(normalise(readFileSync(mine, 'utf8'), c.format), normalise(readFileSync(twin, 'utf8'), c.format), 'same layout as sops set writes');

      // sops keeps working on the rotated file.
      const extra = c.format === 'binary' ? 'Z="after"\n' : 'after';
      await sopsSet(mine, c.format, c.format === 'binary' ? '["data"]' : c.sopsPath(c.format === 'ini' ? 'password' : 'AFTER'), extra, key);
      const afterSet = await sopsDecrypt(mine, c.format, key);
      t.ok(afterSet.includes(c.format === 'binary' ? 'Z="after"' : 'after'), 'sops set still works on it');
      t.ok((await decryptSopsFile(parseSopsFile(readFileSync(mine, 'utf8'), c.format, mine), parseAgeIdentities(key.identity, 'k'))).branches.length > 0, 'and coffre reads the result');
    });
  }
});

t.test('an unchanged value keeps its ciphertext and a no-op change leaves the file untouched', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'same.yaml');
  await writeSopsFile(file, 'A: same\nB: other\n', key);
  const original = readFileSync(file, 'utf8');
  t.equal(await rotate(file, 'yaml', key, [['A', 'same']], new Date()), original);
});

t.test('setting a nested value is refused with COFFRE_SOURCE_NOT_FLAT, and no value is named', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'nested.yaml');
  await writeSopsFile(file, 'DEEP:\n    a: hidden-value\n', key);
  await t.rejects(rotate(file, 'yaml', key, [['DEEP', 'flat-now']], new Date()), { code: 'COFFRE_SOURCE_NOT_FLAT', message: /^(?!.*(hidden-value|flat-now))/ });
});
