// Opens an infra repo for one run: loads coffre.yaml, resolves Vault settings and age identities from the
// config and the environment given (never process.env directly), discovers services, builds the sources.
// A long-lived Vault session (serve) is created here too, but owned and closed by its caller.
import { statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { acquireSopsWriteLock, type GitVerdictCache } from '../render/index.js';
import { FileTooLargeError, MAX_CONFIG_BYTES, NotRegularFileError, readBoundedTextSync } from '../repo/bounded-read.js';
import { loadConfig, type CoffreConfig } from '../repo/config.js';
import { discoverRepo, type RepoModel } from '../repo/discover.js';
import type { DiscoveryCache } from '../repo/discovery-cache.js';
import type { ExampleCache } from '../repo/example-cache.js';
import { openCommitView, type CommitView } from './commit-view.js';
import { createSopsSource, parseAgeIdentities, type AgeIdentity } from '../sources/sops.js';
import { createVaultSource, type VaultSource, type VaultSourceOptions } from '../sources/vault.js';
import type { VaultRequestObserver, VaultTls } from '../sources/vault-transport.js';
import { createVaultSession, type VaultSession, type VaultSessionAuth, type VaultSessionLogger } from '../sources/vault-session.js';
import type { SourceSet } from './source-set.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Workspace {
  root: string;
  config: CoffreConfig;
  configFile: string | null;
  repo: RepoModel;
  sources: SourceSet;
  /** Age identities loaded (count only is ever shown). */
  identityCount: number;
  vault: VaultSource | null;
  /** The Vault session the source takes its token from (shared, or private to this workspace); null without one. */
  vaultSession: VaultSession | null;
  /** The past commit the repo model was discovered from (`asOf`), or null for the working tree. */
  commitView: CommitView | null;
  /** Given by the caller (coffre serve): git's answers for render targets, reused while git's inputs are unchanged. */
  gitVerdicts?: GitVerdictCache;
  /** Given by the caller (coffre serve): parsed examples, reused while their files are unchanged. */
  exampleCache?: ExampleCache;
  close(): void;
}

export interface OpenWorkspaceOptions {
  root: string;
  env: Environment;
  /**
   * A session shared across workspaces (coffre serve): the Vault source takes its token from it instead of
   * logging in, and close() leaves it open. Without it, an AppRole login happens once per workspace.
   */
  vaultSession?: VaultSession | null;
  /** Discover only these services (see DiscoverRepoOptions.services); all when absent. */
  services?: readonly string[];
  /** A cache shared across workspaces (coffre serve): discovery is reused while its inputs are unchanged. */
  discoveryCache?: DiscoveryCache;
  /** Shared across workspaces (coffre serve): git's answer for render targets while its inputs are unchanged. */
  gitVerdicts?: GitVerdictCache;
  /** Shared across workspaces (coffre serve): parsed examples while their files are unchanged. */
  exampleCache?: ExampleCache;
  /**
   * `--as-of`: a commit id (hex) whose tree discovery reads instead of the disk (never cached); verified
   * first, so an unknown commit fails before anything else is opened.
   */
  asOf?: string;
  /** Told about every Vault request of the transports this workspace creates (a shared session has its own). */
  vaultObserver?: VaultRequestObserver;
}

export async function openWorkspace(options: OpenWorkspaceOptions): Promise<Workspace> {
  const root = path.resolve(options.root);
  const commitView = options.asOf === undefined ? null : await openCommitView(root, options.asOf);
  const { config, file: configFile } = await loadConfig(root);
  const shared = options.vaultSession ?? null;
  const vaultOptions = shared ? await sharedSessionOptions(root, config, options.env, shared) : await resolveVaultOptions(root, config, options.env, options.vaultObserver);
  const vaultSession = vaultOptions?.auth.method === 'session' ? (vaultOptions.auth.session as VaultSession) : null;
  let identities: AgeIdentity[];
  let repo: RepoModel;
  try {
    identities = await loadAgeIdentities(root, config, options.env);
    const discoverOptions = { root, config, vaultEnabled: vaultOptions !== null, configFile, onServicesFound: announceServicesFound, ...(options.services ? { services: options.services } : {}) };
    repo = commitView ? await discoverRepo({ ...discoverOptions, files: commitView.files }) : options.discoveryCache ? await options.discoveryCache.discover(discoverOptions) : await discoverRepo(discoverOptions);
  } catch (error) {
    if (vaultSession !== shared) vaultSession?.close();
    throw error;
  }
  announceRunSize(repo);
  const vault = vaultOptions ? createVaultSource(vaultOptions) : null;
  return {
    root,
    config,
    configFile,
    repo,
    sources: { vault, sops: createSopsSource({ identities, lockForWrite: (file) => acquireSopsWriteLock(root, file) }) },
    identityCount: identities.length,
    vault,
    vaultSession,
    commitView,
    // A past commit's targets are asked afresh: the cache speaks for the work tree only.
    ...(options.gitVerdicts && commitView === null ? { gitVerdicts: options.gitVerdicts } : {}),
    ...(options.exampleCache && commitView === null ? { exampleCache: options.exampleCache } : {}),
    close: () => {
      vault?.close();
      if (vaultSession !== shared) vaultSession?.close();
    },
  };
}

