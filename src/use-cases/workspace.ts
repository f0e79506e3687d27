// Opens an infra repo for one run: loads coffre.yaml, resolves Vault settings and age identities from the
// config and the environment given (never process.env directly), discovers services, builds the sources.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { loadConfig, type CoffreConfig } from '../repo/config.js';
import { discoverRepo, type RepoModel } from '../repo/discover.js';
import { parseAgeIdentities, type AgeIdentity } from '../sops/index.js';
import { createSopsSource } from '../sources/sops.js';
import { createVaultSource, type VaultSource, type VaultSourceOptions } from '../sources/vault.js';
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
  close(): void;
}

export interface OpenWorkspaceOptions {
  root: string;
  env: Environment;
}

export async function openWorkspace(options: OpenWorkspaceOptions): Promise<Workspace> {
  const root = path.resolve(options.root);
  const { config, file: configFile } = await loadConfig(root);
  const vaultOptions = await resolveVaultOptions(root, config, options.env);
  const identities = await loadAgeIdentities(root, config, options.env);
  const repo = await discoverRepo({ root, config, vaultEnabled: vaultOptions !== null, configFile });
  const vault = vaultOptions ? createVaultSource(vaultOptions) : null;
  return {
    root,
    config,
    configFile,
    repo,
    sources: { vault, sops: createSopsSource({ identities }) },
    identityCount: identities.length,
    vault,
    close: () => vault?.close(),
  };
}

/** First defined of the names; like the bao CLI, a BAO_ variable that is present wins even when empty. */
function envValue(env: Environment, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) return value;
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

async function resolveVaultOptions(root: string, config: CoffreConfig, env: Environment): Promise<VaultSourceOptions | null> {
  const address = config.vault.address ?? envValue(env, 'BAO_ADDR', 'VAULT_ADDR');
  if (!address) return null;
  const common = {
    address,
    timeoutMs: config.vault.timeoutMs,
    concurrency: config.vault.concurrency,
    ...(config.vault.namespace ? { namespace: config.vault.namespace } : {}),
  };
  const auth = config.vault.auth;
  if (auth.method === 'approle') {
    return {
      ...common,
      auth: {
        method: 'approle',
        roleId: await readSecretFile(root, auth.roleIdFile, 'AppRole role_id'),
        secretId: await readSecretFile(root, auth.secretIdFile, 'AppRole secret_id'),
        ...(auth.mount ? { mount: auth.mount } : {}),
      },
    };
  }
  const token = envValue(env, 'BAO_TOKEN', 'VAULT_TOKEN');
  if (!token) {
    throw new CoffreError('COFFRE_SOURCE_AUTH', `Vault address ${address} is set but no token: set BAO_TOKEN or VAULT_TOKEN, or configure vault.auth.method: approle in coffre.yaml`);
  }
  return { ...common, auth: { method: 'token', token } };
}

/** Identities from coffre.yaml `sops.ageKeyFile` (relative to the repo), SOPS_AGE_KEY_FILE and SOPS_AGE_KEY. */
async function loadAgeIdentities(root: string, config: CoffreConfig, env: Environment): Promise<AgeIdentity[]> {
  const identities: AgeIdentity[] = [];
  const files = [config.sops.ageKeyFile ? path.resolve(root, config.sops.ageKeyFile) : null, env.SOPS_AGE_KEY_FILE || null];
  for (const file of files) {
    if (!file) continue;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `cannot read age key file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { file }, { cause: error });
    }
    identities.push(...parseAgeIdentities(text, file));
  }
  if (env.SOPS_AGE_KEY) identities.push(...parseAgeIdentities(env.SOPS_AGE_KEY, 'SOPS_AGE_KEY'));
  return identities;
}
