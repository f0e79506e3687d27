// Locates the pinned real tools (bao, sops) installed by `npm run tools` into .tools/bin.
// A test that needs a tool fails loudly when it is missing; it never skips.
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (dist/test/support → ../../..). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Absolute path of a pinned tool; throws with the command to run when it is not installed. */
export function toolPath(name: 'bao' | 'sops'): string {
  const file = path.join(projectRoot, '.tools', 'bin', name);
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new Error(`required tool "${name}" is missing at ${file}: run \`npm run tools\` (scripts/install-tools.sh)`);
  }
  return file;
}

/** Test fixtures (test/fixtures, copied from ../shared/fixtures with their README and licenses). */
export const fixturesDir = path.join(projectRoot, "test", "fixtures");