/**
 * Tells the executable (bin/coffre.js, which tunes V8 for short runs and for sops files) what kind of run this
 * is: here, as soon as discovery knows, the service folders found, then the secret files and how many are sops;
 * `longRun` from coffre serve once started. Nothing happens when coffre runs as a library (tests).
 */
export function tellExecutable(name: 'servicesFound' | 'discovered' | 'longRun', facts: Record<string, number> = {}): void {
  const hook = (globalThis as Record<symbol, unknown>)[Symbol.for(`coffre.${name}`)];
  if (typeof hook === 'function') hook(facts);
}

function announceServicesFound(services: number): void {
  tellExecutable('servicesFound', { services });
}

function announceRunSize(repo: RepoModel): void {
  const files = repo.services.flatMap((service) => service.secretFiles);
  tellExecutable('discovered', { secretFiles: files.length, sopsFiles: files.filter((file) => file.source?.kind === 'sops').length });
}

/** Options of {@link openVaultSession}. */
export interface OpenVaultSessionOptions {
  root: string;
  env: Environment;
  logger?: VaultSessionLogger;
  /** Told about every request of the session's transport (coffre serve's metrics). */
  vaultObserver?: VaultRequestObserver;
}

/**
 * The long-lived Vault session for the repo's configuration (null when Vault is not configured). Nothing is
 * sent yet (call `start()`); the AppRole files are read once now to fail early, then again at every login.
 */
export async function openVaultSession(options: OpenVaultSessionOptions): Promise<VaultSession | null> {
  const root = path.resolve(options.root);
  const { config } = await loadConfig(root);
  const common = await vaultCommon(root, config, options.env);
  if (common === null) return null;
  const auth = await sessionAuth(root, config, options.env, common.address);
  return createVaultSession({
    address: common.address,
    ...(common.addresses ? { addresses: common.addresses } : {}),
    ...(common.failoverMs !== undefined ? { failoverMs: common.failoverMs } : {}),
    timeoutMs: common.timeoutMs,
    auth,
    ...(common.namespace ? { namespace: common.namespace } : {}),
    ...(common.tls ? { tls: common.tls } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.vaultObserver ? { observer: options.vaultObserver } : {}),
  });
}

/**
 * First set, non-empty one of the names (a BAO_ variable before its VAULT_ form, as the bao CLI reads them). An
 * empty variable (`BAO_ADDR=` left by a shell profile or a compose file) counts as unset and falls through.
 */
