// The node:crypto age reader (src/sops/age-file.ts) against age-encryption as the reference: files it makes
// (1-chunk, multi-chunk, exactly one full chunk, empty) decrypt to the same bytes; tampered files, wrong keys
// and malformed armor are refused. Then sops files made by the real sops binary for a post-quantum
// (mlkem768x25519) recipient: the only case that still loads age-encryption, lazily.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { armor, Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decodeAgeArmor, decryptAgePayload, parseAgeHeader } from '../../src/sops/age-file.js';
import { decryptSopsFile, parseAgeIdentities, parseSopsFile, sopsEnvValues, unwrapDataKey } from '../../src/sops/index.js';
import { NativeX25519Identity } from '../../src/sops/native-x25519.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

const run = promisify(execFile);

async function ageFile(recipients: string[], payload: Uint8Array): Promise<Uint8Array> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter.encrypt(payload);
}

function nativeDecrypt(file: Uint8Array, identity: string): Buffer {
  const header = parseAgeHeader(file);
  const fileKey = new NativeX25519Identity(identity).unwrapFileKey(header.stanzas);
  if (fileKey === null) throw new Error('no stanza for this identity');
  return decryptAgePayload(fileKey, header);
}

t.test('decrypts what age-encryption encrypts, like its Decrypter, at every STREAM chunk boundary', async (t) => {
  const identity = await generateX25519Identity();
  const other = await generateX25519Identity();
  const recipients = [await identityToRecipient(other), await identityToRecipient(identity)];
  const reference = new Decrypter();
  reference.addIdentity(identity);
  for (const size of [0, 1, 32, 65535, 65536, 65537, 2 * 65536, 2 * 65536 + 5]) {
    const payload = randomBytes(size);
    const file = await ageFile(recipients, payload);
    const native = nativeDecrypt(file, identity);
    t.ok(native.equals(payload), `${size} bytes: the plaintext`);
    t.ok(native.equals(Buffer.from(await reference.decrypt(file))), `${size} bytes: same as age-encryption`);
    // Through the armor sops stores in its metadata.
    t.ok(nativeDecrypt(decodeAgeArmor(armor.encode(file)), identity).equals(payload), `${size} bytes: armored`);
  }
});

t.test('refuses tampered files, truncated streams and other keys', async (t) => {
  const identity = await generateX25519Identity();
  const stranger = await generateX25519Identity();
  const payload = randomBytes(65536 + 100);
  const file = Buffer.from(await ageFile([await identityToRecipient(identity)], payload));
  const header = parseAgeHeader(file);
  const headerLength = header.header.length;

  t.throws(() => nativeDecrypt(file, stranger), /no stanza/, 'another key unwraps nothing');
  const flip = (offset: number): Buffer => {
    const copy = Buffer.from(file);
    copy[offset] = (copy[offset] as number) ^ 1;
    return copy;
  };
  // The MAC line's last base64 character, the payload nonce, the first and the last chunk.
  for (const [what, bad] of [
    ['the header MAC', flip(headerLength - 3)],
    ['the payload nonce', flip(headerLength + 2)],
    ['the first chunk', flip(headerLength + 16 + 10)],
    ['the last chunk', flip(file.length - 1)],
    ['a stanza body', flip(file.indexOf('\n', file.indexOf('-> X25519')) + 3)],
  ] as const) {
    t.throws(() => nativeDecrypt(bad, identity), `a flipped bit in ${what} is refused`);
  }
  t.throws(() => nativeDecrypt(file.subarray(0, file.length - 120), identity), 'the final chunk cut off (a full chunk then a stub)');
  t.throws(() => nativeDecrypt(file.subarray(0, headerLength + 16 + 65536 + 16), identity), 'only the first full chunk: not marked final');
  t.throws(() => nativeDecrypt(file.subarray(0, headerLength + 10), identity), /truncated/, 'no payload');

  t.throws(() => parseAgeHeader(Buffer.from('age-encryption.org/v2\n--- AAAA\n')), /version/);
  t.throws(() => parseAgeHeader(Buffer.from('age-encryption.org/v1\n-> X25519 abc\n')), /truncated/);
  t.throws(() => parseAgeHeader(Buffer.from('age-encryption.org/v1\n-> X25519 abc\nAAAA=\n--- x\n')), /stanza body/, 'padded body base64');
  t.throws(() => parseAgeHeader(Buffer.from('age-encryption.org/v1\n-> X25519  abc\n\n--- x\n')), /invalid age stanza/, 'an empty argument');
  t.throws(() => parseAgeHeader(Buffer.from('age-encryption.org/v1\n-> X25519 é\n\n--- x\n')), /non-ASCII/);
});

