// Every upstream sops fixture decrypts with its MAC verified and equals the README's expected plaintext;
// sops-age agrees where it supports the file; key names are listed without any identity.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { decryptSops } from 'sops-age';
import type { SopsStoreFormat } from '../../src/sources/secret-source.js';
import {
  dataKeyOf,
  decryptSopsFile,
  decryptSopsTree,
  listSopsKeys,
  parseAgeIdentities,
  parseSopsFile,
  sopsBinaryText,
  sopsEnvValues,
} from '../../src/sops/index.js';
import { readmeExpectations, toJsonLike, upstreamDir } from './plain-tree.js';

const read = (file: string): string => readFileSync(path.join(upstreamDir, file), 'utf8');
const expectations = readmeExpectations();

interface AgeCase {
  file: string;
  format: SopsStoreFormat;
  keys: string;
  /** sops-age fileType, or null where sops-age cannot read the file (ini, post-quantum). */
  sopsAge: 'yaml' | 'json' | 'env' | null;
}

const ageCases: AgeCase[] = [
  { file: 'getsops-sops/example.yaml', format: 'yaml', keys: 'getsops-sops/keys.txt', sopsAge: 'yaml' },
  { file: 'getsops-sops/example.json', format: 'json', keys: 'getsops-sops/keys.txt', sopsAge: 'json' },
  { file: 'getsops-sops/example.ini', format: 'ini', keys: 'getsops-sops/keys.txt', sopsAge: null },
  { file: 'getsops-sops/example.txt', format: 'binary', keys: 'getsops-sops/keys.txt', sopsAge: 'json' },
  { file: 'humphd-sops-age/secret.enc.yaml', format: 'yaml', keys: 'humphd-sops-age/key.txt', sopsAge: 'yaml' },
  { file: 'humphd-sops-age/secret.enc.json', format: 'json', keys: 'humphd-sops-age/key.txt', sopsAge: 'json' },
  { file: 'humphd-sops-age/secret.enc.env', format: 'dotenv', keys: 'humphd-sops-age/key.txt', sopsAge: 'env' },
  { file: 'fluxcd-kustomize-controller/algorithms/age.yaml', format: 'yaml', keys: 'fluxcd-kustomize-controller/keys/age.txt', sopsAge: 'yaml' },
  { file: 'fluxcd-kustomize-controller/algorithms/age-pq.yaml', format: 'yaml', keys: 'fluxcd-kustomize-controller/keys/age-pq.txt', sopsAge: null },
  { file: 'fluxcd-kustomize-controller/component/env.env', format: 'dotenv', keys: 'fluxcd-kustomize-controller/keys/age.txt', sopsAge: 'env' },
  { file: 'fluxcd-kustomize-controller/files/file.txt', format: 'binary', keys: 'fluxcd-kustomize-controller/keys/age.txt', sopsAge: 'json' },
  { file: 'fluxcd-kustomize-controller/global/secret.yaml', format: 'yaml', keys: 'fluxcd-kustomize-controller/keys/age-global.txt', sopsAge: 'yaml' },
];

/** The README shows INI files without go-ini's implicit, empty DEFAULT section. */
function withoutEmptyDefault(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('DEFAULT' in value)) return value;
  const { DEFAULT, ...rest } = value as Record<string, unknown>;
  return Object.keys(DEFAULT as object).length === 0 ? rest : value;
}

const expectedOf = (file: string): unknown => {
  const expectation = expectations.get(file);
  if (expectation) return JSON.parse(expectation.json);
  // Sections without a JSON block state the plaintext in a sentence.
  if (file === 'fluxcd-kustomize-controller/component/env.env') return { key: 'value' };
  if (file === 'humphd-sops-age/secret.enc.json') return JSON.parse(read('humphd-sops-age/secret.json'));
  throw new Error(`no expected plaintext for ${file}`);
};

