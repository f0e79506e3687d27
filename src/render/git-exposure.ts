// Asks the real `git` binary whether rendered targets could end up in git: tracked, or not ignored by a
// committed `.gitignore`. Read-only git commands only (ls-files, check-ignore); never changes
// the repository, never reads a target's content. git runs through git-command.ts (no config can run a program).
import { access, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { isDubiousOwnership, runGit, type GitRun, type GitSubcommand } from './git-command.js';
import { gitPrefixOf, listGitFiles, readGitBlobs } from './git-tree.js';

/**
 * What the git checks found. `not-a-repository`: the root is in no git work tree, so nothing can be
 * tracked and there are no ignore rules to check (coffre then writes, and callers may warn).
 */
export type GitExposure = 'checked' | 'not-a-repository';

/**
 * Refuses targets git tracks (COFFRE_TARGET_TRACKED) and targets no committed `.gitignore` ignores
 * (COFFRE_TARGET_NOT_IGNORED, with the exact line to add to `<root>/.gitignore`).
 *
 * `root` is the infra repo root (it need not be the git toplevel: the demo repo is a subfolder of
 * coffre's own repo); `targetRels` are already-validated paths relative to it, `/`-separated.
 * Only a `.gitignore` file counts as an ignore rule: `.git/info/exclude` and the user's global
 * excludes file protect one clone for one user, not every clone of a public repo.
 */
export async function checkGitExposure(root: string, targetRels: readonly string[]): Promise<GitExposure> {
  if (targetRels.length === 0) return 'checked';
  // ls-files doubles as the "is this a git work tree" probe: one process less per render.
  const tracked = await runGitOrNull(root, 'ls-files', ['-z', '--', ...targetRels]);
  if (tracked === null) {
    // No git binary: that is only acceptable when there is no repository to protect.
    const gitDir = await findGitDirUpwards(root);
    if (gitDir === null) return 'not-a-repository';
    throw new CoffreError(
      'COFFRE_TARGET_UNSAFE',
      `git is not installed but ${gitDir} exists: cannot verify that targets are ignored and untracked`,
    );
  }
  if (tracked.code !== 0 && /not a git repository/i.test(tracked.stderr)) return 'not-a-repository';
  // Anything else (dubious ownership, root inside .git, corrupt index) must stop the render, not skip the checks.
  assertGitOk(tracked, root, 'ls-files');
  const trackedRels = tracked.stdout.split('\0').filter((entry) => entry !== '');
  if (trackedRels.length > 0) {
    const names = trackedRels.join(', ');
    throw new CoffreError(
      'COFFRE_TARGET_TRACKED',
      `git tracks ${names}: a rendered secrets file must never be committed. Untrack it with ` +
        `\`git rm --cached -- ${trackedRels.map(shellQuote).join(' ')}\`, add it to .gitignore, and rotate ` +
        `its values if they were ever pushed`,
      { file: trackedRels[0] },
    );
  }

  const notIgnored = await targetsNotIgnoredByGitignore(root, targetRels);
  if (notIgnored.length > 0) {
    const why = whyNotIgnored(notIgnored[0]!);
    const lines = notIgnored.map((entry) => gitignoreLineFor(entry.rel));
    throw new CoffreError(
      'COFFRE_TARGET_NOT_IGNORED',
      `${notIgnored.map((entry) => entry.rel).join(', ')} ${notIgnored.length > 1 ? 'are' : 'is'} not ignored by git ` +
        `(${why}): add ${lines.length > 1 ? 'these lines' : 'this line'} to ${path.join(root, '.gitignore')}: ` +
        lines.join(' '),
      { file: notIgnored[0]!.rel },
    );
  }
  return 'checked';
}

/** A target git does not ignore through a committed .gitignore, and the rule that matched it (source '' = none). */
export interface TargetNotIgnored {
  rel: string;
  source: string;
  line: string;
  pattern: string;
}

/** Why {@link targetsNotIgnoredByGitignore} reports a target: no rule, an `!` re-include, or an ignore file that is not a .gitignore. */
export function whyNotIgnored(entry: TargetNotIgnored): string {
  if (entry.source === '') return 'no ignore rule matches it';
  if (entry.pattern.startsWith('!')) return `${entry.source}:${entry.line} re-includes it with "${entry.pattern}"`;
  return `only ${entry.source} ignores it, which is not a committed .gitignore`;
}

/**
 * The targets (relative to `root`, in a git work tree) that no committed `.gitignore` ignores, with the rule that
 * matched them if any (an `!` re-include, or an ignore file that is not a .gitignore).
 */
export async function targetsNotIgnoredByGitignore(
  root: string,
  targetRels: readonly string[],
): Promise<TargetNotIgnored[]> {
  // --no-index (added by runGit): judge the ignore rules themselves, whatever the index says (tracking is
  // checked by checkGitExposure); runGit also sets core.excludesFile=/dev/null: a user's global excludes must not make a
  // target look safe.
  const ignore = await runGit(root, 'check-ignore', ['--stdin', '-z', '-v', '-n'], {
    input: targetRels.map((rel) => `${rel}\0`).join(''),
  });
  // Exit 1 means "some path not ignored", which -n reports line by line; anything else is a failure.
  if (ignore.code !== 0 && ignore.code !== 1) assertGitOk(ignore, root, 'check-ignore');
  const fields = ignore.stdout.split('\0');
  const notIgnored: TargetNotIgnored[] = [];
  for (let i = 0; i + 3 < fields.length; i += 4) {
    const source = fields[i] ?? '';
    const line = fields[i + 1] ?? '';
    const pattern = fields[i + 2] ?? '';
    const rel = fields[i + 3] ?? '';
    const ignoredByGitignore = source !== '' && !pattern.startsWith('!') && path.posix.basename(source) === '.gitignore';
    if (!ignoredByGitignore) notIgnored.push({ rel, source, line, pattern });
  }
  return notIgnored;
}

/**
 * {@link targetsNotIgnoredByGitignore} by the `.gitignore` files of the index (`indexFile`, else .git/index):
 * the rules the next commit holds, whatever the work tree's copies say. git's check-ignore only reads work-tree
 * files, so the index's `.gitignore` files (only those: rules, never secrets) are written into a private
 * scratch folder shaped like the work tree, with an empty repository of its own, and asked there; the folder
 * is removed afterwards.
 */
export async function targetsNotIgnoredInIndex(root: string, targetRels: readonly string[], indexFile?: string): Promise<TargetNotIgnored[]> {
  const prefix = await gitPrefixOf(root);
  const top = path.resolve(root, ...prefix.split('/').filter((part) => part !== '').map(() => '..'));
  const rules = (await listGitFiles(top, 'staged', indexFile)).filter((entry) => path.posix.basename(entry.path) === '.gitignore' && entry.mode !== '120000' && entry.blob !== undefined);
  const blobs = await readGitBlobs(top, rules.map((entry) => entry.blob as string));
  const scratch = await mkdtemp(path.join(tmpdir(), 'coffre-index-ignore-'));
  try {
    // What git needs to take a folder for a repository: HEAD, objects/ and refs/ (no config, no hooks).
    await mkdir(path.join(scratch, '.git', 'objects'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(scratch, '.git', 'refs'), { mode: 0o700 });
    await writeFile(path.join(scratch, '.git', 'HEAD'), 'ref: refs/heads/main\n', { mode: 0o600 });
    for (const entry of rules) {
      const file = path.join(scratch, ...entry.path.split('/'));
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, blobs.get(entry.blob as string) ?? '', { mode: 0o600 });
    }
    const scratchRoot = path.join(scratch, ...prefix.split('/').filter((part) => part !== ''));
    await mkdir(scratchRoot, { recursive: true, mode: 0o700 });
    return await targetsNotIgnoredByGitignore(scratchRoot, targetRels);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * One git question for many targets (relative to `root`), answered yes/no: true when git neither tracks
 * nor fails to ignore any of them, or when `root` is in no git repository. A no carries no detail: callers
 * ask again target by target (preflightTargets) to get the refusal for the one concerned.
 */
export async function gitClearsTargets(root: string, targetRels: readonly string[]): Promise<boolean> {
  try {
    await checkGitExposure(await realpath(root), targetRels);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `.gitignore` line (for the `.gitignore` at the infra repo root) that ignores exactly `targetRel`:
 * anchored with `/`, glob characters and trailing spaces escaped.
 */
export function gitignoreLineFor(targetRel: string): string {
  return `/${targetRel.replace(/[\\*?[]/g, (char) => `\\${char}`).replace(/ $/, '\\ ')}`;
}

function assertGitOk(run: GitRun, root: string, what: string): void {
  if (run.code === 0) return;
  // Dubious ownership: keep git's whole message, whose hint names the `safe.directory` line to add (coffre
  // honours safe.directory from the user's global and system git config, and never adds one itself).
  const detail = isDubiousOwnership(run.stderr) ? oneLine(run.stderr) : firstLine(run.stderr);
  throw new CoffreError('COFFRE_TARGET_UNSAFE', `git ${what} failed in ${root}: ${detail || `exit code ${run.code}`}`);
}

async function runGitOrNull(root: string, subcommand: GitSubcommand, args: string[]): Promise<GitRun | null> {
  try {
    return await runGit(root, subcommand, args);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function findGitDirUpwards(start: string): Promise<string | null> {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, '.git');
    try {
      await access(candidate);
      return candidate;
    } catch {
      // keep climbing
    }
    if (path.dirname(dir) === dir) return null;
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** git's multi-line message on one line (a CLI error and a JSON error field are one line). */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

function shellQuote(word: string): string {
  return /^[\w./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
