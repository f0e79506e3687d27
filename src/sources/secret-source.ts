// The one interface every secret backend satisfies (Vault/OpenBao KV v2, sops files). A backend module is
// the only importer of its client library; use-cases see only this interface and plain data.

export type { KeyListing, KeyPresence, SopsRef, SopsStoreFormat, SourceRef, ValueSnapshot, VaultRef } from '../core/source-ref.js';
import type { KeyListing, SourceRef, ValueSnapshot } from '../core/source-ref.js';

/**
 * A backend. `listKeys` must not need (or, where the store allows, receive) any value: Vault uses the
 * `subkeys` endpoint, sops reads the clear-text key names. A missing secret resolves to `null`
 * (a result, not an error); errors are for "could not look" (unreachable, denied, tampered…).
 */
export interface SecretSource<R extends SourceRef = SourceRef> {
  readonly kind: R['kind'];
  listKeys(ref: R): Promise<KeyListing | null>;
  readValues(ref: R): Promise<ValueSnapshot | null>;
  /**
   * Forgets what this instance read of `ref` (a run is done with it: the answers would only hold memory);
   * a later read asks the store again. Optional: a source that keeps nothing has nothing to forget.
   */
  release?(ref: R): void;
}


/** A short, value-free label for a reference, used in reports and logs. */
export function describeRef(ref: SourceRef): string {
  return ref.kind === 'vault' ? `${ref.mount}/${ref.path}` : ref.file;
}
