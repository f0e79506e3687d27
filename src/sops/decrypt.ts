// Decrypting a parsed sops file: the tree walk with path AADs, the encryption rule per leaf, the MAC
// recomputed with Go-exact ToBytes and compared with the decrypted `mac` (fail closed), and the flat env
// view of the result. Errors name the file, line and key path, never a value.
import { CoffreError } from '../errors.js';
import type { SopsStoreFormat } from '../core/source-ref.js';
import type { AgeIdentity } from './age-identity.js';
import { unwrapDataKey } from './data-key.js';
import { encryptionDecider, type EncryptionDecider } from './encryption-rule.js';
import { formatGoFloat } from './go-scalars.js';
import { envLevelEntries } from './key-listing.js';
import { computeSopsMac, type MacReading } from './mac.js';
import type { SopsMetadata } from './metadata.js';
import type { SopsFile } from './sops-file.js';
import {
  findEntry,
  isSopsList,
  isSopsMap,
  JsonInteger,
  SopsTime,
  YamlTimestamp,
  type SopsComment,
  type SopsList,
  type SopsMap,
  type SopsNode,
  type SopsScalar,
} from './tree.js';
import { decryptValue, ValueCipherError } from './value-cipher.js';

/** A decrypted sops file: the same ordered tree with plaintext leaves and comments. Holds secrets: never log it. */
export interface DecryptedSops {
  file: string;
  format: SopsStoreFormat;
  branches: SopsMap[];
  metadata: SopsMetadata;
  /** Comments that did not decrypt and were kept as written (sops only warns about them). */
  undecryptedComments: number;
  /** Which reading of clear-text scalars the stored MAC matched (a writer keeps it). */
  macReading: MacReading;
}

const dataKeys = new WeakMap<DecryptedSops, Uint8Array>();

/** The data key a decrypted file was opened with (for re-encryption by the writer). */
export function dataKeyOf(decrypted: DecryptedSops): Uint8Array {
  const key = dataKeys.get(decrypted);
  if (key === undefined) throw new CoffreError('COFFRE_INTERNAL', `${decrypted.file}: no data key recorded for this decrypted file`);
  return key;
}

interface WalkContext {
  file: string;
  key: Uint8Array;
  decide: EncryptionDecider;
  undecryptedComments: number;
}

function aadOf(path: readonly string[]): string {
  return `${path.join(':')}:`;
}

function decryptComment(ctx: WalkContext, comment: SopsComment, path: readonly string[]): SopsComment {
  try {
    const opened = decryptValue(comment.text, ctx.key, aadOf(path));
    return { ...comment, text: String(opened.value) };
  } catch {
    // Like sops: a comment that does not open is assumed to have been written in clear and is kept.
    ctx.undecryptedComments++;
    return comment;
  }
}

function decryptLeaf(ctx: WalkContext, value: SopsScalar, path: readonly string[], line: number | undefined): SopsScalar {
  if (value === null) return null;
  const encrypted = ctx.decide(path);
  if (encrypted) {
    const where = `${ctx.file}${line === undefined ? '' : `:${line}`}`;
    if (typeof value !== 'string') {
      throw new CoffreError('COFFRE_SOPS_DECRYPT', `${where}: the value of "${path.join('.')}" should be encrypted but is not`, { file: ctx.file, line });
    }
    try {
      return decryptValue(value, ctx.key, aadOf(path)).value;
    } catch (error) {
      const reason = error instanceof ValueCipherError ? error.message : 'decryption failed';
      throw new CoffreError('COFFRE_SOPS_DECRYPT', `${where}: cannot decrypt the value of "${path.join('.')}": ${reason}`, { file: ctx.file, line });
    }
  }
  return value;
}

function walkNode(ctx: WalkContext, node: SopsNode, path: readonly string[], line: number | undefined): SopsNode {
  if (isSopsMap(node)) return walkMap(ctx, node, path);
  if (isSopsList(node)) return walkList(ctx, node, path, line);
  return decryptLeaf(ctx, node, path, line);
}

function walkMap(ctx: WalkContext, map: SopsMap, path: readonly string[]): SopsMap {
  const items: SopsMap['items'] = map.items.map((item) => {
    if (item.kind === 'comment') return decryptComment(ctx, item, path);
    return { ...item, value: walkNode(ctx, item.value, [...path, item.key], item.line) };
  });
  return { ...map, items };
}

function walkList(ctx: WalkContext, list: SopsList, path: readonly string[], line: number | undefined): SopsList {
  const items: SopsList['items'] = list.items.map((item) => {
    if (typeof item === 'object' && item !== null && 'kind' in item && item.kind === 'comment') return decryptComment(ctx, item, path);
    return walkNode(ctx, item as SopsNode, path, line);
  });
  return { ...list, items };
}

