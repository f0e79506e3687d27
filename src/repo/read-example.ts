// Reads and parses one secrets example from disk (the I/O half of core/example.ts's parseExample).
import { parseExample, secretFileExample, type ExampleModel } from '../core/example.js';
import { applyKeyPolicy, type KeyRule } from '../core/key-policy.js';
import { CoffreError } from '../errors.js';
import { describeReadError, MAX_CONFIG_BYTES, readBoundedTextSync } from './bounded-read.js';
import { compileGlob } from './lazy-picomatch.js';
import type { RepoFiles } from './repo-files.js';
import { secretFileKey } from './secret-naming.js';

/**
 * Reads `absPath` and parses it; `displayPath` (repo-relative) is what messages name. `files` reads it from
 * another view of the repo (a past commit) instead of the disk. `keyPolicy` (SecretFileModel.keyPolicy, from
 * coffre.yaml) overrides the annotations of the keys it matches.
 */
export async function readExample(absPath: string, displayPath: string, files?: RepoFiles, keyPolicy?: readonly KeyRule[]): Promise<ExampleModel> {
  let text: string;
  try {
    // Examples are a few hundred bytes: a direct read costs less than a round trip through the thread pool.
    // Bounded, and never from a FIFO or device swapped in since discovery saw a file (it could block for ever).
    text = files !== undefined ? await files.readText(absPath, MAX_CONFIG_BYTES) : readBoundedTextSync(absPath, MAX_CONFIG_BYTES);
  } catch (error) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `cannot read example ${displayPath}: ${describeReadError(error)}`, { file: displayPath }, { cause: error });
  }
  return applyKeyPolicy(parseExample(text, displayPath), keyPolicy, compileGlob);
}

/** What {@link readExampleOf} needs of a secrets file. */
export interface ExampleOfFile {
  format: 'compose' | 'raw' | 'secret';
  target: string;
  example: string;
  exampleRel: string;
  /** coffre.yaml's per-key policy for this file (SecretFileModel.keyPolicy). */
  keyPolicy?: readonly KeyRule[];
}

/**
 * The example of a secrets file, by its kind: an env file's example is parsed as such; a compose secret file's
 * example (`db_password.txt.example`) is one value, the whole file, under the key {@link secretFileKey}.
 */
export async function readExampleOf(file: ExampleOfFile, files?: RepoFiles): Promise<ExampleModel> {
  if (file.format !== 'secret') return readExample(file.example, file.exampleRel, files, file.keyPolicy);
  let text: string;
  try {
    text = files !== undefined ? await files.readText(file.example, MAX_CONFIG_BYTES) : readBoundedTextSync(file.example, MAX_CONFIG_BYTES);
  } catch (error) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `cannot read example ${file.exampleRel}: ${describeReadError(error)}`, { file: file.exampleRel }, { cause: error });
  }
  return applyKeyPolicy(secretFileExample(text, file.exampleRel, secretFileKey(file.target)), file.keyPolicy, compileGlob);
}
