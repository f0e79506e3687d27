// How discovery sees the repo's files: the working tree on disk (the default), or another view such as a past
// commit read through git (`render --as-of`). Discovery calls only these four questions; it never writes.
import type { Dirent } from 'node:fs';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { readBoundedTextSync } from './bounded-read.js';

/** One entry of a folder listing. */
export interface RepoEntry {
  name: string;
  /** `symlink` is followed by `isFile` on disk only; a past commit's links are not followed. */
  kind: 'file' | 'dir' | 'symlink' | 'other';
}

/** The files discovery reads; absolute paths throughout. Errors carry a `code` (`ENOENT`, `EFBIG`…). */
export interface RepoFiles {
  /** True when `dir` is a folder (a symlink to one is not). */
  isDirectory(dir: string): Promise<boolean>;
  /** The entries of a folder; rejects when it cannot be listed. */
  list(dir: string): Promise<RepoEntry[]>;
  /** True for a regular file (or, on disk, a link to one). */
  isFile(file: string): Promise<boolean>;
  /** UTF-8 text, refused with FileTooLargeError over `maxBytes`. */
  readText(file: string, maxBytes: number): Promise<string>;
}

/**
 * The working tree as it is on disk. Each question is one synchronous system call on the main thread: for the
 * hundreds of small probes and reads of a discovery, a round trip through the thread pool per call (fs/promises)
 * costs far more CPU than the call itself. Reads keep readBoundedText's guards (readBoundedTextSync).
 */
export const diskFiles: RepoFiles = {
  async isDirectory(dir) {
    try {
      return lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
    } catch {
      return false;
    }
  },
  async list(dir) {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.map((entry: Dirent) => ({ name: entry.name, kind: entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : entry.isSymbolicLink() ? 'symlink' : 'other' }));
  },
  async isFile(file) {
    try {
      return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
    } catch {
      return false;
    }
  },
  async readText(file, maxBytes) {
    return readBoundedTextSync(file, maxBytes);
  },
};

/** A regular file, or a symlink the view resolves to one (folders are never followed). */
export async function isFileEntry(files: RepoFiles, dir: string, entry: RepoEntry): Promise<boolean> {
  if (entry.kind === 'file') return true;
  if (entry.kind !== 'symlink') return false;
  return files.isFile(path.join(dir, entry.name));
}
