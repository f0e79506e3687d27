// `render --as-of <commit>`: the values for a configuration rolled back to a past commit. Keys come from the
// examples of that commit (discovered through a CommitView); each value is, by default, the key's current one,
// or for a key that no longer exists now, the newest one that did (Vault: KV versions newest first; sops:
// the file in git history, newest commit first). With `valuesAsOf`, every value is the one of the commit's
// date. Every value's origin is recorded (never the value); a needed value that is gone fails closed.
import type { ExampleModel } from '../core/example.js';
import type { ValueOriginView } from '../core/render-report.js';
import type { ValueSnapshot } from '../core/source-ref.js';
import { CoffreError } from '../errors.js';
import type { SecretFileModel } from '../repo/discover.js';
import { readExampleOf } from '../repo/read-example.js';
import { describeRef, type SopsRef, type VaultRef } from '../sources/secret-source.js';
import type { SopsSource } from '../sources/sops.js';
import type { VaultSource } from '../sources/vault.js';
import { fileAtCommit, fileHistory, type CommitView } from './commit-view.js';
import { readValuesOf, type SourceSet } from './source-set.js';
import { requireSopsWriter, requireVault } from './versions.js';

/** Where one rendered key's value came from (never the value). */
export type ValueOrigin = ValueOriginView;

/** A file's values for the past configuration, and where each came from. */
export interface AsOfValues {
  snapshot: ValueSnapshot | null;
  origins: ValueOrigin[];
}

/** What render needs to render a past configuration (built by {@link prepareAsOf}). */
export interface AsOfRender {
  commit: string;
  committedAt: Date;
  valuesAsOf: boolean;
  readExample(file: SecretFileModel & { example: string; exampleRel: string }): Promise<ExampleModel>;
  readValues(file: SecretFileModel, example: ExampleModel): Promise<AsOfValues>;
}

export interface AsOfSources {
  root: string;
  sources: SourceSet;
  vault: VaultSource | null;
}

/** The as-of half of a render: examples from the commit's tree, values as the options say. */
export function prepareAsOf(context: AsOfSources, view: CommitView, options: { valuesAsOf?: boolean }): AsOfRender {
  const valuesAsOf = options.valuesAsOf ?? false;
  return {
    commit: view.commit,
    committedAt: view.committedAt,
    valuesAsOf,
    readExample: (file) => readExampleOf(file, view.files),
    async readValues(file, example) {
      const ref = file.source;
      if (ref === null) return { snapshot: null, origins: [] };
      const keys = example.keys.filter((k) => !k.commentedOut);
      const needed = new Map(keys.map((k) => [k.name, !k.optional] as const));
      if (ref.kind === 'vault') {
        const vault = requireVault(context.vault);
        return valuesAsOf ? vaultAtDate(vault, ref, view) : vaultNewest(vault, context.sources, ref, needed, view);
      }
      const sops = requireSopsWriter(context.sources.sops);
      return valuesAsOf ? sopsAtCommit(sops, context.root, ref, view) : sopsNewest(sops, context.root, ref, needed);
    },
  };
}

/** Current values, then each key missing now from the newest older version holding it. */
async function vaultNewest(vault: VaultSource, sources: SourceSet, ref: VaultRef, needed: Map<string, boolean>, view: CommitView): Promise<AsOfValues> {
  const current = await readValuesOf(sources, ref);
  const values = new Map<string, string>();
  const origins: ValueOrigin[] = [];
  for (const [key, value] of current?.values ?? []) {
    values.set(key, value);
    if (needed.has(key)) origins.push(current?.version !== undefined ? { key, from: 'current', version: current.version } : { key, from: 'current' });
  }
  const missing = new Set([...needed.keys()].filter((key) => !values.has(key)));
  if (missing.size > 0) {
    const metadata = await vault.readMetadata(ref);
    const newestFirst = [...(metadata?.versions ?? new Map())].filter(([n]) => current?.version === undefined || n < current.version).sort(([a], [b]) => b - a);
    for (const [version, state] of newestFirst) {
      if (missing.size === 0) break;
      if (state.destroyed || state.deletionTime !== '') {
        const required = [...missing].filter((key) => needed.get(key));
        // The lost version may hold the newest value of a required key: an older one would be a silent downgrade.
        if (required.length > 0) throw gone(ref, version, state, required, view);
        break;
      }
      const data = await vault.readVersion(ref, version);
      for (const key of [...missing]) {
        if (!(key in data)) continue;
        values.set(key, flat(data[key], key, ref));
        origins.push({ key, from: 'vault-version', version, date: state.createdTime });
        missing.delete(key);
      }
    }
  }
  if (current === null && values.size === 0) return { snapshot: null, origins };
  return { snapshot: { values }, origins };
}

