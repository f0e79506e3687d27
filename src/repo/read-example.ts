// Reads and parses one secrets example from disk (the I/O half of core/example.ts's parseExample).
import { readFileSync } from 'node:fs';
import { parseExample, type ExampleModel } from '../core/example.js';
import { applyKeyPolicy, type KeyRule } from '../core/key-policy.js';
import { CoffreError } from '../errors.js';
import { MAX_CONFIG_BYTES } from './bounded-read.js';
import type { RepoFiles } from './repo-files.js';

/**
 * Reads `absPath` and parses it; `displayPath` (repo-relative) is what messages name. `files` reads it from
 * another view of the repo (a past commit) instead of the disk. `keyPolicy` (SecretFileModel.keyPolicy, from
 * coffre.yaml) overrides the annotations of the keys it matches.
 */
export async function readExample(absPath: string, displayPath: string, files?: RepoFiles, keyPolicy?: readonly KeyRule[]): Promise<ExampleModel> {
  let text: string;
  try {
    // Examples are a few hundred bytes: a direct read costs less than a round trip through the thread pool.
    text = files !== undefined ? await files.readText(absPath, MAX_CONFIG_BYTES) : readFileSync(absPath, 'utf8');
  } catch (error) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `cannot read example ${displayPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { file: displayPath }, { cause: error });
  }
  return applyKeyPolicy(parseExample(text, displayPath), keyPolicy);
}
