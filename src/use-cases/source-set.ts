// The backends available to one run, and the dispatch from a SourceRef to the backend that reads it.
import { CoffreError } from '../errors.js';
import type { SecretSource, SopsRef, SourceRef, VaultRef, KeyListing, ValueSnapshot } from '../sources/secret-source.js';

/** The sources configured for a run; a kind left null is not configured. */
export interface SourceSet {
  vault: SecretSource<VaultRef> | null;
  sops: SecretSource<SopsRef> | null;
}

export function listKeysOf(sources: SourceSet, ref: SourceRef): Promise<KeyListing | null> {
  return ref.kind === 'vault' ? need(sources.vault, ref).listKeys(ref) : need(sources.sops, ref).listKeys(ref);
}

export function readValuesOf(sources: SourceSet, ref: SourceRef): Promise<ValueSnapshot | null> {
  return ref.kind === 'vault' ? need(sources.vault, ref).readValues(ref) : need(sources.sops, ref).readValues(ref);
}

function need<T>(source: T | null, ref: SourceRef): T {
  if (source === null) {
    throw new CoffreError('COFFRE_SOURCE_AUTH', `no ${ref.kind} source is configured (set VAULT_ADDR/BAO_ADDR and a token, or sops age identities)`);
  }
  return source;
}
