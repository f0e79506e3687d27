// Reuses a discovered repo model while nothing it was built from has changed: coffre serve answers each
// request with fresh source reads but need not re-walk and re-parse compose files it has already seen.
// Validation stats every input (RepoModel.inputs); it never trusts a timer.
import { lstatSync } from 'node:fs';
import { discoverRepo, type DiscoverRepoOptions, type RepoModel } from './discover.js';

/** Inputs modified this recently are not trusted to carry a distinct timestamp (git's "racily clean" rule). */
const RACY_WINDOW_MS = 2000;
const MAX_ENTRIES = 512;

export interface DiscoveryCache {
  /** Same answer as discoverRepo(options); reused while every input is unchanged. */
  discover(options: DiscoverRepoOptions): Promise<RepoModel>;
}

interface Entry {
  model: RepoModel;
  stamps: string[];
}

/**
 * On the main thread: an lstat of a file the kernel has just seen costs microseconds, while an await of
 * fs/promises' lstat is a round trip through libuv's thread pool (measured ~45 µs CPU each, ~10x the call, on
 * this 2-core VM): validating a one-service model made 4-7 of them per request of coffre serve.
 */
function stampOf(file: string): { stamp: string; mtimeMs: number } {
  try {
    // An absent input (a probed name) is answered without an exception built for it.
    const stats = lstatSync(file, { throwIfNoEntry: false });
    if (stats === undefined) return { stamp: 'missing:ENOENT', mtimeMs: 0 };
    return { stamp: `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.mode}`, mtimeMs: Math.max(stats.mtimeMs, stats.ctimeMs) };
  } catch (error) {
    return { stamp: `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`, mtimeMs: 0 };
  }
}

export function createDiscoveryCache(now: () => number = Date.now): DiscoveryCache {
  const entries = new Map<string, Entry>();
  // loadConfig hands out one deeply frozen object per coffre.yaml text: such a config is named by a number in the
  // key instead of being serialised on every request (most of a cache hit's CPU); any other is serialised.
  const configIds = new WeakMap<object, number>();
  let lastConfigId = 0;
  const configKey = (config: DiscoverRepoOptions['config']): unknown => {
    if (!Object.isFrozen(config)) return config;
    let id = configIds.get(config);
    if (id === undefined) configIds.set(config, (id = ++lastConfigId));
    return `frozen:${id}`;
  };
  return {
    async discover(options) {
      const key = JSON.stringify([options.root, options.services ?? null, options.vaultEnabled, configKey(options.config), options.environment ?? null, options.configFile ?? null]);
      const cached = entries.get(key);
      if (cached) {
        const stamps = cached.model.inputs.map(stampOf);
        if (stamps.every((s, index) => s.stamp === cached.stamps[index])) return cached.model;
        entries.delete(key);
      }
      const model = await discoverRepo(options);
      const stamps = model.inputs.map(stampOf);
      // An input changed within the racy window could change again without a new timestamp: don't keep it.
      if (stamps.every((s) => s.mtimeMs < now() - RACY_WINDOW_MS)) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(key, { model, stamps: stamps.map((s) => s.stamp) });
      }
      return model;
    },
  };
}
