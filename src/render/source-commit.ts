// Asks git whether committed source files (sops files) can reach other clones: a sops file that git does not
// track and that an ignore rule matches will never be committed, so a deploy host would have no source.
// Read-only git plumbing through git-command.ts (fixed environment, no repo-configured program); never throws.
import path from 'node:path';
import { runGit } from './git-command.js';
import { gitignoreLineFor } from './git-exposure.js';

/** A source file git will never commit, with the ignore rule that matches it. */
export interface IgnoredSource {
  /** The file, relative to the root given, `/`-separated. */
  rel: string;
  /** The ignore file (as git names it, relative to the git work tree's top), its line and pattern. */
  source: string;
  line: string;
  pattern: string;
  /** The line to add at the end of `source` so that git commits the file. */
  negation: string;
  /** The pattern ignores a folder holding the file: git cannot re-include a file below an ignored folder. */
  folderIgnored: boolean;
}

/**
 * The files among `rels` (relative to `root`) that git neither tracks nor would add: matched by an ignore rule
 * (any of git's own: .gitignore files and .git/info/exclude; never the user's global excludes file). Empty when
 * `root` is in no git work tree, git is missing or fails: this feeds a warning, never a refusal.
 */
export async function sourcesGitWillNotCommit(root: string, rels: readonly string[]): Promise<IgnoredSource[]> {
  if (rels.length === 0) return [];
  try {
    const tracked = await runGit(root, 'ls-files', ['-z', '--', ...rels]);
    if (tracked.code !== 0) return [];
    const trackedSet = new Set(tracked.stdout.split('\0').filter((entry) => entry !== ''));
    const untracked = rels.filter((rel) => !trackedSet.has(rel));
    if (untracked.length === 0) return [];
    // The root's place in the work tree (`infra/`, or "" at the top): ignore files are named from the top.
    const prefix = await runGit(root, 'rev-parse', ['--show-prefix']);
    if (prefix.code !== 0) return [];
    const rootFromTop = prefix.stdout.trim();
    const ignore = await runGit(root, 'check-ignore', ['--stdin', '-z', '-v', '-n'], { input: untracked.map((rel) => `${rel}\0`).join('') });
    if (ignore.code !== 0 && ignore.code !== 1) return [];
    const fields = ignore.stdout.split('\0');
    const out: IgnoredSource[] = [];
    for (let i = 0; i + 3 < fields.length; i += 4) {
      const [source = '', line = '', pattern = '', rel = ''] = fields.slice(i, i + 4);
      if (source === '' || pattern.startsWith('!')) continue;
      // The negation is relative to the folder of the ignore file that matched (.git/info/exclude: the top).
      const ruleDir = path.posix.basename(source) === '.gitignore' ? path.posix.dirname(source) : '.';
      const fromTop = `${rootFromTop}${rel}`;
      const fromRule = ruleDir === '.' ? fromTop : path.posix.relative(ruleDir, fromTop);
      out.push({ rel, source, line, pattern, negation: `!${gitignoreLineFor(fromRule)}`, folderIgnored: pattern.endsWith('/') });
    }
    return out;
  } catch {
    return [];
  }
}

/** Which of `rels` (relative to `root`) git tracks; empty outside a git work tree or when git fails. */
export async function trackedFiles(root: string, rels: readonly string[]): Promise<Set<string>> {
  if (rels.length === 0) return new Set();
  try {
    const run = await runGit(root, 'ls-files', ['-z', '--', ...rels]);
    return new Set(run.code === 0 ? run.stdout.split('\0').filter((entry) => entry !== '') : []);
  } catch {
    return new Set();
  }
}