t.test('every age fixture decrypts with its MAC verified to the README plaintext', async (t) => {
  for (const c of ageCases) {
    t.test(c.file, async (t) => {
      const sops = parseSopsFile(read(c.file), c.format, c.file);
      const decrypted = await decryptSopsFile(sops, parseAgeIdentities(read(c.keys), c.keys));
      t.equal(decrypted.undecryptedComments, 0, 'every encrypted comment opens');
      const actual = withoutEmptyDefault(toJsonLike(decrypted.branches[0] ?? null));
      t.equal(JSON.stringify(actual), JSON.stringify(expectedOf(c.file)), 'same values in the same order');
      const readmeKey = expectations.get(c.file)?.dataKey;
      if (readmeKey) t.equal(Buffer.from(dataKeyOf(decrypted)).toString('hex'), readmeKey, 'the unwrapped data key is the README one');
    });
  }
});

t.test('sops-age agrees with coffre on every fixture it supports', async (t) => {
  for (const c of ageCases.filter((c) => c.sopsAge !== null)) {
    t.test(c.file, async (t) => {
      const secretKey = read(c.keys)
        .split('\n')
        .find((l) => l.startsWith('AGE-SECRET-KEY-1')) as string;
      const theirs = (await decryptSops(read(c.file), { secretKey, fileType: c.sopsAge ?? undefined })) as Record<string, unknown>;
      const sops = parseSopsFile(read(c.file), c.format, c.file);
      const ours = toJsonLike((await decryptSopsFile(sops, parseAgeIdentities(read(c.keys), c.keys))).branches[0] ?? null);
      t.same(theirs, ours);
    });
  }
});

t.test('the PGP-only and ssh-recipient fixtures decrypt and verify with their known data keys', async (t) => {
  // Data keys unwrapped outside coffre: gpg with sops_functional_tests_key.asc, and the age ssh-ed25519
  // stanza with mic92-sops-nix/ssh-ed25519-key (coffre reads neither kind of key).
  const cases: Array<{ file: string; format: SopsStoreFormat; key: string; expected: unknown; comments?: string[] }> = [
    { file: 'getsops-sops-pgp/format.enc.yaml', format: 'yaml', key: 'af5e68dd342b72c6a0475f81a50da4fde898f4b7742c92cbcf1668211411f4e4', expected: { foo: 'bar' } },
    { file: 'getsops-sops-pgp/format.enc.json', format: 'json', key: '9f6aeda6383502c38f7dae6fbbb8cb6890582adb0335effa8952fe590d7a9596', expected: { foo: 'bar' } },
    { file: 'getsops-sops-pgp/format.enc.env', format: 'dotenv', key: '322d9a97997823fb2bf42f55a6c26100cbaf0520cf88bb7ebee1cf47dd6d318d', expected: { 'foo ': ' bar' } },
    { file: 'getsops-sops-pgp/format.enc.ini', format: 'ini', key: 'ce46fd76883106d55913ff2207e160bbeac65a71d6e1cf84c510614bed6f8ccd', expected: { foo: { bar: 'baz' } } },
    { file: 'getsops-sops-pgp/format-2.enc.ini', format: 'ini', key: '200b251d35608cb3451d26d95d0f6c4580575d8f61d908b6d224fc488c65263f', expected: { foo: { bar: 'baz' } } },
    {
      file: 'getsops-sops-pgp/comments.enc.yaml',
      format: 'yaml',
      key: '61bec946f5783fd4cea3d1b1ce407fce2b6e81fc301cc539c422015e27f6d1be',
      expected: { lorem: 'ipsum', dolor: 'sit' },
      comments: [' first comment in file', ' this-is-a-comment'],
    },
    { file: 'mic92-sops-nix/secrets-native-ssh.yaml', format: 'yaml', key: '291bc7e85228e839d712016e1a3152ef3e97edc1d25ff60952d08f60b2375ae1', expected: { test_key: 'test_value' } },
  ];
  for (const c of cases) {
    t.test(c.file, async (t) => {
      const decrypted = decryptSopsTree(parseSopsFile(read(c.file), c.format, c.file), Buffer.from(c.key, 'hex'));
      const branch = decrypted.branches[0];
      t.same(withoutEmptyDefault(toJsonLike(branch ?? null)), c.expected);
      if (c.comments) t.same(branch?.items.filter((i) => i.kind === 'comment').map((i) => (i as { text: string }).text), c.comments);
    });
  }
});

