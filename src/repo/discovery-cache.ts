// Reuses a discovered repo model while nothing it was built from has changed: coffre serve answers each
// request with fresh source reads but need not re-walk and re-parse compose files it has already seen.
// Validation stats every input (RepoModel.inputs); it never trusts a timer.
import { discoverRepo, type DiscoverRepoOptions, type RepoModel } from './discover.js';
import { fileStamp, RACY_WINDOW_MS } from './file-stamp.js';

const MAX_ENTRIES = 512;

export interface DiscoveryCache {
  /** Same answer as discoverRepo(options); reused while every input is unchanged. */
  discover(options: DiscoverRepoOptions): Promise<RepoModel>;
}

interface Entry {
  model: RepoModel;
  stamps: string[];
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
        const stamps = cached.model.inputs.map(fileStamp);
        if (stamps.every((s, index) => s.stamp === cached.stamps[index])) return cached.model;
        entries.delete(key);
      }
      const model = await discoverRepo(options);
      const stamps = model.inputs.map(fileStamp);
      // An input changed within the racy window could change again without a new timestamp: don't keep it.
      if (stamps.every((s) => s.changedMs < now() - RACY_WINDOW_MS)) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(key, { model, stamps: stamps.map((s) => s.stamp) });
      }
      return model;
    },
  };
}
