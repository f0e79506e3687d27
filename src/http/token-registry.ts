// API tokens: the tokens file (YAML, zod-validated, file:line errors), token lookup by sha256 digest in
// constant time, roles and service scopes, and minting new tokens. Holds digests only; it never logs,
// stores or returns a presented token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import picomatch from 'picomatch';
import * as z from 'zod';
import { CoffreError } from '../errors.js';
import { lineOfPath, parseConfigYaml } from '../repo/yaml-position.js';

/** What a token may do: `check` reads reports and the service list, `render` also renders, `admin` does all. */
export type Role = 'check' | 'render' | 'admin';

/** What a route needs. */
export type Permission = 'check' | 'render' | 'admin';

export const ROLES = ['check', 'render', 'admin'] as const satisfies readonly Role[];

/**
 * Why a service glob is refused, or null when it is allowed. A glob is `.` (the service at the repo root) or
 * `/`-separated segments (none empty, `.` or `..`) whose only wildcards are `*`, `**` and `?`. Refused: `!`
 * (a negated glob grants every OTHER service), braces, brackets, extglobs `(…)`, `|` and backslashes: each
 * can make a scope wider than it reads. Several globs are written as several entries.
 */
export function scopeGlobProblem(glob: string): string | null {
  if (glob === '.') return null;
  if (/[\x00-\x1f\x7f]/.test(glob)) return 'has a control character';
  const special = /[!(){}[\]\\|]/.exec(glob)?.[0];
  if (special !== undefined) {
    return `"${glob}" uses "${special}": negation, braces, brackets, extglobs and backslashes are refused (they can widen a scope); ` +
      'list each glob instead, with * ** ? as the only wildcards';
  }
  if (glob.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return `"${glob}" has an empty, "." or ".." segment (the repo-root service is the glob ".")`;
  }
  return null;
}

const scopeGlob = z.string().min(1).superRefine((glob, ctx) => {
  const problem = scopeGlobProblem(glob);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

const tokenEntrySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'an id is 1-64 letters, digits, ".", "_" or "-"'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the 64 lowercase hex digits of the token\'s sha256'),
  role: z.enum(ROLES),
  services: z.array(scopeGlob).min(1).default(['**']),
});

