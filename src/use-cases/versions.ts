// `versions` (and the version read `rollback` needs): the history of one secrets file's source. Vault KV v2:
// versions with dates from the metadata; sops: the file's lastmodified plus, when the repo is a git checkout,
// the file's recent commits. Never reads or returns a value except the old version handed to rollback.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoffreError } from '../errors.js';
import type { CoffreConfig } from '../repo/config.js';
import type { SecretFileModel, ServiceModel } from '../repo/discover.js';
import type { SopsSource } from '../sources/sops.js';
import type { VaultRef } from '../sources/secret-source.js';
import type { VaultSource } from '../sources/vault.js';
import { createVaultTransport } from '../sources/vault-transport.js';
import { selectServices, type CheckContext } from './check.js';
import type { Environment } from './workspace.js';

const run = promisify(execFile);

/** Reads the data of one past KV v2 version (what rollback re-writes). */
export interface VaultVersionReader {
  readVersion(ref: VaultRef, version: number): Promise<Map<string, string>>;
  close(): void;
}

/** What versions/rollback need besides the repo: the Vault source with metadata, and a version reader. */
export interface VersionsContext extends CheckContext {
  vault: VaultSource | null;
  /**
   * Reads past versions. Needed only until VaultSource offers `readVersion(ref, n)` itself (it is used
   * first when present); see {@link createVaultVersionReader}.
   */
  versionReader?: VaultVersionReader | null;
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
  if (source.kind === 'vault') return { kind: 'vault', ref: `${source.mount}/${source.path}` };
  return { kind: 'sops', ref: path.relative(root, source.file).split(path.sep).join('/') };
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
  const git = metadata === null ? null : await gitHistory(context.repo.root, source.file, options.gitLimit ?? 10);
  return { ...base, source: { kind: 'sops', ref: label.ref }, exists: metadata !== null, lastModified: metadata?.lastModified ?? null, git };
}

/** Up to `limit` commits of the file, newest first; null when git is missing or the file is not in a git work tree. */
async function gitHistory(root: string, file: string, limit: number): Promise<GitCommitEntry[] | null> {
  try {
    const { stdout } = await run('git', ['-C', path.dirname(file), 'log', `-n${limit}`, '--format=%H%x09%aI%x09%s', '--', path.basename(file)], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: root },
      timeout: 10_000,
    });
    return stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [commit = '', date = '', ...subject] = line.split('\t');
        return { commit, date, subject: subject.join('\t') };
      });
  } catch {
    return null;
  }
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

/** The reader of past versions: the Vault source's own when it has one, else the injected one. */
export function versionReaderOf(context: VersionsContext): Pick<VaultVersionReader, 'readVersion'> {
  const own = context.vault as (VaultSource & Partial<Pick<VaultVersionReader, 'readVersion'>>) | null;
  if (own && typeof own.readVersion === 'function') return { readVersion: own.readVersion.bind(own) };
  if (context.versionReader) return context.versionReader;
  throw new CoffreError('COFFRE_SOURCE_AUTH', 'rollback needs to read an old Vault version, and no Vault/OpenBao address and token are configured for it');
}

/** Anything that hands out the current Vault token (the workspace's Vault session, when it has one). */
export interface VaultTokenSource {
  currentToken(): Promise<string>;
}

/** Options of {@link createVaultVersionReader}. */
export interface VaultVersionReaderOptions {
  root: string;
  config: CoffreConfig;
  env: Environment;
  /** The workspace's Vault session: its token is used first (serve's shared session, AppRole logins). */
  session?: VaultTokenSource | null;
}

/**
 * A reader of past KV v2 versions (`GET <mount>/data/<path>?version=N`) built from the same settings as the
 * workspace's Vault source: the workspace's session token when there is one, else BAO_TOKEN/VAULT_TOKEN, else
 * an AppRole login. Workaround: the Vault source has no `readVersion`; once it has, this goes away. Null when
 * Vault is not configured (or no token can be had).
 */
