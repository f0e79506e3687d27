// What the caches of a long-running process (coffre serve: discovery, examples) compare to know that a file is
// unchanged since they read it: never a timer, always a fresh stat.
import { lstatSync, statSync, type Stats } from 'node:fs';

/** Files changed this recently are not trusted to carry a distinct timestamp (git's "racily clean" rule). */
export const RACY_WINDOW_MS = 2000;

export interface FileStamp {
  /** Device, inode, size, times and mode (of the link and of what it points to); `missing:<code>` when absent. */
  stamp: string;
  /** The latest modification or change time in the stamp (0 when missing). */
  changedMs: number;
  missing: boolean;
}

function describe(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.mode}`;
}

/**
 * The stamp of a name as a read sees it: the name itself (lstat), and, when it is a symbolic link, the file it
 * leads to (stat): a link replaced or retargeted and the file behind it rewritten all change it. On the main
 * thread: a stat of a file the kernel has just seen costs microseconds, while an await of fs/promises' stat is
 * a round trip through libuv's thread pool (measured ~45 µs CPU each, ~10x the call, on this 2-core VM), and a
 * cache stats its inputs on every request. An absent file is answered without an exception built for it.
 */
export function fileStamp(file: string): FileStamp {
  try {
    const own = lstatSync(file, { throwIfNoEntry: false });
    if (own === undefined) return { stamp: 'missing:ENOENT', changedMs: 0, missing: true };
    const changedMs = Math.max(own.mtimeMs, own.ctimeMs);
    if (!own.isSymbolicLink()) return { stamp: describe(own), changedMs, missing: false };
    const behind = statSync(file, { throwIfNoEntry: false });
    if (behind === undefined) return { stamp: `${describe(own)}>missing`, changedMs, missing: false };
    return { stamp: `${describe(own)}>${describe(behind)}`, changedMs: Math.max(changedMs, behind.mtimeMs, behind.ctimeMs), missing: false };
  } catch (error) {
    return { stamp: `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`, changedMs: 0, missing: true };
  }
}
