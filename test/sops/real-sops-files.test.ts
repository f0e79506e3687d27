// Fresh files encrypted by the pinned real sops binary, one per store and per metadata feature, decrypt
// with coffre (MAC verified) to the plaintext that was encrypted.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { SopsStoreFormat } from '../../src/sources/secret-source.js';
import {
  decryptSopsFile,
  listSopsKeys,
  parseAgeIdentities,
  parseSopsFile,
  sopsBinaryText,
  sopsEnvValues,
} from '../../src/sops/index.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../support/sops.js';
import { toolPath } from '../support/tools.js';
import { toJsonLike } from './plain-tree.js';

const run = promisify(execFile);

interface StoreCase {
  name: string;
  file: string;
  format: SopsStoreFormat;
  plaintext: string;
  /** Expected env values (binary: the parsed text is compared instead). */
  env?: Array<[string, string]>;
  tree?: unknown;
  binaryText?: string;
  listing?: Array<[string, string]>;
}

const storeCases: StoreCase[] = [
  {
    name: 'yaml with every scalar type, comments, an unencrypted suffix and a nested map',
    file: 'app.yaml',
    format: 'yaml',
    plaintext: `# leading comment
DB_PASSWORD: "s3cr3t: with colon"
EMPTY: ""
COUNT: 0755
BIG: 9007199254740993
RATIO: 1.50
HUGE: 1e21
FLAG: True
WHEN: 2024-01-01
NOTHING:
PLAIN_unencrypted: keep me clear
MULTI: |
    line one
    line two
nested:
    # inner comment
    inner: 1
`,
    tree: {
      DB_PASSWORD: 's3cr3t: with colon',
      EMPTY: '',
      COUNT: 493,
      BIG: 9007199254740992,
      RATIO: 1.5,
      HUGE: 1e21,
      FLAG: true,
      WHEN: '2024-01-01T00:00:00Z',
      NOTHING: null,
      PLAIN_unencrypted: 'keep me clear',
      MULTI: 'line one\nline two\n',
      nested: { inner: 1 },
    },
    listing: [
      ['DB_PASSWORD', 'set'],
      ['EMPTY', 'empty'],
      ['COUNT', 'set'],
      ['BIG', 'set'],
      ['RATIO', 'set'],
      ['HUGE', 'set'],
      ['FLAG', 'set'],
      ['WHEN', 'set'],
      ['NOTHING', 'empty'],
      ['PLAIN_unencrypted', 'set'],
      ['MULTI', 'set'],
      ['nested', 'set'],
    ],
  },
  {
    name: 'yaml without nested values gives flat env values with Go number formats',
    file: 'flat.yaml',
    format: 'yaml',
    plaintext: 'A: hello\nN: 9007199254740993\nF: 1e21\nB: false\nE: ""\n',
    env: [['A', 'hello'], ['N', '9007199254740993'], ['F', '1000000000000000000000'], ['B', 'false'], ['E', '']],
  },
  {
    name: 'json keeps key order (integer-like keys too) and reads numbers as sops does',
    file: 'app.json',
    format: 'json',
    plaintext: '{"z": "last-first", "10": "ten", "2": "two", "n": 7, "f": 2.50, "h": "<&>", "e": "", "t": true}',
    env: [['z', 'last-first'], ['10', 'ten'], ['2', 'two'], ['n', '7'], ['f', '2.5'], ['h', '<&>'], ['e', ''], ['t', 'true']],
  },
  {
    name: 'dotenv is literal: untrimmed keys, quotes kept, escaped newlines, comments',
    file: 'app.env',
    format: 'dotenv',
    plaintext: 'A=1\nQUOTED="kept quotes"\n# a comment\nEQ=x=y # not a comment\nSPACED = padded \nNL=one\\ntwo\nEMPTY=\n',
    env: [['A', '1'], ['QUOTED', '"kept quotes"'], ['EQ', 'x=y # not a comment'], ['SPACED ', ' padded '], ['NL', 'one\ntwo'], ['EMPTY', '']],
  },
  {
    name: 'ini flattens the keys of every section, go-ini quoting and comment rules applied',
    file: 'app.ini',
    format: 'ini',
    plaintext: '; lead\nglobal = 1\n[db]\npassword = "quoted" ; inline comment\nuser: admin\n[api]\ntoken = abc\\ndef\nempty =\n',
    env: [['global', '1'], ['password', 'quoted'], ['user', 'admin'], ['token', 'abc\\ndef'], ['empty', '']],
  },
  {
    name: 'binary keeps the whole text',
    file: 'app.secrets',
    format: 'binary',
    plaintext: 'A=1\nB="two words"\n',
    binaryText: 'A=1\nB="two words"\n',
  },
];

