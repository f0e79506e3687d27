// The one interface every secret backend satisfies (Vault/OpenBao KV v2, sops files). A backend module is
// the only importer of its client library; use-cases see only this interface and plain data.

/** Where the values of one secrets file live. */
export type SourceRef = VaultRef | SopsRef;

/** A KV v2 secret: `mount` (e.g. `secret`) and the logical `path` below it (e.g. `chat/db`). */
export interface VaultRef {
  kind: 'vault';
  mount: string;
  path: string;
}

/** A sops-encrypted file; `format` is the sops store used to read it. */
export interface SopsRef {
  kind: 'sops';
  /** Absolute path of the encrypted file. */
  file: string;
  format: SopsStoreFormat;
}

export type SopsStoreFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/**
 * What a source knows about one key without handing out its value.
 * `unknown` when the source cannot tell emptiness without decrypting (Vault subkeys, encrypted sops values).
 */
export type KeyPresence = 'set' | 'empty' | 'unknown';

/** Key names of one secret, in store order, with what is known about their emptiness. */
export interface KeyListing {
  keys: Map<string, KeyPresence>;
  /** Version of the secret when the store has one (Vault KV v2 version; absent for sops). */
  version?: number;
}

/** Key → value of one secret, in store order. Values must never be logged or put in an error message. */
export interface ValueSnapshot {
  values: Map<string, string>;
  version?: number;
  /** sops: sha256 (hex) of the file text the values were decrypted from, for a check-and-set write. */
  revision?: string;
}

/**
 * A backend. `listKeys` must not need (or, where the store allows, receive) any value: Vault uses the
 * `subkeys` endpoint, sops reads the clear-text key names. A missing secret resolves to `null`
 * (a result, not an error); errors are for "could not look" (unreachable, denied, tampered…).
 */
export interface SecretSource<R extends SourceRef = SourceRef> {
  readonly kind: R['kind'];
  listKeys(ref: R): Promise<KeyListing | null>;
  readValues(ref: R): Promise<ValueSnapshot | null>;
}

/** A short, value-free label for a reference, used in reports and logs. */
export function describeRef(ref: SourceRef): string {
  return ref.kind === 'vault' ? `${ref.mount}/${ref.path}` : ref.file;
}
