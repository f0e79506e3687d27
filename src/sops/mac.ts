// The sops MAC over a plaintext tree: SHA-512 of every non-comment, non-null leaf's Go `ToBytes`, in
// document order (only encrypted leaves with mac_only_encrypted), uppercase hex. No keys, no I/O.
import { createHash } from 'node:crypto';
import type { EncryptionDecider } from './encryption-rule.js';
import { formatGoFloat, formatSopsBool } from './go-scalars.js';
import { isSopsComment, isSopsList, isSopsMap, JsonInteger, SopsTime, YamlTimestamp, type SopsMap, type SopsNode, type SopsScalar } from './tree.js';

/** `SHA-256("sops")`, fed first to the MAC when `mac_only_encrypted` is set. */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

/**
 * Which reading of clear-text scalars the MAC uses: `primary` as sops ≥ 3.13 (YAML timestamps as their
 * text, JSON integers as int), `alternate` as earlier releases (timestamps as time.Time, JSON numbers as float64).
 */
export type MacReading = 'primary' | 'alternate';

/** sops' `ToBytes` for a leaf, under either reading. */
export function macBytesOf(value: Exclude<SopsScalar, null>, reading: MacReading): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (typeof value === 'bigint') return Buffer.from(value.toString(), 'utf8');
  if (typeof value === 'number') return Buffer.from(formatGoFloat(value), 'utf8');
  if (typeof value === 'boolean') return Buffer.from(formatSopsBool(value), 'utf8');
  if (value instanceof YamlTimestamp) return Buffer.from(reading === 'primary' ? value.text : value.asTime, 'utf8');
  if (value instanceof JsonInteger) return Buffer.from(reading === 'primary' ? value.value.toString() : formatGoFloat(Number(value.text)), 'utf8');
  if (value instanceof SopsTime) return Buffer.from(value.text, 'utf8');
  return Buffer.from(value);
}

export interface MacOptions {
  decide: EncryptionDecider;
  macOnlyEncrypted: boolean;
}

/** The MAC (128 uppercase hex characters) of decrypted branches under both readings. */
export function computeSopsMac(branches: SopsMap[], options: MacOptions): Record<MacReading, string> {
  const hashes = { primary: createHash('sha512'), alternate: createHash('sha512') };
  if (options.macOnlyEncrypted) for (const h of Object.values(hashes)) h.update(MAC_ONLY_ENCRYPTED_INIT);
  const visit = (node: SopsNode, path: readonly string[]): void => {
    if (isSopsMap(node)) {
      for (const item of node.items) if (item.kind === 'entry') visit(item.value, [...path, item.key]);
      return;
    }
    if (isSopsList(node)) {
      for (const item of node.items) if (!isSopsComment(item)) visit(item as SopsNode, path);
      return;
    }
    if (node === null) return;
    if (options.macOnlyEncrypted && !options.decide(path)) return;
    hashes.primary.update(macBytesOf(node, 'primary'));
    hashes.alternate.update(macBytesOf(node, 'alternate'));
  };
  for (const branch of branches) visit(branch, []);
  return { primary: hashes.primary.digest('hex').toUpperCase(), alternate: hashes.alternate.digest('hex').toUpperCase() };
}
