// git's answers about render targets and sops sources, kept by a long-running process (coffre serve) while
// nothing git reads to give them has changed (stat-checked on every use; never a timer).
import { lstatSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { runGit } from './git-command.js';
import { gitClearsTargets } from './git-exposure.js';
import { sourcesGitWillNotCommit, type IgnoredSource } from './source-commit.js';

/**
 * git's answers for a long-running process (coffre serve), which would otherwise start git processes on every
 * request. An answer is reused while nothing git reads to give it has changed — the index (what is tracked),
 * the `.git` entry, and every `.gitignore` that could hold a rule for the files (from the git toplevel down to
 * each file's folder, a missing one included).
 */
export interface GitVerdictCache {
  /**
   * {@link gitClearsTargets}: a yes is reused; a no is never reused (it is asked again). This answer guards
   * where secrets are written, so only the ignore files it accepts count: .gitignore files, not
   * `.git/info/exclude`, which a clone does not share.
   */
  clears(root: string, targetRels: readonly string[]): Promise<boolean>;
  /**
   * {@link sourcesGitWillNotCommit} (it feeds the SOPS_SOURCE_IGNORED warning): any answer is reused, with
   * `.git/info/exclude` as one more input, since git's ignore check reads it too.
   */
  ignoredSources(root: string, rels: readonly string[]): Promise<IgnoredSource[]>;
}

/** Inputs changed this recently may not carry a distinct timestamp yet (git's "racily clean" rule): not reused. */
const RACY_WINDOW_MS = 2000;
const MAX_VERDICTS = 512;

export function createGitVerdictCache(now: () => number = Date.now): GitVerdictCache {
  const verdicts = new Map<string, Remembered<boolean>>();
  const ignoredAnswers = new Map<string, Remembered<IgnoredSource[]>>();
  // The questions being put to git, by key, for each store.
  const clearsAsked = new Map<string, Promise<Asked<boolean>>>();
  const ignoredAsked = new Map<string, Promise<Asked<IgnoredSource[]>>>();

  /**
   * The remembered answer for `rels` while every input stamp is unchanged; else git is asked (`ask`), once for
   * the requests that come while it answers, and its answer kept when `keep` allows and no input changed
   * during the question nor within the racy window.
   */
  async function answer<T>(store: Map<string, Remembered<T>>, asking: Map<string, Promise<Asked<T>>>, root: string, rels: readonly string[], extraInputs: (gitDir: string) => string[], ask: () => Promise<T>, keep: (answer: T) => boolean): Promise<T> {
    const key = JSON.stringify([root, [...rels].sort()]);
    const cached = store.get(key);
    if (cached !== undefined && cached.stamps.every(([file, stamp]) => stampOf(file).stamp === stamp)) return cached.answer;
    // The same question already put to git (concurrent first requests): its answer, if it is one that is kept,
    // holds for this request too, which arrived while no input changed. Any other outcome is asked again.
    const running = asking.get(key);
    if (running !== undefined) {
      const asked = await running.catch(() => null);
      if (asked?.kept) return asked.answer;
    }
    store.delete(key);
    const question = (async (): Promise<Asked<T>> => {
      const layout = await gitLayoutOf(root);
      if (layout === null) return { answer: await ask(), kept: false };
      const inputs = [...gitInputsOf(layout, await realpath(root), rels), ...extraInputs(layout.gitDir)];
      const before = inputs.map(stampOf);
      const answered = await ask();
      const after = inputs.map(stampOf);
      const settled = after.every((s, i) => s.stamp === before[i]!.stamp && now() - s.changedMs > RACY_WINDOW_MS);
      if (!settled || !keep(answered)) return { answer: answered, kept: false };
      if (store.size >= MAX_VERDICTS) store.delete(store.keys().next().value as string);
      store.set(key, { answer: answered, stamps: inputs.map((file, i) => [file, after[i]!.stamp] as const) });
      return { answer: answered, kept: true };
    })();
    asking.set(key, question);
    try {
      return (await question).answer;
    } finally {
      if (asking.get(key) === question) asking.delete(key);
    }
  }

  return {
    clears: (root, targetRels) => answer(verdicts, clearsAsked, root, targetRels, () => [], () => gitClearsTargets(root, targetRels), (cleared) => cleared),
    ignoredSources: async (root, rels) => {
      // No sops source (a Vault-only service): nothing to ask, and nothing to stat for it on every request.
      if (rels.length === 0) return [];
      // Handed out as copies: no caller can change what the next request is answered.
      const ignored = await answer(ignoredAnswers, ignoredAsked, root, rels, (gitDir) => [path.join(gitDir, 'info', 'exclude')], () => sourcesGitWillNotCommit(root, rels), () => true);
      return ignored.map((entry) => ({ ...entry }));
    },
  };
}

interface Asked<T> {
  answer: T;
  /** Kept in the store: no input changed during the question, nor within the racy window, and `keep` allowed it. */
  kept: boolean;
}

interface Remembered<T> {
  answer: T;
  stamps: Array<readonly [string, string]>;
}

/** The git dir and work-tree toplevel of `root`, or null (no repository, no git): such answers are not cached. */
async function gitLayoutOf(root: string): Promise<{ gitDir: string; topLevel: string } | null> {
  try {
    const run = await runGit(root, 'rev-parse', ['--absolute-git-dir', '--show-toplevel']);
    const [gitDir, topLevel] = run.stdout.split('\n');
    return run.code === 0 && gitDir && topLevel ? { gitDir, topLevel } : null;
  } catch {
    return null;
  }
}

function gitInputsOf(layout: { gitDir: string; topLevel: string }, realRoot: string, targetRels: readonly string[]): string[] {
  const files = new Set([path.join(layout.gitDir, 'index'), path.join(layout.topLevel, '.git')]);
  for (const rel of targetRels) {
    const fromTop = path.relative(layout.topLevel, path.join(realRoot, path.dirname(rel)));
    let dir = layout.topLevel;
    files.add(path.join(dir, '.gitignore'));
    for (const segment of fromTop === '' ? [] : fromTop.split(path.sep)) {
      dir = path.join(dir, segment);
      files.add(path.join(dir, '.gitignore'));
    }
  }
  return [...files];
}

function stampOf(file: string): { stamp: string; changedMs: number } {
  try {
    // An absent input (a .gitignore, a fresh repo's index) without an exception built for it.
    const stats = lstatSync(file, { throwIfNoEntry: false });
    if (stats === undefined) return { stamp: 'missing:ENOENT', changedMs: 0 };
    return { stamp: `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.mode}`, changedMs: Math.max(stats.mtimeMs, stats.ctimeMs) };
  } catch (error) {
    return { stamp: `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`, changedMs: 0 };
  }
}
