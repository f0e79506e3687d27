// Reuses a parsed example while its file is unchanged: coffre serve reads and parses the same few examples on
// every request of a service (check, render), where a stat tells whether anything changed. Validation stats
// the example on every read; it never trusts a timer.
import { statSync } from 'node:fs';
import { deepFreeze } from '../core/deep-freeze.js';
import type { ExampleModel } from '../core/example.js';
import { readExampleOf, type ExampleOfFile } from './read-example.js';

/** Files changed this recently are not trusted to carry a distinct timestamp (git's "racily clean" rule). */
const RACY_WINDOW_MS = 2000;
const MAX_ENTRIES = 4096;

export interface ExampleCache {
  /** Same answer as readExampleOf(file) on the working tree; reused while the example file is unchanged. */
  read(file: ExampleOfFile): Promise<ExampleModel>;
}

interface Entry {
  stamp: string;
  keyPolicy: ExampleOfFile['keyPolicy'];
  model: ExampleModel;
}

/**
 * The example as the read will see it: stat follows a symbolic link, so a link retargeted or the file behind
 * it rewritten both change the stamp. Null when it cannot be stated: the read then reports why.
 */
function stampOf(file: string): { stamp: string; changedMs: number } | null {
  try {
    const stats = statSync(file, { throwIfNoEntry: false });
    if (stats === undefined) return null;
    return { stamp: `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.mode}`, changedMs: Math.max(stats.mtimeMs, stats.ctimeMs) };
  } catch {
    return null;
  }
}

export function createExampleCache(now: () => number = Date.now): ExampleCache {
  const entries = new Map<string, Entry>();
  return {
    async read(file) {
      // What the parse depends on besides the text: the kind of file, its name in messages, the key a secret
      // file's one value is named after (its target), and coffre.yaml's key policy (the same array while the
      // configuration is unchanged).
      const key = `${file.format}\0${file.example}\0${file.exampleRel}\0${file.target}`;
      const before = stampOf(file.example);
      const cached = entries.get(key);
      if (cached !== undefined && before !== null && cached.stamp === before.stamp && cached.keyPolicy === file.keyPolicy) return cached.model;
      entries.delete(key);
      const model = deepFreeze(await readExampleOf(file));
      const after = stampOf(file.example);
      // Kept only when the file did not change during the read, nor within the racy window.
      if (before !== null && after !== null && after.stamp === before.stamp && now() - after.changedMs > RACY_WINDOW_MS) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(key, { stamp: after.stamp, keyPolicy: file.keyPolicy, model });
      }
      return model;
    },
  };
}
