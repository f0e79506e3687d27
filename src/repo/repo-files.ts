// How discovery sees the repo's files: the working tree on disk (the default), or another view such as a past
// commit read through git (`render --as-of`). Discovery calls only these four questions; it never writes.
import type { Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readBoundedText } from './bounded-read.js';

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

/** The working tree as it is on disk. */
export const diskFiles: RepoFiles = {
  async isDirectory(dir) {
    const stats = await lstat(dir).catch(() => null);
    return stats !== null && stats.isDirectory();
  },
  async list(dir) {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.map((entry: Dirent) => ({ name: entry.name, kind: entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : entry.isSymbolicLink() ? 'symlink' : 'other' }));
  },
  async isFile(file) {
    try {
      return (await stat(file)).isFile();
    } catch {
      return false;
    }
  },
  readText: readBoundedText,
};

/** A regular file, or a symlink the view resolves to one (folders are never followed). */
export async function isFileEntry(files: RepoFiles, dir: string, entry: RepoEntry): Promise<boolean> {
  if (entry.kind === 'file') return true;
  if (entry.kind !== 'symlink') return false;
  return files.isFile(path.join(dir, entry.name));
}
