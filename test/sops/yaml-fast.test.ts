// The YAML store's fast path (src/sops/yaml-fast.ts) reads the layout `sops encrypt` writes for flat,
// age-keyed files into exactly the tree the general reader (the `yaml` package) gives, and declines
// everything else, which the general reader then reads (or refuses) as before. Files made by the real sops binary.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { readCanonicalSopsYaml } from '../../src/sops/yaml-fast.js';
import { readYamlStore, readYamlStoreGeneral, resolveGoYamlPlain } from '../../src/sops/yaml-store.js';
import { decryptSopsFile, parseAgeIdentities, parseSopsFile, sopsEnvValues } from '../../src/sops/index.js';
import { newAgeKey } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

const run = promisify(execFile);

async function sopsEncrypt(file: string, plaintext: string, args: string[], key: string): Promise<string> {
  writeFileSync(file, plaintext, { mode: 0o600 });
  await run(toolPath('sops'), ['encrypt', ...args, '--in-place', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: key } });
  return readFileSync(file, 'utf8');
}

t.test('sops-written flat files take the fast path and give the general reader’s tree; others fall back', async (t) => {
  const dir = t.testdir({});
  const a = await newAgeKey();
  const b = await newAgeKey();
  const flat = 'DB_PASSWORD: fast-path-secret-1\nAPI_TOKEN: fast-path-secret-2\n_x9: v\n';
  const cases: Array<{ name: string; plaintext: string; args: string[]; fast: boolean }> = [
    { name: 'flat, one age key', plaintext: flat, args: ['--age', a.recipient], fast: true },
    { name: 'flat, two age keys', plaintext: flat, args: ['--age', `${a.recipient},${b.recipient}`], fast: true },
    { name: 'flat, mac_only_encrypted + encrypted_regex', plaintext: flat, args: ['--age', a.recipient, '--mac-only-encrypted', '--encrypted-regex', '^(DB_|API_)'], fast: false },
    { name: 'flat, mac_only_encrypted', plaintext: flat, args: ['--age', a.recipient, '--mac-only-encrypted'], fast: true },
    { name: 'an empty value', plaintext: 'A: x\nEMPTY: ""\n', args: ['--age', a.recipient], fast: false },
    { name: 'a comment', plaintext: '# note\nA: x\n', args: ['--age', a.recipient], fast: false },
    { name: 'a nested map', plaintext: 'A: x\nn:\n    b: y\n', args: ['--age', a.recipient], fast: false },
    { name: 'an unencrypted suffix', plaintext: 'A: x\nB_unencrypted: clear\n', args: ['--age', a.recipient], fast: false },
    { name: 'typed scalars', plaintext: 'A: 12\nB: true\nC: 1.5\n', args: ['--age', a.recipient], fast: true },
  ];
  for (const c of cases) {
    const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.sops.yaml`);
    const text = await sopsEncrypt(file, c.plaintext, c.args, a.identity);
    const fast = readCanonicalSopsYaml(text, resolveGoYamlPlain);
    t.equal(fast !== undefined, c.fast, `${c.name}: fast path ${c.fast ? 'taken' : 'declined'}`);
    t.same(readYamlStore(text, file), readYamlStoreGeneral(text, file), `${c.name}: the same tree as the general reader`);
    if (fast !== undefined) t.strictSame(fast, readYamlStoreGeneral(text, file), `${c.name}: strictly the same (types, spans, lines)`);
    const plain = await decryptSopsFile(parseSopsFile(text, 'yaml', file), parseAgeIdentities(a.identity, 'key'));
    t.ok(plain.branches[0]!.items.length > 0, `${c.name}: decrypts, MAC verified`);
    if (c.fast) t.ok(sopsEnvValues(plain).size > 0, `${c.name}: env values`);
  }
});

t.test('a sops-written file edited out of the layout falls back: the general reader keeps its errors', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 's.sops.yaml');
  const text = await sopsEncrypt(file, 'A: one-secret\nB: two-secret\n', ['--age', key.recipient], key.identity);
  t.ok(readCanonicalSopsYaml(text, resolveGoYamlPlain), 'the untouched file is in the layout');
  const lines = text.split('\n');
  const duplicate = [lines[0], ...lines].join('\n');
  t.equal(readCanonicalSopsYaml(duplicate, resolveGoYamlPlain), undefined, 'a duplicate key: declined');
  t.throws(() => readYamlStore(duplicate, file), { code: 'COFFRE_SOPS_SYNTAX', location: { file, line: 2 } }, 'and refused by the general reader with its line');
  const boolKey = text.replace(/^A:/, 'true:');
  t.equal(readCanonicalSopsYaml(boolKey, resolveGoYamlPlain), undefined, 'a key go-yaml reads as a bool: declined');
  t.throws(() => readYamlStore(boolKey, file), { code: 'COFFRE_SOPS_SYNTAX' }, 'refused as before (only string keys)');
  const crlf = text.replaceAll('\n', '\r\n');
  t.equal(readCanonicalSopsYaml(crlf, resolveGoYamlPlain), undefined, 'CRLF: declined');
  t.same(readYamlStore(crlf, file).branches.length, 1, 'the general reader reads it');
  const badIndent = text.replace('\n    lastmodified:', '\n   lastmodified:');
  t.equal(readCanonicalSopsYaml(badIndent, resolveGoYamlPlain), undefined, 'a broken indent: declined');
  t.throws(() => readYamlStore(badIndent, file), { code: 'COFFRE_SOPS_SYNTAX' }, 'and refused with a syntax error');
  const trailing = text.replace(/version: (\S+)\n$/, 'version: $1\nextra:\n');
  t.equal(readCanonicalSopsYaml(trailing, resolveGoYamlPlain), undefined, 'an unknown top-level key after sops: declined');
});
