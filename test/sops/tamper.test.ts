// A sops file made by the real sops binary, then tampered with: coffre refuses every case with the right
// code (as `sops decrypt` does), and no error message carries a plaintext value.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { decryptSopsFile, parseAgeIdentities, parseSopsFile, type AgeIdentity } from '../../src/sops/index.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

const run = promisify(execFile);

const PLAINTEXTS = ['hunter2-secret-value', 'tok-abcdef-secret', 'first-secret-item', 'second-secret-item', 'clear-but-macd'];
const PLAIN = `DB_PASSWORD: ${PLAINTEXTS[0]}
API_TOKEN: ${PLAINTEXTS[1]}
list:
    - ${PLAINTEXTS[2]}
    - ${PLAINTEXTS[3]}
note_unencrypted: ${PLAINTEXTS[4]}
`;

/** Replaces the `data:` part of the ENC value on the line starting with `prefix`. */
function mapEncOn(text: string, prefix: string, edit: (data: string) => string): string {
  return text
    .split('\n')
    .map((line) => (line.trimStart().startsWith(prefix) ? line.replace(/data:([^,]+)/, (_, d: string) => `data:${edit(d)}`) : line))
    .join('\n');
}

function flipFirstChar(b64: string): string {
  return (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
}

const encLine = (text: string, prefix: string): string => text.split('\n').find((l) => l.trimStart().startsWith(prefix)) as string;

t.test('tampered sops files are refused with the right codes and value-free messages', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 'secrets.yaml');
  await writeSopsFile(file, PLAIN, key);
  const original = readFileSync(file, 'utf8');
  const identities: AgeIdentity[] = parseAgeIdentities(key.identity, 'test key');
  const ok = await decryptSopsFile(parseSopsFile(original, 'yaml', file), identities);
  t.equal(ok.branches[0]?.items.length, 4, 'the untouched file decrypts');

  const swapLines = (text: string, a: string, b: string): string => {
    const la = encLine(text, a);
    const lb = encLine(text, b);
    const valueOf = (l: string): string => l.slice(l.indexOf('ENC['));
    return text.replace(la, la.replace(valueOf(la), valueOf(lb))).replace(lb, lb.replace(valueOf(lb), valueOf(la)));
  };
  const listItems = original.split('\n').filter((l) => l.startsWith('    - ENC['));
  const cases: Array<{ name: string; tamper: (s: string) => string; code: string; message?: RegExp }> = [
    { name: 'mac changed', tamper: (s) => mapEncOn(s, 'mac:', flipFirstChar), code: 'COFFRE_SOPS_MAC_MISMATCH' },
    {
      name: 'lastmodified changed by one second',
      tamper: (s) => s.replace(/lastmodified: "(.*):(\d\d)Z"/, (_, head: string, sec: string) => `lastmodified: "${head}:${String((Number(sec) + 1) % 60).padStart(2, '0')}Z"`),
      code: 'COFFRE_SOPS_MAC_MISMATCH',
    },
    { name: 'a key line deleted', tamper: (s) => s.replace(`${encLine(s, 'API_TOKEN:')}\n`, ''), code: 'COFFRE_SOPS_MAC_MISMATCH' },
    { name: 'two values of different keys swapped', tamper: (s) => swapLines(s, 'DB_PASSWORD:', 'API_TOKEN:'), code: 'COFFRE_SOPS_DECRYPT', message: /"DB_PASSWORD"/ },
    {
      name: 'two list items swapped (same AAD)',
      tamper: (s) => s.replace(`${listItems[0]}\n${listItems[1]}`, `${listItems[1]}\n${listItems[0]}`),
      code: 'COFFRE_SOPS_MAC_MISMATCH',
    },
    { name: 'a byte of a value flipped', tamper: (s) => mapEncOn(s, 'API_TOKEN:', flipFirstChar), code: 'COFFRE_SOPS_DECRYPT', message: /:2: cannot decrypt the value of "API_TOKEN"/ },
    { name: 'a clear-text value edited', tamper: (s) => s.replace(PLAINTEXTS[4] as string, 'edited'), code: 'COFFRE_SOPS_MAC_MISMATCH' },
    { name: 'the mac line removed', tamper: (s) => s.replace(`${encLine(s, 'mac:')}\n`, ''), code: 'COFFRE_SOPS_MAC_MISMATCH', message: /no MAC/ },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const tampered = c.tamper(original);
      t.not(tampered, original, 'the tamper changed the file');
      const error = await decryptSopsFile(parseSopsFile(tampered, 'yaml', file), identities).then(
        () => undefined,
        (e: unknown) => e as Error & { code: string },
      );
      t.equal(error?.code, c.code);
      if (c.message) t.match(error?.message, c.message);
      for (const plaintext of PLAINTEXTS) t.notOk(error?.message.includes(plaintext) || String(error?.stack).includes(plaintext), 'no plaintext in the error');
      const copy = path.join(dir, `tampered-${c.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(copy, tampered);
      const sops = await run(toolPath('sops'), ['decrypt', copy], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: key.identity } }).then(
        () => 'decrypted',
        () => 'refused',
      );
      t.equal(sops, 'refused', 'the real sops refuses it too');
    });
  }
});
