// Error classes with stable codes, and the two places that map a code to a process exit code and to an
// HTTP status. Messages name the file/line or the Vault path; they must never contain a secret value.

/** Every error code coffre can raise, with its exit code, HTTP status and a one-line description. */
export const ERROR_CODES = {
  COFFRE_USAGE: { exit: 2, http: 400, summary: 'bad command-line usage or request parameters' },
  COFFRE_CONFIG_INVALID: { exit: 2, http: 500, summary: 'coffre.yaml is not valid (file, line and field named)' },
  COFFRE_COMPOSE_INVALID: { exit: 2, http: 500, summary: 'a compose file cannot be parsed or has a bad env_file entry' },
  COFFRE_COMPOSE_UNSUPPORTED: { exit: 2, http: 500, summary: 'a compose form coffre does not follow (include: with project_directory, remote or outside the repo; an extends: file or COMPOSE_FILE entry outside the repo)' },
  COFFRE_EXAMPLE_SYNTAX: { exit: 2, http: 500, summary: 'a secrets example has a syntax error (file:line named)' },
  COFFRE_EXAMPLE_MISSING: { exit: 2, http: 500, summary: 'an env_file target has no example beside it' },
  COFFRE_SERVICE_UNKNOWN: { exit: 2, http: 404, summary: 'no service of that name in the repo' },
  COFFRE_SOURCE_UNREACHABLE: { exit: 3, http: 502, summary: 'Vault/OpenBao cannot be reached (connection refused, DNS, TLS)' },
  COFFRE_SOURCE_TIMEOUT: { exit: 3, http: 504, summary: 'Vault/OpenBao did not answer in time' },
  COFFRE_SOURCE_SEALED: { exit: 3, http: 503, summary: 'Vault/OpenBao is sealed' },
  COFFRE_SOURCE_DENIED: { exit: 3, http: 502, summary: 'the Vault token is not allowed to read that path (403), or this user may not read (or write beside) a sops file' },
  COFFRE_SOURCE_RATE_LIMITED: { exit: 3, http: 503, summary: 'Vault/OpenBao answered 429 (rate limit quota)' },
  COFFRE_SOURCE_AUTH: { exit: 3, http: 502, summary: 'no usable Vault token: missing, invalid, or AppRole login refused' },
  COFFRE_SOURCE_WRONG_MOUNT: { exit: 3, http: 502, summary: 'the mount is not a KV v2 engine (or does not exist)' },
  COFFRE_SOURCE_DELETED: { exit: 3, http: 502, summary: 'the latest version of the secret is soft-deleted' },
  COFFRE_SOURCE_DESTROYED: { exit: 3, http: 502, summary: 'the latest version of the secret is destroyed' },
  COFFRE_SOURCE_BAD_RESPONSE: { exit: 3, http: 502, summary: 'Vault/OpenBao answered something coffre does not understand' },
  COFFRE_SOURCE_NOT_FLAT: { exit: 3, http: 502, summary: 'a secret holds a nested map or list where an env value is expected' },
  COFFRE_SOPS_SYNTAX: { exit: 3, http: 502, summary: 'a sops file cannot be parsed (file:line named)' },
  COFFRE_SOPS_METADATA: { exit: 3, http: 502, summary: 'a sops file has no or invalid sops metadata' },
  COFFRE_SOPS_NO_KEY: { exit: 3, http: 502, summary: 'no age identity given can unwrap the sops data key' },
  COFFRE_SOPS_DECRYPT: { exit: 3, http: 502, summary: 'a sops value fails AES-GCM authentication (tampered or wrong key)' },
  COFFRE_SOPS_MAC_MISMATCH: { exit: 3, http: 502, summary: 'the sops file MAC does not match its content (tampered, or edited without sops)' },
  COFFRE_SOPS_UNSUPPORTED: { exit: 3, http: 502, summary: 'a sops feature coffre does not support (e.g. only PGP/KMS keys)' },
  COFFRE_AGE_IDENTITY_INVALID: { exit: 2, http: 500, summary: 'an age identity (SOPS_AGE_KEY / key file) cannot be parsed' },
  COFFRE_INCOMPLETE: { exit: 1, http: 409, summary: 'the source lacks keys the example requires (render refused)' },
  COFFRE_RENDER_MISMATCH: { exit: 4, http: 500, summary: 'the rendered text does not read back to the source values (nothing written)' },
  COFFRE_RAW_VALUE_UNSUPPORTED: { exit: 4, http: 422, summary: 'a value cannot be expressed in a format: raw env_file' },
  COFFRE_TARGET_UNSAFE: { exit: 4, http: 422, summary: 'a target path is outside the repo, has "..", is a symlink, or its directory is writable by others' },
  COFFRE_TARGET_TRACKED: { exit: 4, http: 422, summary: 'git tracks the target file' },
  COFFRE_TARGET_NOT_IGNORED: { exit: 4, http: 422, summary: 'the repo ignore rules do not ignore the target' },
  COFFRE_TARGET_WRITE: { exit: 4, http: 500, summary: 'writing a target failed (previous targets restored)' },
  COFFRE_LOCKED: { exit: 4, http: 409, summary: 'another render of the service (or write of the sops file) holds the lock' },
  COFFRE_CONFLICT: { exit: 5, http: 409, summary: 'a check-and-set write lost: the secret (or sops file) changed since it was read' },
  COFFRE_IMPORT_DIFFERS: { exit: 5, http: 409, summary: 'import: the source already holds a different value for a key (names listed; --overwrite replaces them)' },
  COFFRE_SOPS_NO_CREATION_RULE: { exit: 2, http: 422, summary: 'import: a new sops file is needed but no .sops.yaml creation rule with age recipients matches it' },
  COFFRE_COMMIT_UNKNOWN: { exit: 2, http: 404, summary: 'render --as-of: the commit is not in the repo history (unknown, ambiguous, rewritten), or git cannot read it' },
  COFFRE_AS_OF_VALUE_GONE: { exit: 3, http: 502, summary: 'render --as-of: a value the old configuration needs no longer exists (version destroyed or deleted)' },
  COFFRE_GUARD_REFUSED: { exit: 6, http: 422, summary: 'coffre guard: the commit or tree holds a rendered target, an unencrypted sops file, a target git would not ignore, or a store value (GUARD_* findings)' },
  COFFRE_INTERNAL: { exit: 70, http: 500, summary: 'an unexpected internal error' },
} as const satisfies Record<string, { exit: number; http: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where an error points to, so messages can say `file:line`. */
export interface ErrorLocation {
  file?: string;
  line?: number;
}

/** The one error type coffre throws on purpose. `message` is safe to show: it never holds a value. */
export class CoffreError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;
  constructor(code: ErrorCode, message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoffreError';
    this.code = code;
    this.location = location;
  }
}

