// Reading one sops file for its values: read, parse, unwrap, decrypt with MAC verification, as an env
// snapshot. Shared by the sops source's own thread and its worker threads (sops-worker.ts), so both give
// the same values and the same typed errors. Never puts a value in an error.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseEnvFile } from '../core/env-file.js';
import { CoffreError } from '../errors.js';
import type { AgeIdentity } from '../sops/age-identity.js';
import { decryptSopsFile, sopsBinaryText, sopsEnvValues, type DecryptedSops } from '../sops/decrypt.js';
import { parseSopsFile, type SopsFile } from '../sops/sops-file.js';
import type { SopsRef, ValueSnapshot } from './secret-source.js';

export function revisionOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function isDenied(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

export function isMissingFile(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** This user may not read the sops file (or write beside it): named, with what a checkout shared by a group needs. */
export function denied(ref: SopsRef, error: unknown, what: 'read' | 'write'): CoffreError {
  const fix = what === 'read' ? `make it readable by that group (chgrp GROUP ${ref.file} && chmod g+r ${ref.file})` : `make its folder writable by that group and setgid (chgrp GROUP DIR && chmod g+ws DIR)`;
  return new CoffreError(
    'COFFRE_SOURCE_DENIED',
    `${ref.file}: this user may not ${what === 'read' ? 'read this sops file' : 'write a new version of this sops file beside it'} ` +
      `(${(error as NodeJS.ErrnoException).code ?? 'denied'}); on a checkout shared by a group, ${fix}`,
    { file: ref.file },
    { cause: error },
  );
}

/** The file's text, or null when it does not exist (COFFRE_SOURCE_DENIED when this user may not read it). */
export function readSopsText(ref: SopsRef): string | null {
  try {
    // A sops file is a few KiB: a direct read costs less than a round trip through the thread pool.
    return readFileSync(ref.file, 'utf8');
  } catch (error) {
    if (isMissingFile(error)) return null;
    if (isDenied(error)) throw denied(ref, error, 'read');
    throw error;
  }
}

/** The values of a parsed sops file (MAC verified); `label` names it in errors. */
export async function snapshotOf(sops: SopsFile, identities: AgeIdentity[], revision: string, label: string): Promise<ValueSnapshot> {
  const plain = await decryptSopsFile(sops, identities);
  if (sops.format !== 'binary') return { values: sopsEnvValues(plain), revision };
  return { values: binaryEnvValues(plain, label), opaqueNames: true, revision };
}

/** Reads, parses and decrypts one sops file: its values, or null when it does not exist. */
export async function readSopsSnapshot(ref: SopsRef, identities: AgeIdentity[]): Promise<ValueSnapshot | null> {
  const text = readSopsText(ref);
  if (text === null) return null;
  return snapshotOf(parseSopsFile(text, ref.format, ref.file), identities, revisionOf(text), ref.file);
}

/**
 * A binary store's decrypted text read as a docker compose env file (last value per key). Its names are
 * encrypted, so they are as secret as its values: a syntax error names the line only, never the text.
 */
export function binaryEnvValues(plain: DecryptedSops, file: string): Map<string, string> {
  let entries;
  try {
    entries = parseEnvFile(sopsBinaryText(plain), { file }).entries;
  } catch (error) {
    if (!(error instanceof CoffreError) || error.code !== 'COFFRE_EXAMPLE_SYNTAX') throw error;
    // No cause attached: the parser's message quotes the text (a character, a key name).
    const line = error.location.line;
    throw new CoffreError(
      'COFFRE_SOPS_SYNTAX',
      `${file}: the decrypted content of this sops binary file is not a docker compose env file${line === undefined ? '' : ` (line ${line})`}; its text is not shown`,
      { file, ...(line === undefined ? {} : { line }) },
    );
  }
  return new Map(entries.map((entry) => [entry.key, entry.value] as const));
}
