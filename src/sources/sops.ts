// The SecretSource for sops files: reads the encrypted file from disk, lists key names without a key,
// decrypts with the age identities it was given (MAC verified). The only file I/O of the sops codec;
// it never looks for keys on its own.
import { readFile } from 'node:fs/promises';
import { parseEnvFile } from '../core/env-file.js';
import type { AgeIdentity } from '../sops/age-identity.js';
import { decryptSopsFile, sopsBinaryText, sopsEnvValues } from '../sops/decrypt.js';
import { listSopsKeys } from '../sops/key-listing.js';
import { parseSopsFile, type SopsFile } from '../sops/sops-file.js';
import type { KeyListing, KeyPresence, SecretSource, SopsRef, ValueSnapshot } from './secret-source.js';

export interface SopsSourceOptions {
  /** The age identities to decrypt with, passed explicitly (coffre never searches ~/.ssh or runs commands). */
  identities: AgeIdentity[];
}

function isMissingFile(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A sops SecretSource. `listKeys` needs no identity (names and emptiness are clear text), except for the
 * binary store whose names are encrypted: there it decrypts. The binary store's plaintext is read as a
 * docker compose env file (last value per key). Each file is read, and decrypted, at most once per
 * source instance (one instance per run).
 */
export function createSopsSource(options: SopsSourceOptions): SecretSource<SopsRef> {
  const parsed = new Map<string, Promise<SopsFile | null>>();
  const decrypted = new Map<string, Promise<ValueSnapshot | null>>();
  const cacheKey = (ref: SopsRef): string => `${ref.format}\0${ref.file}`;

  const load = (ref: SopsRef): Promise<SopsFile | null> => {
    let promise = parsed.get(cacheKey(ref));
    if (promise === undefined) {
      promise = readFile(ref.file, 'utf8').then(
        (text) => parseSopsFile(text, ref.format, ref.file),
        (error: unknown) => {
          if (isMissingFile(error)) return null;
          throw error;
        },
      );
      parsed.set(cacheKey(ref), promise);
    }
    return promise;
  };

  const readValues = (ref: SopsRef): Promise<ValueSnapshot | null> => {
    let promise = decrypted.get(cacheKey(ref));
    if (promise === undefined) {
      promise = load(ref).then(async (sops) => {
        if (sops === null) return null;
        const plain = await decryptSopsFile(sops, options.identities);
        if (sops.format !== 'binary') return { values: sopsEnvValues(plain) };
        const values = new Map<string, string>();
        for (const entry of parseEnvFile(sopsBinaryText(plain), { file: ref.file }).entries) values.set(entry.key, entry.value);
        return { values };
      });
      decrypted.set(cacheKey(ref), promise);
    }
    return promise;
  };

  return {
    kind: 'sops',
    async listKeys(ref: SopsRef): Promise<KeyListing | null> {
      const sops = await load(ref);
      if (sops === null) return null;
      if (sops.format !== 'binary') return listSopsKeys(sops);
      const snapshot = await readValues(ref);
      if (snapshot === null) return null;
      const keys = new Map<string, KeyPresence>();
      for (const [key, value] of snapshot.values) keys.set(key, value === '' ? 'empty' : 'set');
      return { keys };
    },
    readValues,
  };
}
