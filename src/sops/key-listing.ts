// Key names of a sops file without any key: names are clear text in every store but binary, and sops
// never encrypts "", so emptiness is known too. Reads the parsed tree only; never decrypts.
import { CoffreError } from '../errors.js';
import type { KeyListing, KeyPresence, SopsStoreFormat } from '../core/source-ref.js';
import type { SopsFile } from './sops-file.js';
import { entriesOf, isSopsList, isSopsMap, type SopsMap, type SopsMapEntry } from './tree.js';

/** A KeyListing that also names the keys holding a nested map or list (not usable as env values). */
export interface SopsKeyListing extends KeyListing {
  nested: Set<string>;
}

/**
 * The entries that stand for env keys: top-level entries of every branch (every YAML document), or for
 * INI the entries of every section. Later duplicates win when callers build a map.
 */
export function envLevelEntries(tree: { format: SopsStoreFormat; branches: SopsMap[] }): SopsMapEntry[] {
  const out: SopsMapEntry[] = [];
  for (const branch of tree.branches) {
    for (const entry of entriesOf(branch)) {
      if (tree.format === 'ini') {
        if (isSopsMap(entry.value)) out.push(...entriesOf(entry.value));
      } else {
        out.push(entry);
      }
    }
  }
  return out;
}

/**
 * Key names in store order with their presence ('empty' for "" or null, 'set' otherwise), needing no key.
 * Nested maps/lists are 'set' and named in `nested`. A binary file has no clear names: this throws
 * COFFRE_SOPS_UNSUPPORTED for it (its names are only known after decryption, see src/sources/sops.ts).
 */
export function listSopsKeys(sops: SopsFile): SopsKeyListing {
  if (sops.format === 'binary') {
    throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${sops.file}: a sops binary file encrypts its key names; decrypt it to list them`, {
      file: sops.file,
    });
  }
  const keys = new Map<string, KeyPresence>();
  const nested = new Set<string>();
  for (const entry of envLevelEntries(sops)) {
    if (isSopsMap(entry.value) || isSopsList(entry.value)) {
      nested.add(entry.key);
      keys.set(entry.key, 'set');
    } else {
      nested.delete(entry.key);
      keys.set(entry.key, entry.value === '' || entry.value === null ? 'empty' : 'set');
    }
  }
  return { keys, nested };
}