function envValue(env: Environment, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

async function readSecretFile(root: string, file: string, what: string): Promise<string> {
  const absolute = path.resolve(root, file);
  try {
    return (await readFile(absolute, 'utf8')).trim();
  } catch (error) {
    throw new CoffreError('COFFRE_SOURCE_AUTH', `cannot read ${what} file ${absolute}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {}, { cause: error });
  }
}

type VaultCommon = Omit<VaultSourceOptions, 'auth'>;

async function vaultCommon(root: string, config: CoffreConfig, env: Environment, withTls = true): Promise<VaultCommon | null> {
  // vault.addresses (a cluster's nodes) before vault.address, before the environment's one address.
  const addresses = config.vault.addresses;
  const address = addresses?.[0] ?? config.vault.address ?? envValue(env, 'BAO_ADDR', 'VAULT_ADDR');
  if (!address) return null;
  // coffre.yaml's namespace wins; BAO_NAMESPACE / VAULT_NAMESPACE fill it when the config leaves it out.
  const namespace = config.vault.namespace ?? envValue(env, 'BAO_NAMESPACE', 'VAULT_NAMESPACE');
  const tls = withTls && (addresses ?? [address]).some((a) => /^https:/i.test(a)) ? await vaultTls(root, config, env) : undefined;
  return {
    address,
    ...(addresses !== undefined && addresses.length > 1 ? { addresses } : {}),
    ...(config.vault.failoverMs !== undefined ? { failoverMs: config.vault.failoverMs } : {}),
    timeoutMs: config.vault.timeoutMs,
    concurrency: config.vault.concurrency,
    ...(namespace ? { namespace } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** Go's strconv.ParseBool, as Vault parses VAULT_SKIP_VERIFY. */
function goBool(text: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return null;
}

/**
 * TLS for an https Vault address, as the bao/vault CLI takes it: each `vault.tls` setting of coffre.yaml, else
 * its BAO_ variable, else its VAULT_ one. A CA file wins over a CA directory (as Vault's go-rootcerts); a CA
 * replaces the built-in roots. VAULT_SKIP_VERIFY / BAO_SKIP_VERIFY set true is refused: coffre never turns
 * verification off (give the CA instead). Undefined when nothing is set.
 */
async function vaultTls(root: string, config: CoffreConfig, env: Environment): Promise<VaultTls | undefined> {
  const skipVariable = ['BAO_SKIP_VERIFY', 'VAULT_SKIP_VERIFY'].find((name) => env[name] !== undefined && env[name] !== '');
  if (skipVariable !== undefined) {
    const skip = goBool(env[skipVariable] as string);
    if (skip === null) throw new CoffreError('COFFRE_CONFIG_INVALID', `${skipVariable} is not a boolean (true/false, 1/0)`);
    if (skip) {
      throw new CoffreError(
        'COFFRE_CONFIG_INVALID',
        `${skipVariable} is set: coffre never turns off TLS verification of the Vault server; give its CA with VAULT_CACERT / BAO_CACERT (or vault.tls.caCert in coffre.yaml), or unset ${skipVariable}`,
      );
    }
  }
  const tls = config.vault.tls;
  const setting = (value: string | null, key: string, suffix: string): { file: string; origin: string } | null => {
    if (value !== null) return { file: path.resolve(root, value), origin: `vault.tls.${key} in coffre.yaml` };
    const name = [`BAO_${suffix}`, `VAULT_${suffix}`].find((n) => env[n] !== undefined && env[n] !== '');
    return name === undefined ? null : { file: path.resolve(root, env[name] as string), origin: name };
  };
  const read = async ({ file, origin }: { file: string; origin: string }): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new CoffreError('COFFRE_CONFIG_INVALID', `cannot read ${file} (${origin}): ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {}, { cause: error });
    }
  };
  const pem = (text: string, { file, origin }: { file: string; origin: string }): string => {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CoffreError('COFFRE_CONFIG_INVALID', `${file} (${origin}) holds no PEM certificate`);
    return text;
  };
  const result: VaultTls = {};
  const caCert = setting(tls.caCert, 'caCert', 'CACERT');
  const caPath = setting(tls.caPath, 'caPath', 'CAPATH');
  if (caCert !== null) {
    result.ca = [pem(await read(caCert), caCert)];
  } else if (caPath !== null) {
    let names: string[];
    try {
      names = (await readdir(caPath.file, { withFileTypes: true })).filter((entry) => !entry.isDirectory()).map((entry) => entry.name).sort();
    } catch (error) {
      throw new CoffreError('COFFRE_CONFIG_INVALID', `cannot read the CA directory ${caPath.file} (${caPath.origin}): ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {}, { cause: error });
    }
    const ca: string[] = [];
    for (const name of names) {
      const one = { file: path.join(caPath.file, name), origin: caPath.origin };
      ca.push(pem(await read(one), one));
    }
    if (ca.length === 0) throw new CoffreError('COFFRE_CONFIG_INVALID', `the CA directory ${caPath.file} (${caPath.origin}) holds no certificate`);
    result.ca = ca;
  }
  const clientCert = setting(tls.clientCert, 'clientCert', 'CLIENT_CERT');
  const clientKey = setting(tls.clientKey, 'clientKey', 'CLIENT_KEY');
  if ((clientCert === null) !== (clientKey === null)) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `a TLS client certificate needs its key and a key its certificate: ${(clientCert ?? clientKey)!.origin} is set alone`);
  }
  if (clientCert !== null && clientKey !== null) {
    result.cert = pem(await read(clientCert), clientCert);
    result.key = await read(clientKey); // never quoted: a private key
  }
  const serverName = tls.serverName ?? envValue(env, 'BAO_TLS_SERVER_NAME', 'VAULT_TLS_SERVER_NAME');
  if (serverName) result.servername = serverName;
  return Object.keys(result).length > 0 ? result : undefined;
}

/** The shared session's token must only ever go to the server it came from (a `git pull` may change coffre.yaml). */
async function sharedSessionOptions(root: string, config: CoffreConfig, env: Environment, session: VaultSession): Promise<VaultSourceOptions> {
  // The shared session's transport already holds its TLS settings: the files are not read again per request.
  const common = await vaultCommon(root, config, env, false);
  let origin: string | null = null;
  try {
    origin = common ? (common.addresses ?? [common.address]).map((a) => new URL(a).origin).join(',') : null;
  } catch {
    // not a URL: reported below
  }
  if (common === null || origin !== session.address || (common.namespace ?? undefined) !== (session.namespace ?? undefined)) {
    throw new CoffreError(
      'COFFRE_CONFIG_INVALID',
      `the Vault address or namespace in coffre.yaml/environment no longer matches the one coffre serve started with (${session.address}): restart coffre serve`,
    );
  }
  return { ...common, auth: { method: 'session', session }, transport: session.transport };
}

/** AppRole reads its files at every login (a rotated secret_id is picked up); a static token is taken as is. */
async function sessionAuth(root: string, config: CoffreConfig, env: Environment, address: string): Promise<VaultSessionAuth> {
  const auth = config.vault.auth;
  if (auth.method === 'approle') {
    const readCredentials = async (): Promise<{ roleId: string; secretId: string }> => ({
      roleId: await readSecretFile(root, auth.roleIdFile, 'AppRole role_id'),
      secretId: await readSecretFile(root, auth.secretIdFile, 'AppRole secret_id'),
    });
    await readCredentials();
    return {
      method: 'approle',
      readCredentials,
      secretIdOrigin: path.resolve(root, auth.secretIdFile),
      ...(auth.mount ? { mount: auth.mount } : {}),
      ...(auth.secretIdWrapped ? { secretIdWrapped: true } : {}),
    };
  }
  return { method: 'token', token: await staticToken(root, env, address) };
}

async function resolveVaultOptions(root: string, config: CoffreConfig, env: Environment, observer?: VaultRequestObserver): Promise<VaultSourceOptions | null> {
  const common = await vaultCommon(root, config, env);
  if (common === null) return null;
  const observed = observer ? { observer } : {};
  if (config.vault.auth.method === 'approle') {
    // A session private to this workspace: one login per run, renewed if the run outlives 2/3 of the TTL.
    const session = createVaultSession({
      address: common.address,
      ...(common.addresses ? { addresses: common.addresses } : {}),
      ...(common.failoverMs !== undefined ? { failoverMs: common.failoverMs } : {}),
      timeoutMs: common.timeoutMs ?? 10_000,
      auth: await sessionAuth(root, config, env, common.address),
      ...(common.namespace ? { namespace: common.namespace } : {}),
      ...(common.tls ? { tls: common.tls } : {}),
      ...observed,
    });
    return { ...common, auth: { method: 'session', session }, transport: session.transport };
  }
  return { ...common, auth: { method: 'token', token: await staticToken(root, env, common.address) }, ...observed };
}

/**
 * The static token: BAO_TOKEN / VAULT_TOKEN, else the file named by BAO_TOKEN_FILE / VAULT_TOKEN_FILE (a
 * docker compose secret, a systemd credential: `$CREDENTIALS_DIRECTORY/…`), read once, surrounding
 * whitespace trimmed. A relative file name is relative to the repo root. Last, like the bao/vault CLI, the
 * token `bao login` / `vault login` left in `~/.vault-token` (HOME from the environment given), if it exists.
 */
async function staticToken(root: string, env: Environment, address: string): Promise<string> {
  const token = envValue(env, 'BAO_TOKEN', 'VAULT_TOKEN');
  if (token) return token;
  const fileVariable = ['BAO_TOKEN_FILE', 'VAULT_TOKEN_FILE'].find((name) => env[name] !== undefined && env[name] !== '');
  if (fileVariable !== undefined) {
    const file = env[fileVariable] as string;
    const text = await readSecretFile(root, file, `Vault token (${fileVariable})`);
    // Never quoted back: the file might hold anything. A token is one printable word.
    if (text === '' || !/^[\x21-\x7e]+$/.test(text)) {
      throw new CoffreError('COFFRE_SOURCE_AUTH', `the Vault token file ${path.resolve(root, file)} (${fileVariable}) does not hold one token (expected a single line of printable characters)`);
    }
    return text;
  }
  const helperFile = tokenHelperFile(env);
  if (helperFile !== null) {
    let text: string | null;
    try {
      text = (await readFile(helperFile, 'utf8')).trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new CoffreError('COFFRE_SOURCE_AUTH', `cannot read the Vault token helper file ${helperFile}: ${code ?? 'error'}`, {}, { cause: error });
      }
      text = null;
    }
    if (text !== null) {
      if (text === '' || !/^[\x21-\x7e]+$/.test(text)) {
        throw new CoffreError('COFFRE_SOURCE_AUTH', `the Vault token helper file ${helperFile} does not hold one token (expected a single line of printable characters): log in again (bao login) or remove it`);
      }
      return text;
    }
  }
  throw new CoffreError(
    'COFFRE_SOURCE_AUTH',
    `Vault address ${address} is set but no token: set BAO_TOKEN or VAULT_TOKEN, BAO_TOKEN_FILE or VAULT_TOKEN_FILE (a file holding it), log in with bao login (~/.vault-token), or configure vault.auth.method: approle in coffre.yaml`,
  );
}

/** `~/.vault-token`, where the bao and vault CLIs' default token helper keeps the token of `login`; null without HOME. */
function tokenHelperFile(env: Environment): string | null {
  const home = env.HOME;
  return home && path.isAbsolute(home) ? path.join(home, '.vault-token') : null;
}

/**
 * sops' default age key file: `$XDG_CONFIG_HOME/sops/age/keys.txt`, else `$HOME/.config/sops/age/keys.txt` (Go's
 * os.UserConfigDir on Linux: an empty XDG_CONFIG_HOME counts as unset, a relative one gives no directory at all).
 */
export function defaultAgeKeyFile(env: Environment): string | null {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg) return path.isAbsolute(xdg) ? path.join(xdg, 'sops', 'age', 'keys.txt') : null;
  const home = env.HOME;
  return home && path.isAbsolute(home) ? path.join(home, '.config', 'sops', 'age', 'keys.txt') : null;
}

/**
 * An age key file: a regular file is read on the main thread (coffre serve opens a workspace per request, and
 * a thread-pool round trip, usually to find sops' default key file absent, cost more than the read); anything
 * else (a FIFO from `<(…)`, a huge file) is read as before, asynchronously and whole. Null when it does not exist.
 */
async function readKeyFile(file: string): Promise<string | null> {
  // sops' default key file is usually absent: known without an exception built for it.
  if (statSync(file, { throwIfNoEntry: false }) === undefined) return null;
  try {
    return readBoundedTextSync(file, MAX_CONFIG_BYTES);
  } catch (error) {
    if (error instanceof NotRegularFileError || error instanceof FileTooLargeError) return readFile(file, 'utf8');
    throw error;
  }
}

/**
 * Identities from coffre.yaml `sops.ageKeyFile` (relative to the repo), SOPS_AGE_KEY_FILE, SOPS_AGE_KEY and, as
 * sops 3.8+ does, sops' default key file in addition to them (not only when they are unset); that one is skipped
 * when it does not exist.
 */
async function loadAgeIdentities(root: string, config: CoffreConfig, env: Environment): Promise<AgeIdentity[]> {
  const identities: AgeIdentity[] = [];
  const defaultFile = defaultAgeKeyFile(env);
  const files = [config.sops.ageKeyFile ? path.resolve(root, config.sops.ageKeyFile) : null, env.SOPS_AGE_KEY_FILE || null, defaultFile];
  for (const [index, file] of files.entries()) {
    if (!file || files.indexOf(file) !== index) continue;
    let text: string | null;
    try {
      text = await readKeyFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (file === defaultFile && (code === 'ENOENT' || code === 'ENOTDIR')) continue;
      throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `cannot read age key file ${file}: ${code ?? 'error'}`, { file }, { cause: error });
    }
    if (text === null) {
      if (file === defaultFile) continue;
      throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `cannot read age key file ${file}: ENOENT`, { file });
    }
    identities.push(...parseAgeIdentities(text, file));
  }
  if (env.SOPS_AGE_KEY) identities.push(...parseAgeIdentities(env.SOPS_AGE_KEY, 'SOPS_AGE_KEY'));
  return identities;
}