export async function createVaultVersionReader(options: VaultVersionReaderOptions): Promise<VaultVersionReader | null> {
  const { config, env } = options;
  const address = config.vault.address ?? firstDefined(env, 'BAO_ADDR', 'VAULT_ADDR');
  if (!address) return null;
  const session = options.session ?? null;
  const token = firstDefined(env, 'BAO_TOKEN', 'VAULT_TOKEN');
  if (session === null && config.vault.auth.method === 'token' && !token) return null;
  const transport = createVaultTransport({ address: new URL(address).origin, timeoutMs: config.vault.timeoutMs, ...(config.vault.namespace ? { namespace: config.vault.namespace } : {}) });
  let login: Promise<void> | undefined;
  const auth = config.vault.auth;
  const ensureToken = async (): Promise<void> => {
    // The session's token may be renewed between calls: ask it every time.
    if (session !== null) {
      transport.setToken(await session.currentToken());
      return;
    }
    login ??= (async () => {
      if (auth.method === 'token') {
        transport.setToken(token ?? '');
        return;
      }
      const roleId = (await readFile(path.resolve(options.root, auth.roleIdFile), 'utf8')).trim();
      const secretId = (await readFile(path.resolve(options.root, auth.secretIdFile), 'utf8')).trim();
      const answer = await transport.approleLogin(auth.mount, roleId, secretId);
      const clientToken = (answer.body as { auth?: { client_token?: unknown } } | null)?.auth?.client_token;
      if (answer.status !== 200 || typeof clientToken !== 'string') throw new CoffreError('COFFRE_SOURCE_AUTH', `${address}: AppRole login at auth/${auth.mount} refused (${answer.status})`);
      transport.setToken(clientToken);
    })();
    return login;
  };

  return {
    async readVersion(ref, version) {
      await ensureToken();
      const where = `${ref.mount}/${ref.path} version ${version}`;
      const encode = (p: string): string => p.split('/').map(encodeURIComponent).join('/');
      let answer;
      try {
        answer = await transport.get(`${encode(ref.mount)}/data/${encode(ref.path)}?version=${version}`);
      } catch {
        throw new CoffreError('COFFRE_SOURCE_UNREACHABLE', `${address}: ${where}: no answer`);
      }
      if (answer.status === 200) {
        const data = (answer.body as { data?: { data?: unknown } } | null)?.data?.data;
        if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: ${where}: no data map in the answer`);
        const values = new Map<string, string>();
        for (const [name, value] of Object.entries(data)) {
          if (typeof value === 'string') values.set(name, value);
          else if (typeof value === 'number' || typeof value === 'boolean') values.set(name, String(value));
          else if (value === null) values.set(name, '');
          else throw new CoffreError('COFFRE_SOURCE_NOT_FLAT', `${address}: ${where}: key ${name} holds a nested value`);
        }
        return values;
      }
      const metadata = (answer.body as { data?: { metadata?: { deletion_time?: unknown; destroyed?: unknown } } } | null)?.data?.metadata;
      if (answer.status === 404 && metadata?.destroyed === true) throw new CoffreError('COFFRE_SOURCE_DESTROYED', `${address}: ${where} is destroyed`);
      if (answer.status === 404 && typeof metadata?.deletion_time === 'string' && metadata.deletion_time !== '') {
        throw new CoffreError('COFFRE_SOURCE_DELETED', `${address}: ${where} is soft-deleted (undelete it first)`);
      }
      if (answer.status === 403) throw new CoffreError('COFFRE_SOURCE_DENIED', `${address}: ${where}: permission denied (403)`);
      throw new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: ${where}: unexpected HTTP ${answer.status}`);
    },
    close: () => transport.close(),
  };
}

function firstDefined(env: Environment, ...names: string[]): string | undefined {
  for (const name of names) if (env[name] !== undefined) return env[name];
  return undefined;
}

/** The Vault session of a workspace, when it has one (read structurally: a workspace without one gives null). */
export function vaultSessionOf(workspace: object): VaultTokenSource | null {
  const session = (workspace as { vaultSession?: Partial<VaultTokenSource> | null }).vaultSession;
  return session && typeof session.currentToken === 'function' ? (session as VaultTokenSource) : null;
}
