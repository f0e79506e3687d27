// The backends available to one run, and the dispatch from a SourceRef to the backend that reads it.
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { describeRef, type SecretSource, type SopsRef, type SourceRef, type VaultRef, type KeyListing, type ValueSnapshot } from '../sources/secret-source.js';

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

/** Makes the sources forget what this run read of `ref`: the next read asks the store again. */
export function releaseOf(sources: SourceSet, ref: SourceRef): void {
  if (ref.kind === 'vault') sources.vault?.release?.(ref);
  else sources.sops?.release?.(ref);
}

/**
 * Lets the sources forget each ref once the last of the run's files reading it is done (`done` once per file
 * given): a run of thousands of files would otherwise hold every answer, values included, until it ends.
 * Files sharing a source still share its one read; nothing is released before its last user is done.
 */
export function releaseAfterLastUse(sources: SourceSet, refs: ReadonlyArray<SourceRef | null>): (ref: SourceRef | null) => void {
  const uses = new Map<string, number>();
  for (const ref of refs) if (ref !== null) uses.set(useKey(ref), (uses.get(useKey(ref)) ?? 0) + 1);
  return (ref) => {
    if (ref === null) return;
    const key = useKey(ref);
    const left = (uses.get(key) ?? 0) - 1;
    if (left > 0) {
      uses.set(key, left);
      return;
    }
    uses.delete(key);
    releaseOf(sources, ref);
  };
}

function useKey(ref: SourceRef): string {
  return ref.kind === 'vault' ? `v\0${ref.mount}\0${ref.path}` : `s\0${ref.format}\0${ref.file}`;
}

function need<T>(source: T | null, ref: SourceRef): T {
  if (source === null) {
    throw new CoffreError('COFFRE_SOURCE_AUTH', `no ${ref.kind} source is configured (set VAULT_ADDR/BAO_ADDR and a token, or sops age identities)`);
  }
  return source;
}

/**
 * How reports name a source: `mount/path` for Vault, the sops file relative to the repo root (a report must
 * read the same on every host); both null when the file has no source.
 */
export function sourceLabel(root: string, ref: SourceRef | null): { kind: 'vault' | 'sops' | null; ref: string | null } {
  if (ref === null) return { kind: null, ref: null };
  if (ref.kind === 'sops') return { kind: 'sops', ref: path.relative(root, ref.file).split(path.sep).join('/') };
  return { kind: 'vault', ref: describeRef(ref) };
}
