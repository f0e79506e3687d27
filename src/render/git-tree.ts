// What `coffre guard` and the CI report formats ask git about a work tree: where the repo root sits in it,
// which files are tracked / staged / addable, the staged content of a file, and the git directory (for the
// hook installer). Read-only; every run goes through git-command.ts (no config can make git run a program).
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { isDubiousOwnership, runGit, type GitRun, type GitRunOptions } from './git-command.js';

/**
 * The path of `root` inside its git work tree, posix with a trailing `/` ("" at the top, or when `root` is in
 * no git work tree or git is missing): what makes repo-relative paths relative to the repository.
 */
export async function gitPrefixOf(root: string): Promise<string> {
  let run: GitRun;
  try {
    run = await runGit(root, 'rev-parse', ['--show-prefix']);
  } catch {
    return '';
  }
  if (run.code !== 0) return '';
  const prefix = run.stdout.replace(/\n$/, '');
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Which files of the work tree guard looks at. */
export type GitFileSet = 'staged' | 'tracked' | 'addable';

/** One file of a set: its path relative to `root` (posix) and, for staged files, the blob id in the index. */
export interface GitFileEntry {
  path: string;
  /** Index blob id (staged set only). */
  blob?: string;
  /** Git mode (staged set only): `100644`, `100755`, `120000` (symlink), `160000` (submodule). */
  mode?: string;
}

/**
 * Files below `root`: `staged` lists the index (what the next commit holds, with blob ids), `tracked` the
 * index's paths (their work-tree content is read by the caller), `addable` the tracked files plus untracked
 * ones the ignore rules do not exclude (what `git add -A` would stage). `indexFile`: the index to read instead
 * of .git/index (GIT_INDEX_FILE of a pre-commit hook, absolute). Throws COFFRE_USAGE when `root` is
 * not in a git work tree, COFFRE_TARGET_UNSAFE when git fails otherwise.
 */
export async function listGitFiles(root: string, set: GitFileSet, indexFile?: string): Promise<GitFileEntry[]> {
  const args = set === 'staged' ? ['-z', '--stage'] : set === 'tracked' ? ['-z', '--cached'] : ['-z', '--cached', '--others', '--exclude-standard'];
  const run = await gitOrFail(root, 'ls-files', args, indexFile !== undefined ? { indexFile } : {});
  const fields = run.stdout.split('\0').filter((entry) => entry !== '');
  if (set !== 'staged') return [...new Set(fields)].map((file) => ({ path: file }));
  const entries = new Map<string, GitFileEntry>();
  for (const field of fields) {
    // `<mode> <object> <stage>\t<path>`; in a conflicted index, several stages of one path: keep the first.
    const match = /^(\d+) ([0-9a-f]+) (\d)\t([\s\S]*)$/.exec(field);
    if (!match) throw new CoffreError('COFFRE_TARGET_UNSAFE', `git ls-files --stage printed an entry coffre does not understand in ${root}`);
    const file = match[4] as string;
    if (!entries.has(file)) entries.set(file, { path: file, blob: match[2] as string, mode: match[1] as string });
  }
  return [...entries.values()];
}

/**
 * The content of index blobs, by id, as bytes (one `git cat-file --batch` for all of them: raw objects, no
 * filter or textconv). Ids git does not have are absent from the result.
 */
export async function readGitBlobs(root: string, blobs: readonly string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const unique = [...new Set(blobs)];
  if (unique.length === 0) return out;
  const run = await gitOrFail(root, 'cat-file', ['--batch'], { input: unique.map((id) => `${id}\n`).join(''), timeoutMs: 120_000 });
  const bytes = run.stdoutBytes ?? Buffer.from(run.stdout, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    if (end === -1) break;
    const header = bytes.subarray(offset, end).toString('utf8');
    offset = end + 1;
    const match = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
    if (!match) continue; // `<id> missing`
    const size = Number(match[3]);
    if (match[2] === 'blob') out.set(match[1] as string, bytes.subarray(offset, offset + size));
    offset += size + 1; // content, then a newline
  }
  return out;
}

/** The git directory shared by all work trees of the repository (where hooks live), absolute. */
export async function gitCommonDirOf(root: string): Promise<string> {
  const run = await gitOrFail(root, 'rev-parse', ['--git-common-dir']);
  const dir = run.stdout.replace(/\n$/, '');
  return path.resolve(root, dir);
}

async function gitOrFail(root: string, subcommand: 'ls-files' | 'cat-file' | 'rev-parse', args: string[], options: GitRunOptions = {}): Promise<GitRun> {
  let run: GitRun;
  try {
    run = await runGit(root, subcommand, args, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CoffreError('COFFRE_USAGE', `git is not installed: coffre guard needs it to know what ${root} holds`);
    throw error;
  }
  if (run.code === 0) return run;
  if (/not a git repository/i.test(run.stderr)) throw new CoffreError('COFFRE_USAGE', `${root} is not in a git work tree: coffre guard checks what git would commit`);
  const detail = isDubiousOwnership(run.stderr)
    ? run.stderr
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .join(' ')
    : (run.stderr.trim().split('\n')[0] ?? '');
  throw new CoffreError('COFFRE_TARGET_UNSAFE', `git ${subcommand} failed in ${root}: ${detail || `exit code ${run.code}`}`);
}
