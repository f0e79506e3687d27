// Pure naming rules of discovery: a secrets file's logical name, its Vault path from the configured template,
// and the sops store format implied by a file name. No I/O; no knowledge of the config schema.
import path from 'node:path';
import type { SopsStoreFormat } from '../core/source-ref.js';

/** The placeholders a Vault path template may use. */
export const VAULT_PATH_PLACEHOLDERS = ['prefix', 'service', 'name'] as const;

export type VaultPathPlaceholder = (typeof VAULT_PATH_PLACEHOLDERS)[number];

/** Names of the `{placeholder}`s of a template, in order, repeats included. */
export function findTemplatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '');
}

/**
 * The logical name of a secrets file from its target path: the file name without one trailing `.secrets` or
 * `.env` and without a leading dot. `secrets/db.secrets` → `db`, `app.env` → `app`, `.env` → `env`,
 * `.env.local` → `env.local`, `token.txt` → `token.txt`.
 */
export function secretFileName(target: string): string {
  const base = path.posix.basename(target.replaceAll('\\', '/'));
  const stripped = base.replace(/\.(secrets|env)$/, '');
  const name = stripped === '' ? base : stripped;
  return name.replace(/^\.+/, '') || base;
}

/**
 * Fills a Vault path template (`{prefix}/{service}/{name}`) and drops empty segments, so an empty prefix gives
 * `<service>/<name>` and `/` inside a value (a nested service `apps/wiki`, a prefix `infra/prod`) is kept.
 * The root service `.` counts as empty. Throws on an unknown placeholder (the config schema refuses those).
 */
/**
 * The one store key of a compose secret file (`secrets.<name>.file`): the file's own name (`db_password.txt`).
 * Its Vault path / sops file follow the usual rules; the whole file is that key's value.
 */
export function secretFileKey(target: string): string {
  return target.split(/[\\/]/).at(-1) ?? target;
}

export function vaultPathFor(template: string, values: Record<VaultPathPlaceholder, string>): string {
  const filled = template.replace(/\{([^{}]*)\}/g, (_match, name: string) => {
    if (!(VAULT_PATH_PLACEHOLDERS as readonly string[]).includes(name)) throw new Error(`unknown placeholder {${name}} in Vault path template`);
    const value = values[name as VaultPathPlaceholder];
    return name === 'service' && value === '.' ? '' : value;
  });
  return filled
    .split('/')
    .filter((segment) => segment !== '')
    .join('/');
}

/**
 * The sops store format of a file, as sops picks it: by the last extension (`.yaml`/`.yml` → yaml, `.json`,
 * `.env` → dotenv, `.ini`); anything else (e.g. `db.secrets.sops`) is binary.
 */
export function sopsFormatOf(fileName: string): SopsStoreFormat {
  const extension = path.posix.extname(fileName).toLowerCase();
  switch (extension) {
    case '.yaml':
    case '.yml':
      return 'yaml';
    case '.json':
      return 'json';
    case '.env':
      return 'dotenv';
    case '.ini':
      return 'ini';
    default:
      return 'binary';
  }
}