t.test('the armor is read as strictly as age-encryption reads it', async (t) => {
  const file = await ageFile([await identityToRecipient(await generateX25519Identity())], randomBytes(100));
  const text = armor.encode(file);
  t.ok(decodeAgeArmor(text).equals(Buffer.from(file)));
  t.ok(decodeAgeArmor(`\n  ${text.replaceAll('\n', '\r\n')}  \n`).equals(Buffer.from(file)), 'CRLF and surrounding whitespace');
  const lines = text.trim().split('\n');
  const cases: Array<[string, string]> = [
    ['no BEGIN line', lines.slice(1).join('\n')],
    ['no END line', lines.slice(0, -1).join('\n')],
    ['a short line before the last', [lines[0], (lines[1] as string).slice(0, 60), ...lines.slice(2)].join('\n')],
    ['a character outside base64', [lines[0], `${(lines[1] as string).slice(0, 63)}!`, ...lines.slice(2)].join('\n')],
  ];
  for (const [what, bad] of cases) {
    t.throws(() => decodeAgeArmor(bad), what);
    t.throws(() => armor.decode(bad), `${what} (age-encryption refuses it too)`);
  }
  // age-encryption returns no bytes (which then fail as a header); refused here at once.
  t.throws(() => decodeAgeArmor(`${lines[0]}\n${lines.at(-1)}`), /empty/, 'an empty body');
});

t.test('X25519 recipients are derived natively, equal to age-encryption', async (t) => {
  for (let i = 0; i < 5; i++) {
    const identity = await generateX25519Identity();
    t.equal(new NativeX25519Identity(identity).recipient, await identityToRecipient(identity));
  }
});

t.test('real sops files for a post-quantum recipient: the hybrid identity decrypts them (age-encryption, loaded lazily)', async (t) => {
  const dir = t.testdir();
  const hybrid = await generateHybridIdentity();
  const hybridRecipient = await identityToRecipient(hybrid);
  const x25519 = await newAgeKey();
  const file = path.join(dir, 'app.sops.env');
  await writeFile(file, 'DB_PASSWORD=pq s3cret\n', { mode: 0o600 });
  await run(toolPath('sops'), ['encrypt', '--age', `${hybridRecipient},${x25519.recipient}`, '--in-place', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  const sops = parseSopsFile(await readFile(file, 'utf8'), 'dotenv', file);
  t.same(sops.metadata.keyGroups[0]?.age.map((e) => e.recipient).sort(), [hybridRecipient, x25519.recipient].sort(), 'sops wrapped the key for both');

  for (const [what, identities] of [
    ['the hybrid identity alone', parseAgeIdentities(hybrid, 'pq.txt')],
    ['the X25519 identity alone', parseAgeIdentities(x25519.identity, 'x.txt')],
    ['both, the hybrid first', parseAgeIdentities(`${hybrid}\n${x25519.identity}`, 'both.txt')],
  ] as const) {
    const decrypted = await decryptSopsFile(sops, identities);
    t.same([...sopsEnvValues(decrypted)], [['DB_PASSWORD', 'pq s3cret']], what);
  }
  const stranger = parseAgeIdentities(await generateHybridIdentity(), 'other.txt');
  await t.rejects(unwrapDataKey(sops.metadata, stranger, file), { code: 'COFFRE_SOPS_NO_KEY' }, 'another hybrid key unwraps nothing');
  t.equal(await parseAgeIdentities(hybrid, 'pq.txt')[0]?.recipient(), hybridRecipient, 'the hybrid recipient');
});

t.test('a sops file by the real binary for an X25519 key decrypts natively', async (t) => {
  const key = await newAgeKey();
  const file = path.join(t.testdir(), 'big.sops.yaml');
  // Long enough values that nothing fits in one line of the armor.
  await writeSopsFile(file, `A: ${'x'.repeat(5000)}\nB: "é"\n`, key);
  const sops = parseSopsFile(await readFile(file, 'utf8'), 'yaml', file);
  const decrypted = await decryptSopsFile(sops, parseAgeIdentities(key.identity, 'key.txt'));
  t.same([...sopsEnvValues(decrypted)], [['A', 'x'.repeat(5000)], ['B', 'é']]);
});
