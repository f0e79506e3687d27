// Creating a NEW sops YAML file (what `sops encrypt` does for a fresh file): a random data key wrapped with age
// for each recipient, the values encrypted under it (AAD = their path), the MAC and sops' usual metadata.
// Pure apart from randomness: returns the text; the caller writes it (sources/sops.ts).
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import { armor, Encrypter } from 'age-encryption';
import { CoffreError } from '../errors.js';
import { decryptSopsTree } from './decrypt.js';
import { formatLastModified } from './go-scalars.js';
import { encryptValue } from './value-cipher.js';
import { setSopsValues } from './set-values.js';
import { parseSopsFile } from './sops-file.js';

/** The sops version written in the metadata (the format of sops 3.9). */
const SOPS_VERSION = '3.9.4';

export interface CreateSopsYamlOptions {
  /** age recipients (`age1…`), at least one. */
  recipients: readonly string[];
  values: ReadonlyMap<string, string>;
  now: Date;
  /** Named in errors. */
  file: string;
  randomBytes?: (size: number) => Uint8Array;
}

/** The text of a new sops YAML file holding `values` (top-level string keys), encrypted to `recipients`. */
export async function createSopsYaml(options: CreateSopsYamlOptions): Promise<string> {
  const { file, now } = options;
  const random = options.randomBytes ?? ((n: number) => nodeRandomBytes(n));
  if (options.recipients.length === 0) throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: no age recipient to encrypt a new sops file to`, { file });
  const dataKey = random(32);
  const ageEntries: string[] = [];
  for (const recipient of options.recipients) {
    const encrypter = new Encrypter();
    try {
      encrypter.addRecipient(recipient);
    } catch {
      throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: "${recipient.slice(0, 80)}" is not an age recipient coffre can encrypt to`, { file });
    }
    const armored = armor.encode(await encrypter.encrypt(dataKey)).trimEnd();
    ageEntries.push(`        - recipient: ${recipient}\n          enc: |\n${armored.split('\n').map((l) => `            ${l}`).join('\n')}\n`);
  }
  // The seed: no values yet, so the MAC is the SHA-512 of nothing (sops' hash over an empty tree).
  const lastModified = formatLastModified(now);
  const emptyMac = createHash('sha512').digest('hex').toUpperCase();
  const seed =
    `sops:\n    age:\n${ageEntries.join('')}` +
    `    lastmodified: "${lastModified}"\n` +
    `    mac: ${encryptValue(emptyMac, dataKey, lastModified, { iv: random(32) })}\n` +
    `    unencrypted_suffix: _unencrypted\n` +
    `    version: ${SOPS_VERSION}\n`;
  const sops = parseSopsFile(seed, 'yaml', file);
  // The values are added by the rotation writer: same layout, same checks (it re-reads what it wrote).
  return setSopsValues({ sops, decrypted: decryptSopsTree(sops, dataKey), changes: options.values, now, randomBytes: random }).text;
}
