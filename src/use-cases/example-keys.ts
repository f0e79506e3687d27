// `keys` of one secrets file as its example declares them: name, line and coffre annotations (@optional,
// @allow-empty, @generate), for the admin page's key list and rotate form. Reads the example only: no store
// is touched and no value (not even the example's placeholder) is returned.
import { CoffreError } from '../errors.js';
import type { GenerateSpec } from '../core/generate.js';
import { readExampleOf } from '../repo/read-example.js';
import type { CheckContext } from './check.js';
import { resolveSecretFile } from './versions.js';

/** One key of an example, value-free. */
export interface ExampleKeyInfo {
  name: string;
  /** 1-based line in the example. */
  line: number;
  optional: boolean;
  allowEmpty: boolean;
  commentedOut: boolean;
  /** `@generate=<charset>:<length>`, or null when the example does not say. */
  generate: GenerateSpec | null;
  /** The value holds `$` references: derived config copied through, not a secret to rotate. */
  interpolated: boolean;
}

export interface ExampleKeysReport {
  service: string;
  file: string;
  target: string;
  /** Repo-relative example path. */
  example: string;
  keys: ExampleKeyInfo[];
}

/** The keys the example of `<service>`'s secrets file `<file>` declares. Throws COFFRE_EXAMPLE_MISSING without one. */
export async function listExampleKeys(context: CheckContext, options: { service: string; file: string }): Promise<ExampleKeysReport> {
  const { service, file } = resolveSecretFile(context, options.service, options.file);
  if (file.example === null || file.exampleRel === null) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} has no example (add ${file.targetRel}.example, or configure one in coffre.yaml)`, { file: file.targetRel });
  }
  const example = await readExampleOf({ ...file, example: file.example, exampleRel: file.exampleRel });
  return {
    service: service.name,
    file: file.name,
    target: file.targetRel,
    example: file.exampleRel,
    keys: example.keys.map((key) => ({
      name: key.name,
      line: key.line,
      optional: key.optional,
      allowEmpty: key.allowEmpty,
      commentedOut: key.commentedOut,
      generate: key.generate ? { charset: key.generate.charset, length: key.generate.length } : null,
      interpolated: key.interpolated,
    })),
  };
}