/** The version current at the commit's date: the newest created at or before it (second precision). */
async function vaultAtDate(vault: VaultSource, ref: VaultRef, view: CommitView): Promise<AsOfValues> {
  const metadata = await vault.readMetadata(ref);
  const limit = Math.floor(view.committedAt.getTime() / 1000);
  const candidates = [...(metadata?.versions ?? new Map())].filter(([, state]) => Math.floor(Date.parse(state.createdTime) / 1000) <= limit).sort(([a], [b]) => b - a);
  const [at] = candidates;
  if (at === undefined) return { snapshot: null, origins: [] };
  const [version, state] = at;
  if (state.destroyed || state.deletionTime !== '') throw gone(ref, version, state, null, view);
  const data = await vault.readVersion(ref, version);
  const values = new Map(Object.entries(data).map(([key, value]) => [key, flat(value, key, ref)] as const));
  return { snapshot: { values, version }, origins: [...values.keys()].map((key) => ({ key, from: 'vault-version', version, date: state.createdTime })) };
}

/** The file as it is now, then each key missing now from the newest commit of the file holding it. */
async function sopsNewest(sops: SopsSource, root: string, ref: SopsRef, needed: Map<string, boolean>): Promise<AsOfValues> {
  const current = await sops.readValues(ref);
  const values = new Map<string, string>();
  const origins: ValueOrigin[] = [];
  for (const [key, value] of current?.values ?? []) {
    values.set(key, value);
    if (needed.has(key)) origins.push({ key, from: 'current' });
  }
  const missing = new Set([...needed.keys()].filter((key) => !values.has(key)));
  if (missing.size > 0) {
    for await (const past of fileHistory(root, ref.file)) {
      if (missing.size === 0) break;
      if (past.text === null) continue;
      const snapshot = await sops.readValuesOfText(ref, past.text, `${describeRef(ref)}@${past.commit.slice(0, 12)}`);
      for (const key of [...missing]) {
        const value = snapshot.values.get(key);
        if (value === undefined) continue;
        values.set(key, value);
        origins.push({ key, from: 'sops-commit', commit: past.commit, date: past.committedAt.toISOString() });
        missing.delete(key);
      }
    }
  }
  if (current === null && values.size === 0) return { snapshot: null, origins };
  return { snapshot: { values, ...(current?.opaqueNames ? { opaqueNames: true } : {}) }, origins };
}

/** The sops file as committed in the commit itself. */
async function sopsAtCommit(sops: SopsSource, root: string, ref: SopsRef, view: CommitView): Promise<AsOfValues> {
  const text = await fileAtCommit(root, view.commit, ref.file);
  if (text === null) return { snapshot: null, origins: [] };
  const snapshot = await sops.readValuesOfText(ref, text, `${describeRef(ref)}@${view.commit.slice(0, 12)}`);
  const date = view.committedAt.toISOString();
  return { snapshot, origins: [...snapshot.values.keys()].map((key) => ({ key, from: 'sops-commit', commit: view.commit, date })) };
}

function gone(ref: VaultRef, version: number, state: { destroyed: boolean; createdTime: string }, keys: string[] | null, view: CommitView): CoffreError {
  const what = keys === null ? `the version current at commit ${view.commit.slice(0, 12)}` : `the newest value of ${keys.join(', ')} (needed by commit ${view.commit.slice(0, 12)}) may only be there`;
  return new CoffreError('COFFRE_AS_OF_VALUE_GONE', `${describeRef(ref)}: version ${version} (${state.createdTime}) is ${state.destroyed ? 'destroyed' : 'deleted'} and ${what}; nothing written`);
}

function flat(value: unknown, key: string, ref: VaultRef): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  throw new CoffreError('COFFRE_SOURCE_NOT_FLAT', `${describeRef(ref)}: key ${key} holds a nested ${Array.isArray(value) ? 'list' : 'map'}, not a string`);
}