/**
 * Decrypts a parsed sops file with a known data key (32 bytes) and verifies its MAC: the lower-level half
 * of decryptSopsFile, also usable with data keys unwrapped elsewhere (PGP, ssh). Fails closed:
 * COFFRE_SOPS_DECRYPT for a value that does not open (path named), COFFRE_SOPS_MAC_MISMATCH otherwise.
 */
export function decryptSopsTree(sops: SopsFile, dataKey: Uint8Array): DecryptedSops {
  const { file, metadata } = sops;
  const decide = encryptionDecider(metadata.rule, file);
  const ctx: WalkContext = { file, key: dataKey, decide, undecryptedComments: 0 };
  const branches = sops.branches.map((branch) => walkMap(ctx, branch, []));
  const computed = computeSopsMac(branches, { decide, macOnlyEncrypted: metadata.macOnlyEncrypted });

  if (metadata.mac === '') {
    throw new CoffreError('COFFRE_SOPS_MAC_MISMATCH', `${file}: MAC mismatch: the file has no MAC`, { file });
  }
  let stored: string;
  try {
    stored = String(decryptValue(metadata.mac, dataKey, metadata.macAad).value);
  } catch {
    throw new CoffreError('COFFRE_SOPS_MAC_MISMATCH', `${file}: MAC mismatch: the stored MAC does not open with lastmodified ${metadata.macAad} (mac or lastmodified altered)`, { file });
  }
  const macReading: MacReading | undefined = stored === computed.primary ? 'primary' : stored === computed.alternate ? 'alternate' : undefined;
  if (macReading === undefined) {
    throw new CoffreError('COFFRE_SOPS_MAC_MISMATCH', `${file}: MAC mismatch: the content does not match the stored MAC (values deleted, reordered or edited without sops)`, { file });
  }
  const decrypted: DecryptedSops = { file, format: sops.format, branches, metadata, undecryptedComments: ctx.undecryptedComments, macReading };
  dataKeys.set(decrypted, dataKey);
  return decrypted;
}

/**
 * Unwraps the data key with the given age identities (COFFRE_SOPS_NO_KEY when none fits, recipients
 * listed), decrypts every value and verifies the MAC (fails closed, see decryptSopsTree).
 */
export async function decryptSopsFile(sops: SopsFile, identities: AgeIdentity[]): Promise<DecryptedSops> {
  const key = await unwrapDataKey(sops.metadata, identities, sops.file);
  return decryptSopsTree(sops, key);
}

/** The env text of a decrypted scalar: str as is, int decimal, float Go 'f' -1, bool `true`/`false`, null "". */
export function envTextOf(value: SopsScalar): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return formatGoFloat(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof YamlTimestamp || value instanceof SopsTime) return value.text;
  if (value instanceof JsonInteger) return value.value.toString();
  return Buffer.from(value).toString('utf8');
}

/**
 * The top-level values of a decrypted file as env values, in store order (INI: the keys of every
 * section; later duplicates win). A nested map or list throws COFFRE_SOURCE_NOT_FLAT naming the key.
 * Not for binary files: use sopsBinaryText.
 */
export function sopsEnvValues(decrypted: DecryptedSops): Map<string, string> {
  if (decrypted.format === 'binary') {
    throw new CoffreError('COFFRE_INTERNAL', `${decrypted.file}: a sops binary file has no key/value tree; read its text with sopsBinaryText`);
  }
  const values = new Map<string, string>();
  for (const entry of envLevelEntries(decrypted)) {
    if (isSopsMap(entry.value) || isSopsList(entry.value)) {
      throw new CoffreError('COFFRE_SOURCE_NOT_FLAT', `${decrypted.file}:${entry.line}: "${entry.key}" holds a nested ${isSopsMap(entry.value) ? 'map' : 'list'}, not an env value`, {
        file: decrypted.file,
        line: entry.line,
      });
    }
    values.set(entry.key, envTextOf(entry.value));
  }
  return values;
}

/** The decrypted content of a sops binary file (its `data`), as text. */
export function sopsBinaryText(decrypted: DecryptedSops): string {
  const data = decrypted.branches[0] && findEntry(decrypted.branches[0], 'data');
  if (data === undefined || isSopsMap(data.value) || isSopsList(data.value)) {
    throw new CoffreError('COFFRE_SOPS_SYNTAX', `${decrypted.file}: a sops binary file must hold a "data" value`, { file: decrypted.file });
  }
  return envTextOf(data.value);
}