const tokensFileSchema = z.strictObject({
  tokens: z.array(tokenEntrySchema).superRefine((entries, ctx) => {
    const seenIds = new Set<string>();
    const seenDigests = new Set<string>();
    entries.forEach((entry, index) => {
      if (seenIds.has(entry.id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate id "${entry.id}"` });
      if (seenDigests.has(entry.sha256)) ctx.addIssue({ code: 'custom', path: [index, 'sha256'], message: 'the same token digest is listed twice' });
      seenIds.add(entry.id);
      seenDigests.add(entry.sha256);
    });
  }),
});

/** One token as the registry knows it: no token, only its digest. */
export interface TokenEntry {
  id: string;
  role: Role;
  /** picomatch globs over service names (`**` = every service). */
  services: string[];
}

/** The identity a request acts as once authenticated. */
export interface Principal extends TokenEntry {
  /** True for the `--insecure-no-auth` principal. */
  anonymous: boolean;
}

/** Looks tokens up and answers role/scope questions. */
export interface TokenRegistry {
  /** The entry whose digest matches `presented`, or null. Compares every digest in constant time. */
  authenticate(presented: string): Principal | null;
  readonly size: number;
}

/** Whether `role` grants `permission`. */
export function roleAllows(role: Role, permission: Permission): boolean {
  const rank: Record<Role, number> = { check: 0, render: 1, admin: 2 };
  return rank[role] >= rank[permission];
}

const scopeMatchers = new WeakMap<TokenEntry, (name: string) => boolean>();

/**
 * Whether the principal's service globs cover `service`: the whole name must match a glob (never a prefix).
 * The repo-root service `.` is reached by `**` and `.` only (picomatch never lets a wildcard match a `.` name).
 */
export function scopeAllows(principal: TokenEntry, service: string): boolean {
  if (service === '.') return principal.services.includes('**') || principal.services.includes('.');
  let matcher = scopeMatchers.get(principal);
  if (!matcher) {
    matcher = picomatch(principal.services, { dot: true });
    scopeMatchers.set(principal, matcher);
  }
  return matcher(service);
}

/** The lowercase hex sha256 of a token, as the tokens file stores it. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Builds a registry from parsed entries. */
export function createTokenRegistry(entries: Array<TokenEntry & { sha256: string }>): TokenRegistry {
  const known = entries.map((entry) => ({
    digest: Buffer.from(entry.sha256, 'hex'),
    principal: { id: entry.id, role: entry.role, services: [...entry.services], anonymous: false } satisfies Principal,
  }));
  return {
    size: known.length,
    authenticate(presented) {
      const digest = createHash('sha256').update(presented, 'utf8').digest();
      let found: Principal | null = null;
      // Every digest is compared, so the time taken does not tell which entry (or whether any) matched.
      for (const entry of known) {
        if (timingSafeEqual(entry.digest, digest) && found === null) found = entry.principal;
      }
      return found;
    },
  };
}

/** The principal every request acts as under `--insecure-no-auth`: read-only (check role), every service. */
export const ANONYMOUS_READER: Principal = Object.freeze({ id: 'anonymous', role: 'check', services: Object.freeze(['**']), anonymous: true }) as Principal;

/**
 * Parses a tokens file. Throws COFFRE_CONFIG_INVALID naming `file:line` and the field of every problem;
 * a message never quotes a digest.
 */
export function parseTokensFile(text: string, file: string): TokenRegistry {
  let parsed: ReturnType<typeof parseConfigYaml>;
  try {
    parsed = parseConfigYaml(text, file);
  } catch (error) {
    if (error instanceof CoffreError) throw error;
    // yaml refuses alias expansion past its maxAliasCount (a "billion laughs" file) with a ReferenceError.
    const aliasBomb = error instanceof ReferenceError && /alias/i.test(error.message);
    throw new CoffreError('COFFRE_CONFIG_INVALID', aliasBomb ? 'too many YAML alias expansions (refused as a resource exhaustion attempt)' : 'the tokens file cannot be parsed', { file }, { cause: error });
  }
  const { located, data } = parsed;
  const result = tokensFileSchema.safeParse(data);
  if (!result.success) {
    const findings = result.error.issues.map((issue) => {
      const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      const line = lineOfPath(located, issue.path, unknownKey) ?? 1;
      const what = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
      return { line, text: `${field === '' ? '' : `${field}: `}${what}` };
    });
    const first = findings[0];
    throw new CoffreError('COFFRE_CONFIG_INVALID', findings.map((f) => `${file}:${f.line}: ${f.text}`).join('\n'), { file, ...(first ? { line: first.line } : {}) });
  }
  return createTokenRegistry(result.data.tokens);
}

/** Reads and parses a tokens file. */
export async function loadTokensFile(file: string): Promise<TokenRegistry> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `cannot read the tokens file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { file }, { cause: error });
  }
  return parseTokensFile(text, file);
}

/** A fresh token (`coffre_` + 32 random bytes, base64url) and the tokens-file entry that admits it. */
export function mintToken(entry: TokenEntry, random: (n: number) => Buffer = randomBytes): { token: string; yamlLine: string } {
  const parsed = tokenEntrySchema.omit({ sha256: true }).safeParse(entry);
  if (!parsed.success) throw new CoffreError('COFFRE_USAGE', parsed.error.issues.map((i) => `${i.path.join('.') || 'token'}: ${i.message}`).join('; '));
  const token = `coffre_${random(32).toString('base64url')}`;
  const services = parsed.data.services.map((s) => JSON.stringify(s)).join(', ');
  const yamlLine = `  - { id: ${JSON.stringify(parsed.data.id)}, sha256: ${tokenDigest(token)}, role: ${parsed.data.role}, services: [${services}] }`;
  return { token, yamlLine };
}
