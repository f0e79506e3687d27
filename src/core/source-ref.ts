// Plain data every layer shares about secret sources: where a secret lives (Vault path or sops file and its
// store) and what a source answered (key names with presence, or values). No behaviour, no I/O; the
// SecretSource interface itself lives in sources/secret-source.ts.

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
  /**
   * The names were read out of decrypted content (a sops binary store, whose names are encrypted): only
   * names an example declares may be shown; any other "name" could be a piece of a value.
   */
  opaqueNames?: boolean;
  /** Version of the secret when the store has one (Vault KV v2 version; absent for sops). */
  version?: number;
}

/** Key → value of one secret, in store order. Values must never be logged or put in an error message. */
export interface ValueSnapshot {
  values: Map<string, string>;
  /** As {@link KeyListing.opaqueNames}. */
  opaqueNames?: boolean;
  version?: number;
  /** sops: sha256 (hex) of the file text the values were decrypted from, for a check-and-set write. */
  revision?: string;
}
