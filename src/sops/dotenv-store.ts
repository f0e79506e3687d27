// The sops dotenv store, read side: sops' literal `KEY=VALUE` lines (split at the first `=`, nothing
// trimmed or unquoted, `\n` escapes), `#` comment lines, `sops_*` lines as flattened metadata.
// This is NOT the docker compose env_file dialect (that one lives in src/core/env-file.ts).
import { CoffreError } from '../errors.js';
import { unflattenMetadata, type PlainValue } from './metadata.js';
import type { SopsMap } from './tree.js';

/** What the dotenv store hands to parseSopsFile. */
export interface DotenvStoreContent {
  branches: SopsMap[];
  metadata: PlainValue | undefined;
  /** The flattened metadata lines (keys without the `sops_` prefix), with their spans. */
  metadataMap: SopsMap;
  metadataLine: number | undefined;
}

/** The prefix of metadata keys in dotenv files. */
export const DOTENV_METADATA_PREFIX = 'sops_';

/** sops dotenv values escape newlines as the two characters `\n`. */
export function unescapeDotenvValue(raw: string): string {
  return raw.replaceAll('\\n', '\n');
}

/** Parses a sops dotenv file. A line without `=` is a syntax error naming file:line (not the line's text). */
export function readDotenvStore(text: string, file: string): DotenvStoreContent {
  const branch: SopsMap = { kind: 'map', items: [] };
  const metadataMap: SopsMap = { kind: 'map', items: [] };
  const flat = new Map<string, string>();
  let metadataLine: number | undefined;
  let offset = 0;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const lineStart = offset;
    offset += line.length + 1;
    if (line.length === 0) return;
    if (line.startsWith('#')) {
      branch.items.push({ kind: 'comment', text: line.slice(1), line: lineNo });
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      throw new CoffreError('COFFRE_SOPS_SYNTAX', `${file}:${lineNo}: dotenv line has no "="`, { file, line: lineNo });
    }
    const key = line.slice(0, eq);
    const value = unescapeDotenvValue(line.slice(eq + 1));
    const span = { start: lineStart + eq + 1, end: lineStart + line.length };
    if (key.startsWith(DOTENV_METADATA_PREFIX)) {
      const metaKey = key.slice(DOTENV_METADATA_PREFIX.length);
      flat.set(metaKey, value);
      metadataMap.items.push({ kind: 'entry', key: metaKey, value, line: lineNo, span });
      metadataLine ??= lineNo;
      return;
    }
    branch.items.push({ kind: 'entry', key, value, line: lineNo, span });
  });
  return {
    branches: [branch],
    metadata: flat.size === 0 ? undefined : unflattenMetadata(flat, file),
    metadataMap,
    metadataLine,
  };
}
