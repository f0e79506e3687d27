// Where the infra repo is when the command line does not say: the nearest folder up from the working
// directory holding coffre.yaml, else the git work tree's top, else the working directory itself. So a
// deploy script that `cd`s into a service folder still resolves Vault paths and ignore rules from the root.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { CONFIG_FILE_NAMES } from '../repo/config.js';

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The repo root for `explicit` (a REPO_DIR argument, resolved against cwd) or, without one, found upwards. */
export async function resolveRepoRoot(cwd: string, explicit: string | undefined): Promise<string> {
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  const start = path.resolve(cwd);
  let gitTop: string | null = null;
  for (let dir = start; ; dir = path.dirname(dir)) {
    for (const name of CONFIG_FILE_NAMES) if (await exists(path.join(dir, name))) return dir;
    if (gitTop === null && (await exists(path.join(dir, '.git')))) gitTop = dir;
    if (path.dirname(dir) === dir) break;
  }
  return gitTop ?? start;
}

/** The service the working directory is in (its folder path relative to the root), if cwd is below the root. */
export function serviceOfCwd(root: string, cwd: string, serviceNames: readonly string[]): string | null {
  const rel = path.relative(root, path.resolve(cwd)).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  // The deepest service folder containing cwd (services may nest).
  const matches = serviceNames.filter((name) => name !== '.' && (rel === name || rel.startsWith(`${name}/`)));
  return matches.sort((a, b) => b.length - a.length)[0] ?? null;
}
