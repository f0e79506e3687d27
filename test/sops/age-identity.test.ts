// Age identity parsing: X25519 and post-quantum keys, comments and whitespace, errors naming origin:line
// but never the key text, and identities that never print their secret.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import t from 'tap';
import { generateHybridIdentity, generateX25519Identity } from 'age-encryption';
import { parseAgeIdentities } from '../../src/sops/index.js';
import { upstreamDir } from './plain-tree.js';

t.test('parses X25519 and post-quantum identities, skipping comments and blank lines', async (t) => {
  const x = await generateX25519Identity();
  const pq = await generateHybridIdentity();
  const text = `# created: today\n# public key: age1...\n\n${x}\n   \n${pq}\n`;
  const ids = parseAgeIdentities(text, 'keys.txt');
  t.same(ids.map((i) => [i.kind, i.origin, i.line]), [['x25519', 'keys.txt', 4], ['hybrid', 'keys.txt', 6]]);
});

t.test('accepts several identities on one line separated by whitespace (SOPS_AGE_KEY style)', async (t) => {
  const a = await generateX25519Identity();
  const b = await generateX25519Identity();
  t.equal(parseAgeIdentities(`${a} \t${b}`, 'SOPS_AGE_KEY').length, 2);
});

t.test('reads every key file of the fixtures', async (t) => {
  for (const file of ['getsops-sops/keys.txt', 'fluxcd-kustomize-controller/keys/age-pq.txt', 'humphd-sops-age/key.txt']) {
    t.ok(parseAgeIdentities(readFileSync(path.join(upstreamDir, file), 'utf8'), file).length >= 1, file);
  }
});

t.test('bad lines are refused naming origin and line, never the key text', async (t) => {
  const good = await generateX25519Identity();
  const corrupted = good.slice(0, -3) + (good.endsWith('QQQ') ? 'PPP' : 'QQQ');
  const cases = [
    { name: 'bad checksum', text: `# c\n${corrupted}\n`, line: 2 },
    { name: 'truncated key', text: good.slice(0, 30), line: 1 },
    { name: 'an ssh key', text: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1', line: 1 },
    { name: 'a plugin identity', text: 'AGE-PLUGIN-YUBIKEY-1QQQQ', line: 1 },
    { name: 'lower-case key', text: good.toLowerCase(), line: 1 },
  ];
  for (const c of cases) {
    let error: (Error & { code?: string; location?: { line?: number } }) | undefined;
    try {
      parseAgeIdentities(c.text, 'SOPS_AGE_KEY_FILE');
    } catch (e) {
      error = e as typeof error;
    }
    t.equal(error?.code, 'COFFRE_AGE_IDENTITY_INVALID', c.name);
    t.match(error?.message, new RegExp(`^SOPS_AGE_KEY_FILE:${c.line}: `), `${c.name}: origin and line named`);
    t.notOk(error?.message.includes(c.text.trim().split(/\s+/)[0]?.slice(0, 20) ?? '~'), `${c.name}: key text not in the message`);
  }
});

t.test('an identity never shows its secret when printed or serialised', async (t) => {
  const secret = await generateX25519Identity();
  const [id] = parseAgeIdentities(secret, 'env');
  for (const shown of [String(id), JSON.stringify(id), inspect(id), inspect({ nested: [id] })]) t.notOk(shown.includes(secret.slice(16)), shown);
});
