// A parsed (still encrypted) sops file: the store chosen by format, its ordered branches and validated
// metadata. Parsing needs no key and does no I/O; reading files is the caller's job (src/sources/sops.ts).
import { CoffreError } from '../errors.js';
import type { SopsStoreFormat } from '../core/source-ref.js';
import { readDotenvStore } from './dotenv-store.js';
import { readIniStore } from './ini-store.js';
import { readBinaryStore, readJsonStore } from './json-store.js';
import { readMetadata, type PlainValue, type SopsMetadata } from './metadata.js';
import type { SopsMap } from './tree.js';
import { readYamlStore } from './yaml-store.js';

/** A sops file as read from disk, before any decryption. */
export interface SopsFile {
  /** The path used in messages. */
  file: string;
  format: SopsStoreFormat;
  /** Ordered branches: one per YAML document, one for the other stores (INI: one top-level key per section). */
  branches: SopsMap[];
  metadata: SopsMetadata;
  /** The metadata as plain data, kept so a writer can carry every entry over. */
  rawMetadata: PlainValue;
  /**
   * The metadata entries with their source spans: the nested `sops` map (YAML, JSON, binary) or the
   * flattened entries (dotenv without the `sops_` prefix, INI `[sops]`).
   */
  metadataMap: SopsMap | undefined;
  /** 1-based line of the metadata: the `sops:` key (YAML, JSON), the first `sops_` line, the `[sops]` header. */
  metadataLine: number | undefined;
  /** The exact text that was parsed (a writer edits it in place). */
  source: string;
}

/** The sops store a file name selects, as `sops` decides (`.yaml`/`.yml`, `.json`, `.env`, `.ini`, else binary). */
export function sopsFormatForPath(file: string): SopsStoreFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.env')) return 'dotenv';
  if (lower.endsWith('.ini')) return 'ini';
  return 'binary';
}

/**
 * Parses a sops file of the given store. Throws COFFRE_SOPS_SYNTAX (file:line) for a malformed document
 * and COFFRE_SOPS_METADATA when the `sops` metadata is missing or invalid. Needs no key.
 */
export function parseSopsFile(text: string, format: SopsStoreFormat, file: string): SopsFile {
  const content =
    format === 'yaml'
      ? readYamlStore(text, file)
      : format === 'json'
        ? readJsonStore(text, file)
        : format === 'binary'
          ? readBinaryStore(text, file)
          : format === 'dotenv'
            ? readDotenvStore(text, file)
            : format === 'ini'
              ? readIniStore(text, file)
              : undefined;
  if (content === undefined) throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: unknown sops store "${String(format)}"`, { file });
  const metadata = readMetadata(content.metadata, file, content.metadataLine);
  return {
    file,
    format,
    branches: content.branches,
    metadata,
    rawMetadata: content.metadata as PlainValue,
    metadataMap: content.metadataMap,
    metadataLine: content.metadataLine,
    source: text,
  };
}