t.test('a file whose recipients are not among the identities fails with COFFRE_SOPS_NO_KEY naming the recipients', async (t) => {
  const file = 'mic92-sops-nix/secrets-native-ssh.yaml';
  const sops = parseSopsFile(read(file), 'yaml', file);
  const identities = parseAgeIdentities(read('getsops-sops/keys.txt'), 'keys.txt');
  await t.rejects(decryptSopsFile(sops, identities), { code: 'COFFRE_SOPS_NO_KEY', message: /ssh-ed25519 AAAAC3.*pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0/ });
  await t.rejects(decryptSopsFile(sops, []), { code: 'COFFRE_SOPS_NO_KEY', message: /no age identity was given/ });
});

t.test('a PGP-only file is COFFRE_SOPS_UNSUPPORTED, naming its fingerprint', async (t) => {
  const file = 'getsops-sops-pgp/format.enc.yaml';
  const identities = parseAgeIdentities(read('getsops-sops/keys.txt'), 'keys.txt');
  await t.rejects(decryptSopsFile(parseSopsFile(read(file), 'yaml', file), identities), {
    code: 'COFFRE_SOPS_UNSUPPORTED',
    message: /pgp FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4; coffre unwraps age keys only/,
  });
});

t.test('key names and emptiness are listed without any identity', async (t) => {
  const cases: Array<{ file: string; format: SopsStoreFormat; keys: Array<[string, string]>; nested: string[] }> = [
    {
      file: 'getsops-sops/example.json',
      format: 'json',
      keys: [['firstName', 'set'], ['lastName', 'set'], ['age', 'set'], ['address', 'set'], ['phoneNumbers', 'set'], ['anEmptyValue', 'empty']],
      nested: ['address', 'phoneNumbers'],
    },
    { file: 'humphd-sops-age/secret.enc.env', format: 'dotenv', keys: [['secret', 'set'], ['another_secret', 'set']], nested: [] },
    {
      file: 'getsops-sops/example.ini',
      format: 'ini',
      keys: ['firstName', 'lastName', 'age', 'city', 'postalCode', 'state', 'streetAddress', 'home', 'office', 'notsecret_unencrypted'].map((k) => [k, 'set']),
      nested: [],
    },
    { file: 'getsops-sops-pgp/format.enc.env', format: 'dotenv', keys: [['foo ', 'set']], nested: [] },
  ];
  for (const c of cases) {
    const listing = listSopsKeys(parseSopsFile(read(c.file), c.format, c.file));
    t.same([...listing.keys], c.keys, `${c.file}: names in order with presence`);
    t.same([...listing.nested], c.nested, `${c.file}: nested keys flagged`);
  }
  t.throws(() => listSopsKeys(parseSopsFile(read('getsops-sops/example.txt'), 'binary', 'example.txt')), { code: 'COFFRE_SOPS_UNSUPPORTED' });
});

t.test('flat env values: nested top-level values are refused, binary data is read as text', async (t) => {
  const ids = parseAgeIdentities(read('getsops-sops/keys.txt'), 'keys.txt');
  const yaml = await decryptSopsFile(parseSopsFile(read('getsops-sops/example.yaml'), 'yaml', 'example.yaml'), ids);
  t.throws(() => sopsEnvValues(yaml), { code: 'COFFRE_SOURCE_NOT_FLAT', message: /"app2" holds a nested map/ });
  const env = await decryptSopsFile(
    parseSopsFile(read('humphd-sops-age/secret.enc.env'), 'dotenv', 'secret.enc.env'),
    parseAgeIdentities(read('humphd-sops-age/key.txt'), 'key.txt'),
  );
  t.same([...sopsEnvValues(env)], [['secret', 'this is a secret'], ['another_secret', '7']]);
  const ini = await decryptSopsFile(parseSopsFile(read('getsops-sops/example.ini'), 'ini', 'example.ini'), ids);
  t.equal(sopsEnvValues(ini).get('notsecret_unencrypted'), 'hi there!');
  const bin = await decryptSopsFile(parseSopsFile(read('getsops-sops/example.txt'), 'binary', 'example.txt'), ids);
  t.match(sopsBinaryText(bin), /^Welcome to SOPS!\n/);
});
