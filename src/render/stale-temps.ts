// Names the temp files the atomic writer creates beside a target, and removes the ones a crashed run left
// behind. It only ever deletes regular files whose name has the coffre temp pattern and whose writer is dead.
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from './process-liveness.js';

/** `.<target-name>.coffre-tmp-<pid>-<12 hex>`: hidden, tied to its target and to the process that wrote it. */
const TEMP_NAME = /^\.(.+)\.coffre-tmp-(\d+)-[0-9a-f]{12}$/s;

/** A fresh temp file name for `targetName` (a base name), owned by this process. */
export function tempNameFor(targetName: string): string {
  return `.${targetName}.coffre-tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** True when `fileName` (a base name) has the shape of a coffre temp file. */
export function isTempName(fileName: string): boolean {
  return TEMP_NAME.test(fileName);
}

/**
 * Removes coffre temp files left in `dir` by runs that died (SIGKILL, power loss) and returns how many it
 * removed. Temp files of a process still alive (including this one) are kept: they may be mid-write.
 * With `targetNames`, only temps of those targets (base names) are considered. A missing `dir` counts 0.
 * Leftovers hold secret values (new content, or a hard-link backup of the old one), hence this cleanup
 * before every write of a service.
 */
export async function cleanStaleTemps(dir: string, options: { targetNames?: readonly string[] } = {}): Promise<number> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const wanted = options.targetNames ? new Set(options.targetNames) : null;
  let removed = 0;
  for (const entry of entries) {
    const match = TEMP_NAME.exec(entry);
    if (!match) continue;
    if (wanted && !wanted.has(match[1]!)) continue;
    if (isProcessAlive(Number(match[2]))) continue;
    const file = path.join(dir, entry);
    let isFile = false;
    try {
      isFile = lstatSync(file).isFile();
    } catch {
      // gone, or not ours to look at
    }
    if (!isFile) continue;
    try {
      unlinkSync(file);
      removed += 1;
    } catch (error) {
      // Another cleaner got there first.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}
