// `versions` (and the version read `rollback` needs): the history of one secrets file's source. Vault KV v2:
// versions with dates from the metadata; sops: the file's lastmodified plus, when the repo is a git checkout,
// the file's recent commits. Never reads or returns a value except the old version handed to rollback.
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { runGit } from '../render/git-command.js';
import type { SecretFileModel, ServiceModel } from '../repo/discover.js';
import type { SopsSource } from '../sources/sops.js';
import type { VaultSource } from '../sources/vault.js';
import { selectServices, type CheckContext } from './check.js';
import { sourceLabel } from './source-set.js';

/** What versions/rollback need besides the repo: the Vault source (metadata, past versions). */
export interface VersionsContext extends CheckContext {
  vault: VaultSource | null;
}

/** One secrets file of a service, found by its logical name (`db`) or its target path relative to the service. */
export interface ResolvedSecretFile {
  service: ServiceModel;
  file: SecretFileModel;
  /** Target relative to the service folder, posix (`secrets/db.secrets`). */
  serviceRelTarget: string;
}

/** Finds `<file>` of `<service>`: its logical name or its target path relative to the service folder. */
export function resolveSecretFile(context: CheckContext, serviceName: string, fileName: string): ResolvedSecretFile {
  const [service] = selectServices(context.repo, [serviceName]);
  if (service === undefined) throw new CoffreError('COFFRE_SERVICE_UNKNOWN', `no service "${serviceName}"`);
  const wanted = path.posix.normalize(fileName.replaceAll('\\', '/')).replace(/^\.\//, '');
  const candidates = service.secretFiles.map((file) => ({ file, serviceRelTarget: path.relative(service.dir, file.target).split(path.sep).join('/') }));
  const found =
    candidates.find((c) => c.serviceRelTarget === wanted) ??
    candidates.find((c) => c.file.targetRel === wanted) ??
    candidates.find((c) => c.file.name === wanted);
  if (found === undefined) {
    const known = candidates.map((c) => `${c.file.name} (${c.serviceRelTarget})`).join(', ') || 'none';
    throw new CoffreError('COFFRE_USAGE', `service ${service.name} has no secrets file "${fileName}" (files: ${known})`);
  }
  return { service, ...found };
}

/** A value-free label of a file's source: `mount/path` for Vault, the repo-relative file for sops. */
export function sourceLabelOf(root: string, file: SecretFileModel): { kind: 'vault' | 'sops'; ref: string } {
  const source = file.source;
  if (source === null) throw new CoffreError('COFFRE_USAGE', `${file.targetRel} has no source (no sops file beside it and no Vault configured)`, { file: file.targetRel });
  return sourceLabel(root, source) as { kind: 'vault' | 'sops'; ref: string };
}

/** One KV v2 version as `versions` lists it. */
export interface VaultVersionEntry {
  version: number;
  createdTime: string;
  /** '' unless soft-deleted. */
  deletionTime: string;
  destroyed: boolean;
  current: boolean;
}

/** One commit touching a sops file. */
export interface GitCommitEntry {
  commit: string;
  date: string;
  subject: string;
}

/** The answer of `versions`. */
export type VersionsReport =
  | { service: string; file: string; target: string; source: { kind: 'vault'; ref: string }; exists: boolean; currentVersion: number | null; versions: VaultVersionEntry[] }
  | { service: string; file: string; target: string; source: { kind: 'sops'; ref: string }; exists: boolean; lastModified: string | null; git: GitCommitEntry[] | null };

/** Lists the versions of one secrets file's source (no value is read). */
export async function listVersions(context: VersionsContext, options: { service: string; file: string; gitLimit?: number }): Promise<VersionsReport> {
  const { service, file } = resolveSecretFile(context, options.service, options.file);
  const label = sourceLabelOf(context.repo.root, file);
  const base = { service: service.name, file: file.name, target: file.targetRel };
  const source = file.source!;
  if (source.kind === 'vault') {
    const vault = requireVault(context.vault);
    const metadata = await vault.readMetadata(source);
    const versions = metadata === null ? [] : [...metadata.versions].sort(([a], [b]) => a - b).map(([version, v]) => ({ version, ...v, current: version === metadata.currentVersion }));
    return { ...base, source: { kind: 'vault', ref: label.ref }, exists: metadata !== null, currentVersion: metadata?.currentVersion ?? null, versions };
  }
  const sops = requireSopsWriter(context.sources.sops);
  const metadata = await sops.readMetadata(source);
  const git = metadata === null ? null : await gitHistory(source.file, options.gitLimit ?? 10);
  return { ...base, source: { kind: 'sops', ref: label.ref }, exists: metadata !== null, lastModified: metadata?.lastModified ?? null, git };
}

/**
 * Up to `limit` commits of the file, newest first; null when git is missing, the file is not in a git work
 * tree, or git fails. git runs through runGit: the repo's committed files and its .git/config cannot make
 * it run a program (a committed `.gitconfig` is just a file).
 */
async function gitHistory(file: string, limit: number): Promise<GitCommitEntry[] | null> {
  let history;
  try {
    history = await runGit(path.dirname(file), 'log', [`-n${limit}`, '--format=%H%x09%aI%x09%s', '--', path.basename(file)], { timeoutMs: 10_000 });
  } catch {
    return null;
  }
  if (history.code !== 0) return null;
  return history.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [commit = '', date = '', ...subject] = line.split('\t');
      return { commit, date, subject: subject.join('\t') };
    });
}

/** The Vault source, or a clear error when Vault is not configured. */
export function requireVault(vault: VaultSource | null): VaultSource {
  if (vault === null) throw new CoffreError('COFFRE_SOURCE_AUTH', 'no Vault/OpenBao source is configured (set VAULT_ADDR/BAO_ADDR and a token)');
  return vault;
}

/** The sops source with its writer (the workspace builds one; a foreign SecretSource has none). */
export function requireSopsWriter(source: unknown): SopsSource {
  const candidate = source as Partial<SopsSource> | null;
  if (candidate === null || typeof candidate?.writeValues !== 'function' || typeof candidate.readMetadata !== 'function') {
    throw new CoffreError('COFFRE_SOURCE_AUTH', 'no writable sops source is configured (give age identities: SOPS_AGE_KEY_FILE or SOPS_AGE_KEY)');
  }
  return candidate as SopsSource;
}