export function isCoffreError(error: unknown): error is CoffreError {
  return error instanceof CoffreError;
}

/** `file:line: message` when a location is known. */
export function formatErrorMessage(error: CoffreError): string {
  const { file, line } = error.location;
  if (file === undefined || error.message.startsWith(file)) return error.message;
  return `${file}${line !== undefined ? `:${line}` : ''}: ${error.message}`;
}

/** The process exit code for an error; unknown errors are internal (70, like sysexits' EX_SOFTWARE). */
export function exitCodeFor(error: unknown): number {
  return isCoffreError(error) ? ERROR_CODES[error.code].exit : ERROR_CODES.COFFRE_INTERNAL.exit;
}

/** The HTTP status for an error; unknown errors are 500. */
export function httpStatusFor(error: unknown): number {
  return isCoffreError(error) ? ERROR_CODES[error.code].http : 500;
}

/**
 * Every warning code a report can carry besides error codes used at warning severity: what it means and what
 * to do. Warnings never change an exit code; `warnings.ignore` in coffre.yaml silences them (counted).
 */
export const WARNING_CODES = {
  EXAMPLE_UNREFERENCED: { summary: 'an env-like example file that no env_file target uses' },
  SOPS_SOURCE_IGNORED: { summary: 'a sops source file git will never commit (an ignore rule matches it): the deploy host would have no source; add the negation named' },
  VAULT_PREFIX_EMPTY: { summary: 'a Vault source is used with an empty vault.prefix: another repo on the same server derives the same paths; set a per-repo prefix' },
  COMPOSE_VARIABLE_UNDECLARED: { summary: 'a compose file interpolates a variable (without a default) that the project .env example does not declare' },
} as const satisfies Record<string, { summary: string }>;

export type WarningCode = keyof typeof WARNING_CODES;
