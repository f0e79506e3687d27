// picomatch, required on first use only: a check with the default config never needs a glob, and start-up
// time matters (a deploy script runs coffre once per service).
import { createRequire } from 'node:module';
import type picomatchType from 'picomatch';

export function loadPicomatch(): typeof picomatchType {
  return createRequire(import.meta.url)('picomatch') as typeof picomatchType;
}

/** A key-name glob matcher for core/key-policy.ts, on picomatch (dotfiles included). */
export function compileGlob(glob: string): (name: string) => boolean {
  return loadPicomatch()(glob, { dot: true });
}
