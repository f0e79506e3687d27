// Reuses a parsed example while its file is unchanged: coffre serve reads and parses the same few examples on
// every request of a service (check, render), where a stat tells whether anything changed. Validation stats
// the example on every read; it never trusts a timer.
import { deepFreeze } from '../core/deep-freeze.js';
import type { ExampleModel } from '../core/example.js';
import { fileStamp, RACY_WINDOW_MS } from './file-stamp.js';
import { readExampleOf, type ExampleOfFile } from './read-example.js';

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

export function createExampleCache(now: () => number = Date.now): ExampleCache {
  const entries = new Map<string, Entry>();
  return {
    async read(file) {
      // What the parse depends on besides the text: the kind of file, its name in messages, the key a secret
      // file's one value is named after (its target), and coffre.yaml's key policy (the same array while the
      // configuration is unchanged).
      const key = `${file.format}\0${file.example}\0${file.exampleRel}\0${file.target}`;
      const before = fileStamp(file.example);
      const cached = entries.get(key);
      if (cached !== undefined && !before.missing && cached.stamp === before.stamp && cached.keyPolicy === file.keyPolicy) return cached.model;
      entries.delete(key);
      const model = deepFreeze(await readExampleOf(file));
      const after = fileStamp(file.example);
      // Kept only when the file did not change during the read, nor within the racy window.
      if (!after.missing && after.stamp === before.stamp && now() - after.changedMs > RACY_WINDOW_MS) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(key, { stamp: after.stamp, keyPolicy: file.keyPolicy, model });
      }
      return model;
    },
  };
}