t.test('files encrypted by the real sops binary decrypt with coffre', async (t) => {
  const key = await newAgeKey();
  const identities = parseAgeIdentities(key.identity, 'test key');
  for (const c of storeCases) {
    t.test(c.name, async (t) => {
      const dir = t.testdir({});
      const file = path.join(dir, c.file);
      await writeSopsFile(file, c.plaintext, key);
      const sops = parseSopsFile(readFileSync(file, 'utf8'), c.format, file);
      const decrypted = await decryptSopsFile(sops, identities);
      t.equal(decrypted.undecryptedComments, 0, 'all comments open');
      if (c.tree !== undefined) t.same(toJsonLike(decrypted.branches[0] ?? null), c.tree);
      if (c.env !== undefined) t.same([...sopsEnvValues(decrypted)], c.env);
      if (c.binaryText !== undefined) t.equal(sopsBinaryText(decrypted), c.binaryText);
      if (c.listing !== undefined) t.same([...listSopsKeys(sops).keys], c.listing);
    });
  }
});

async function sopsWithConfig(dir: string, config: string, name: string, plaintext: string): Promise<string> {
  const configFile = path.join(dir, 'sops-config.yaml');
  writeFileSync(configFile, config);
  const file = path.join(dir, name);
  writeFileSync(file, plaintext);
  const { stdout } = await run(toolPath('sops'), ['--config', configFile, 'encrypt', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  return stdout;
}

t.test('Shamir key groups: any threshold of groups recombine the data key, fewer fail with NO_KEY', async (t) => {
  const dir = t.testdir({});
  const keys: TestAgeKey[] = await Promise.all([newAgeKey(), newAgeKey(), newAgeKey()]);
  const config = `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n${keys.map((k) => `      - age: [${k.recipient}]\n`).join('')}`;
  const text = await sopsWithConfig(dir, config, 'shamir.yaml', 'TOKEN: split-secret\n');
  const sops = parseSopsFile(text, 'yaml', 'shamir.yaml');
  t.equal(sops.metadata.keyGroups.length, 3);
  t.equal(sops.metadata.shamirThreshold, 2);
  const ids = (i: number[]) => i.flatMap((n) => parseAgeIdentities((keys[n] as TestAgeKey).identity, `key ${n}`));
  t.same([...sopsEnvValues(await decryptSopsFile(sops, ids([0, 2])))], [['TOKEN', 'split-secret']]);
  t.same([...sopsEnvValues(await decryptSopsFile(sops, ids([2, 1])))], [['TOKEN', 'split-secret']]);
  await t.rejects(decryptSopsFile(sops, ids([1])), { code: 'COFFRE_SOPS_NO_KEY', message: /only 1 of the 2 key groups/ });
});

t.test('mac_only_encrypted with encrypted_regex: clear values are outside the MAC, encrypted ones inside', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const config = `creation_rules:\n  - age: ${key.recipient}\n    mac_only_encrypted: true\n    encrypted_regex: '^(PASS|nest.*)$'\n`;
  const text = await sopsWithConfig(dir, config, 'm.yaml', 'PASS: secret-one\nCLEAR: visible\nnested:\n    x: 1\n');
  const ids = parseAgeIdentities(key.identity, 'key');
  const sops = parseSopsFile(text, 'yaml', 'm.yaml');
  t.equal(sops.metadata.macOnlyEncrypted, true);
  t.same(toJsonLike((await decryptSopsFile(sops, ids)).branches[0] ?? null), { PASS: 'secret-one', CLEAR: 'visible', nested: { x: 1 } });
  const edited = parseSopsFile(text.replace('CLEAR: visible', 'CLEAR: changed'), 'yaml', 'm.yaml');
  t.same(toJsonLike((await decryptSopsFile(edited, ids)).branches[0] ?? null), { PASS: 'secret-one', CLEAR: 'changed', nested: { x: 1 } }, 'a clear value is not MAC-protected here, as in sops');
  const swapped = text.replace(/^PASS: .*$/m, (text.match(/^ {4}x: (.*)$/m) as RegExpMatchArray)[0].replace('    x:', 'PASS:'));
  await t.rejects(decryptSopsFile(parseSopsFile(swapped, 'yaml', 'm.yaml'), ids), { code: 'COFFRE_SOPS_DECRYPT' });
});

t.test('multi-document YAML: one MAC over every document, keys of all documents listed', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'multi.yaml');
  await writeSopsFile(file, 'A: one\n---\nB: two\n', key);
  const sops = parseSopsFile(readFileSync(file, 'utf8'), 'yaml', file);
  t.equal(sops.branches.length, 2);
  t.same([...listSopsKeys(sops).keys.keys()], ['A', 'B']);
  t.same([...sopsEnvValues(await decryptSopsFile(sops, parseAgeIdentities(key.identity, 'key')))], [['A', 'one'], ['B', 'two']]);
});
