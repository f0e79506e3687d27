// The coffre.yaml schema (zod) and its loading: every field optional with a default, unknown keys refused,
// errors named `file:line: field.path: problem`. Parses and validates only; it resolves no path and reads
// no environment variable (use-cases combine the config with the environment).
import { statSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq } from 'yaml';
import * as z from 'zod';
import { CoffreError } from '../errors.js';
import type { SopsStoreFormat } from '../core/source-ref.js';
import { findTemplatePlaceholders, VAULT_PATH_PLACEHOLDERS } from './secret-naming.js';
import { deepFreeze } from '../core/deep-freeze.js';
import { parseGenerateSpec } from '../core/generate.js';
import { ERROR_CODES, WARNING_CODES } from '../errors.js';
import { DEFAULT_EXAMPLE_PATTERNS, EXAMPLE_PATTERN_PLACEHOLDERS } from './example-patterns.js';
import { describeReadError, MAX_CONFIG_BYTES, readBoundedTextSync } from './bounded-read.js';
import { lineOfPath, parseConfigYaml, type LocatedDocument } from './yaml-position.js';

/** File names looked up, in order, by {@link loadConfig}. */
export const CONFIG_FILE_NAMES = ['coffre.yaml', '.coffre.yaml'] as const;

const SOPS_STORE_FORMATS = ['yaml', 'json', 'dotenv', 'ini', 'binary'] as const satisfies readonly SopsStoreFormat[];

/**
 * A file mode written as octal digits: `"0600"`, `"640"`. A YAML integer is read as the same digits
 * (`mode: 0600` and `mode: 600` both mean 0o600), because YAML 1.2 would otherwise read `0600` as decimal.
 */
const fileMode = z.union([z.string(), z.number().int()]).transform((value, ctx) => {
  const digits = String(value);
  if (!/^0?[0-7]{3}$/.test(digits)) {
    ctx.addIssue({ code: 'custom', message: 'expected an octal file mode such as "0600"' });
    return z.NEVER;
  }
  return Number.parseInt(digits, 8);
});

/** A user or group: a name, or a numeric id. */
const principal = z.union([z.string().min(1), z.number().int().nonnegative()]);

/** A `{prefix}/{service}/{name}` template: only those three placeholders are allowed. */
const vaultPathTemplate = z.string().superRefine((template, ctx) => {
  for (const name of findTemplatePlaceholders(template)) {
    if (!(VAULT_PATH_PLACEHOLDERS as readonly string[]).includes(name)) {
      ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}} (allowed: ${VAULT_PATH_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})` });
    }
  }
});

const discoverySchema = z.strictObject({
  /**
   * Compose file names that make a folder a service; the first one present in a folder wins. An entry may be a
   * glob over file names (`docker-compose*.yml`, matched in sorted order; override files never match).
   */
  composeFiles: z.array(z.string().min(1).refine((name) => !name.includes('/'), 'a compose file name or glob, without "/"')).min(1).default(['docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml']),
  /** How deep service folders may sit below the repo root (1 = top-level folders; 0 = the root only). */
  maxDepth: z.number().int().min(0).max(20).default(3),
  /**
   * Folders never entered: picomatch globs; a pattern without `/` matches a folder name at any depth,
   * one with `/` matches the folder's path relative to the root. Hidden folders are always skipped.
   */
  exclude: z.array(z.string().min(1)).default(['node_modules', '.git']),
});

/** An example pattern (see example-patterns.ts): only the known placeholders, a relative path. */
const examplePattern = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    for (const name of findTemplatePlaceholders(pattern)) {
      if (!(EXAMPLE_PATTERN_PLACEHOLDERS as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}} (allowed: ${EXAMPLE_PATTERN_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})` });
      }
    }
    if (pattern.startsWith('/')) ctx.addIssue({ code: 'custom', message: 'a pattern is relative to the service folder (no leading "/")' });
    if (!/\{(base|stem|name)\}/.test(pattern)) ctx.addIssue({ code: 'custom', message: 'a pattern names the target with {base}, {stem} or {name}' });
  });

const examplesSchema = z.strictObject({
  /** The example of target `T` is the first existing `T<suffix>`. */
  suffixes: z.array(z.string().regex(/^\./, 'a suffix starts with "."')).min(1).default(['.example', '.dist', '.sample']),
  /** Tried in order after the suffixes, relative to the service folder (placeholders in example-patterns.ts). */
  patterns: z.array(examplePattern).default([...DEFAULT_EXAMPLE_PATTERNS]),
});

const sopsSchema = z.strictObject({
  /**
   * A target `T` is backed by the first existing sops file `T<suffix>` beside it. The store format follows the
   * suffix's last extension (yaml/yml → yaml, json, env → dotenv, ini; anything else, e.g. `.sops`, → binary).
   */
  suffixes: z.array(z.string().regex(/^\./, 'a suffix starts with "."')).default(['.sops.yaml', '.sops.yml', '.sops.json', '.sops.env', '.sops.ini', '.sops']),
  /** An age identity file, relative to the repo root or absolute (added to SOPS_AGE_KEY_FILE / SOPS_AGE_KEY). */
  ageKeyFile: z.string().min(1).nullable().default(null),
});

const vaultAuthSchema = z.discriminatedUnion('method', [
  /** The token comes from the environment (BAO_TOKEN / VAULT_TOKEN). */
  z.strictObject({ method: z.literal('token') }),
  /** AppRole login; both files are relative to the repo root or absolute. */
  z.strictObject({
    method: z.literal('approle'),
    roleIdFile: z.string().min(1),
    secretIdFile: z.string().min(1),
    mount: z.string().min(1).default('approle'),
    /**
     * The secretIdFile holds a response-wrapping token of `auth/<mount>/role/<role>/secret-id` (checked with
     * sys/wrapping/lookup, then unwrapped); it works once, so a re-login needs a new one in the file.
     */
    secretIdWrapped: z.boolean().optional(),
  }),
]);

const vaultSchema = z.strictObject({
  /** Server URL; null → BAO_ADDR / VAULT_ADDR; none at all → Vault is not used. */
  address: z.url().nullable().default(null),
  /** The KV v2 mount. */
  mount: z.string().regex(/^[^/]+(\/[^/]+)*$/, 'a mount has no leading, trailing or doubled "/"').default('secret'),
  /** Substituted for `{prefix}` in `path`. */
  prefix: z.string().default(''),
  /** Path of a secrets file below the mount; empty segments are dropped, so an empty prefix gives `<service>/<name>`. */
  path: vaultPathTemplate.default('{prefix}/{service}/{name}'),
  namespace: z.string().min(1).nullable().default(null),
  /** TLS to an https address; each null falls back to its BAO_/VAULT_ variable. Files are relative to the repo root. */
  tls: z
    .strictObject({
      /** PEM CA certificate(s) trusted instead of the built-in roots (VAULT_CACERT). */
      caCert: z.string().min(1).nullable().default(null),
      /** A directory of PEM CA certificates, used when no caCert is given (VAULT_CAPATH). */
      caPath: z.string().min(1).nullable().default(null),
      /** PEM client certificate and key, both or neither (VAULT_CLIENT_CERT / VAULT_CLIENT_KEY). */
      clientCert: z.string().min(1).nullable().default(null),
      clientKey: z.string().min(1).nullable().default(null),
      /** SNI name, and the name the server certificate must hold (VAULT_TLS_SERVER_NAME). */
      serverName: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  timeoutMs: z.number().int().positive().default(10_000),
  concurrency: z.number().int().positive().max(256).default(8),
  auth: vaultAuthSchema.prefault({ method: 'token' }),
  /**
   * The nodes of an OpenBao/Vault cluster, instead of `address`: reads and writes fail over between them (see
   * the README's "Scaling out"). Absent → `address` (or BAO_ADDR / VAULT_ADDR), one server.
   */
  addresses: z.array(z.url()).min(1).max(16).optional(),
  /** With `addresses`: how long one request may go from node to node before it fails (default 15000 ms). */
  failoverMs: z.number().int().positive().max(600_000).optional(),
}).refine((vault) => vault.addresses === undefined || vault.address === null, {
  message: 'give vault.address (one server) or vault.addresses (a cluster), not both',
  path: ['addresses'],
});

const renderSchema = z.strictObject({
  /** Mode of rendered files. */
  mode: fileMode.default(0o600),
  /** Owner of rendered files (name or uid); null keeps the writing user. */
  owner: principal.nullable().default(null),
  /** Group of rendered files (name or gid); null keeps the writing user's group. */
  group: principal.nullable().default(null),
});

const renderOverrideSchema = z.strictObject({
  mode: fileMode.optional(),
  owner: principal.nullable().optional(),
  group: principal.nullable().optional(),
});

/**
 * Where one secrets file's values live, overriding discovery. Exactly one of:
 * `vault: "<mount>/<path>"` (first segment is the mount; `{prefix}`, `{service}`, `{name}` allowed),
 * `vault: { mount, path }` (for a mount with `/` in it), or `sops: <file relative to the service folder>`
 * with an optional `format` (else taken from the extension).
 */
const sourceOverrideSchema = z
  .strictObject({
    vault: z.union([z.string().regex(/^[^/]+\/[^/]/, 'expected "<mount>/<path>"'), z.strictObject({ mount: z.string().min(1), path: z.string().min(1) })]).optional(),
    sops: z.string().min(1).optional(),
    format: z.enum(SOPS_STORE_FORMATS).optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.vault === undefined) === (value.sops === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of "vault" or "sops"' });
    if (value.format !== undefined && value.sops === undefined) ctx.addIssue({ code: 'custom', path: ['format'], message: '"format" only applies to a sops source' });
    const vaultPath = typeof value.vault === 'string' ? value.vault : value.vault?.path;
    for (const name of vaultPath === undefined ? [] : findTemplatePlaceholders(vaultPath)) {
      if (!(VAULT_PATH_PLACEHOLDERS as readonly string[]).includes(name)) ctx.addIssue({ code: 'custom', path: ['vault'], message: `unknown placeholder {${name}}` });
    }
  })
  .transform((value): SourceOverride => {
    if (value.sops !== undefined) return { kind: 'sops', file: value.sops, ...(value.format ? { format: value.format } : {}) };
    const vault = value.vault!;
    if (typeof vault !== 'string') return { kind: 'vault', mount: vault.mount, path: vault.path };
    const slash = vault.indexOf('/');
    return { kind: 'vault', mount: vault.slice(0, slash), path: vault.slice(slash + 1) };
  });

const fileOverrideSchema = z.strictObject({
  /** The source; `null` means "no source": check reports the file source-missing and render refuses its service. */
  source: sourceOverrideSchema.nullable().optional(),
  /** The example, relative to the service folder, when it is not `<target><example suffix>`. */
  example: z.string().min(1).optional(),
  /** Not a secrets file (e.g. a committed env file of plain settings): left out of the model entirely. */
  skip: z.boolean().default(false),
});

const serviceSchema = z.strictObject({
  /** Leave the whole service out. */
  skip: z.boolean().default(false),
  /** Overrides of the top-level `render` settings for this service. */
  render: renderOverrideSchema.prefault({}),
  /** Per-target settings, keyed by the target path relative to the service folder (as in `env_file`). */
  files: z.record(z.string().min(1), fileOverrideSchema).default({}),
});

/** A key name or glob (picomatch, case-sensitive) of an example, with what coffre.yaml says about it. */
const keyPolicySchema = z.strictObject({
  optional: z.boolean().optional(),
  allowEmpty: z.boolean().optional(),
  /** As the example annotation `@generate=<charset>:<length>`. */
  generate: z
    .string()
    .transform((text, ctx) => {
      const spec = parseGenerateSpec(text);
      if ('invalid' in spec) {
        ctx.addIssue({ code: 'custom', message: spec.invalid });
        return z.NEVER;
      }
      return spec;
    })
    .optional(),
});

/** Policy for the targets a `files:` glob matches (target path relative to the repo root). */
const filePolicySchema = z.strictObject({
  /** Not a secrets file (a committed env file of plain settings): left out of the model entirely. */
  skip: z.boolean().optional(),
  /** Keyed by key name or glob; settings override the example's own annotations. */
  keys: z.record(z.string().min(1), keyPolicySchema).default({}),
});

const warningIgnoreSchema = z
  .strictObject({
    /** A warning code (README "Warning codes"), or an error code a warning is reported under. */
    code: z.string().refine((code) => code in WARNING_CODES || code in ERROR_CODES, { message: 'not a known warning or error code' }).optional(),
    /** Glob of the file the warning names, relative to the repo root. */
    path: z.string().min(1).optional(),
  })
  .refine((value) => value.code !== undefined || value.path !== undefined, { message: 'give "code", "path" or both' });

const warningsSchema = z.strictObject({
  /** Warnings matching an entry are left out of reports but counted (summary.warningsSilenced). */
  ignore: z.array(warningIgnoreSchema).default([]),
});

/** A path relative to the repo root that stays inside it (no absolute path, no `..` segment). */
const repoRelativePath = z
  .string()
  .min(1)
  .refine((value) => !value.startsWith('/') && !value.includes('\0') && !value.split(/[\\/]/).includes('..'), 'expected a path relative to the repo root, without ".."');

/**
 * One compose project run from the repo root: `docker compose -f files[0] -f files[1] … [--project-directory d]
 * [--env-file e]`. Relative env_file paths resolve from the project directory (default: the first file's folder).
 */
const composeProjectSchema = z.strictObject({
  /** Compose files relative to the repo root, in `-f` order. */
  files: z.array(repoRelativePath).min(1),
  /** `--project-directory`, relative to the repo root. */
  projectDirectory: repoRelativePath.optional(),
  /** `--env-file`, relative to the repo root: the file `${VAR}` come from (default: `.env` in the project directory). */
  envFile: repoRelativePath.optional(),
});

const composeSchema = z.strictObject({
  /**
   * How the repo is run. Absent: detected from `COMPOSE_FILE` in the root `.env` (or `.env.example`, `.env.dist`
   * when `.env` is absent), else each service folder is its own project. `[]`: no detection, service folders only.
   */
  projects: z.array(composeProjectSchema).optional(),
  /**
   * Absolute env_file/secret folders mapped into the repo (`"/etc/app": "host-secrets/app"`): for hosts where that
   * folder is the same directory as the repo one (a bind mount). Unmapped absolute targets are refused.
   */
  absoluteTargets: z
    .record(
      z.string().refine((key) => key.startsWith('/') && !key.split('/').includes('..'), 'expected an absolute folder without ".."'),
      repoRelativePath,
    )
    .default({}),
});

/** The whole coffre.yaml. Every field is optional; an absent file means all defaults. */
export const coffreConfigSchema = z.strictObject({
  version: z.literal(1).default(1),
  discovery: discoverySchema.prefault({}),
  examples: examplesSchema.prefault({}),
  sops: sopsSchema.prefault({}),
  vault: vaultSchema.prefault({}),
  render: renderSchema.prefault({}),
  /** Keyed by service name: the folder path relative to the repo root, with `/` (e.g. `mattermost`, `apps/wiki`). */
  services: z.record(z.string().min(1), serviceSchema).default({}),
  /** Keyed by a glob of target paths relative to the repo root (`apps/<glob>/.env`): every matching entry applies, in order. */
  files: z.record(z.string().min(1), filePolicySchema).default({}),
  warnings: warningsSchema.prefault({}),
  /** How compose runs the repo (projects, absolute targets); absent means all defaults. */
  compose: composeSchema.optional(),
});

/** A parsed, defaulted coffre.yaml. */
export type CoffreConfig = z.output<typeof coffreConfigSchema>;
/** One `services.<name>` entry. */
export type ServiceConfig = z.output<typeof serviceSchema>;
/** One `services.<name>.files.<target>` entry. */
export type FileOverride = z.output<typeof fileOverrideSchema>;
/** One `files.<glob>` entry. */
export type FilePolicy = z.output<typeof filePolicySchema>;
/** One `files.<glob>.keys.<key glob>` entry. */
export type KeyPolicy = z.output<typeof keyPolicySchema>;
/** One `warnings.ignore` entry. */
export type WarningIgnore = z.output<typeof warningIgnoreSchema>;
/** One `compose.projects[]` entry. */
export type ComposeProjectConfig = z.output<typeof composeProjectSchema>;
/** Resolved render settings (mode as a number, e.g. 0o600). */
export type RenderSettings = z.output<typeof renderSchema>;

/** A source named in coffre.yaml; a sops `file` is still relative to the service folder. */
export type SourceOverride =
  | { kind: 'vault'; mount: string; path: string }
  | { kind: 'sops'; file: string; format?: SopsStoreFormat };

/** The configuration used when the repo has no coffre.yaml. */
export function defaultConfig(): CoffreConfig {
  return coffreConfigSchema.parse({});
}

/**
 * Parses coffre.yaml text. `file` is only used in messages. Throws COFFRE_CONFIG_INVALID naming
 * `file:line` and the field path of every problem (YAML syntax, wrong type, unknown key, bad value).
 */
export function parseConfig(text: string, file: string): CoffreConfig {
  const { located, data } = parseConfigYaml(text, file);
  // jitless: one parse per process; compiling zod's eval fast path for it costs more than it saves (start-up).
  const result = coffreConfigSchema.safeParse(data, { jitless: true });
  if (result.success) return result.data;
  const findings = result.error.issues.flatMap((issue) => describeIssue(issue, located));
  const first = findings[0];
  const message = findings.map((f) => `${file}:${f.line}: ${f.text}`).join('\n');
  throw new CoffreError('COFFRE_CONFIG_INVALID', message, { file, ...(first ? { line: first.line } : {}) });
}

/**
 * Reads `<root>/coffre.yaml` or `<root>/.coffre.yaml` (having both is an error). Without either, returns the
 * defaults and `file: null`. `file` is the absolute path of the file read.
 *
 * The files are read on every call (on the main thread: coffre serve loads the config on every request, and a
 * thread-pool round trip per file cost more than the read; a FIFO is refused, never waited on). The parsed
 * config of the last text seen per root is reused when the text is the same, byte for byte: parsing (YAML,
 * then zod, even of the defaults) was most of a call. It is deeply frozen, as every caller shares it.
 */
export async function loadConfig(root: string): Promise<{ config: CoffreConfig; file: string | null }> {
  const found: Array<{ file: string; text: string }> = [];
  for (const name of CONFIG_FILE_NAMES) {
    const file = path.join(root, name);
    try {
      // An absent file (the usual case for one of the two names) is known without an exception thrown.
      if (statSync(file, { throwIfNoEntry: false }) === undefined) continue;
      found.push({ file, text: readBoundedTextSync(file, MAX_CONFIG_BYTES) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CoffreError('COFFRE_CONFIG_INVALID', `cannot read ${file}: ${describeReadError(error)}`, { file }, { cause: error });
      }
    }
  }
  if (found.length > 1) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `${root} has both ${CONFIG_FILE_NAMES.join(' and ')}: keep one`, { file: found[1]!.file });
  }
  const [only] = found;
  const remembered = parsedConfigs.get(root);
  if (remembered && remembered.file === (only?.file ?? null) && remembered.text === (only?.text ?? null)) return { config: remembered.config, file: remembered.file };
  // A parse error is thrown before anything is remembered: the next call parses (and refuses) again.
  const config = deepFreeze(only ? parseConfig(only.text, only.file) : defaultConfig());
  if (parsedConfigs.size >= MAX_PARSED_CONFIGS) parsedConfigs.delete(parsedConfigs.keys().next().value as string);
  parsedConfigs.set(root, { file: only?.file ?? null, text: only?.text ?? null, config });
  return { config, file: only?.file ?? null };
}

/** The last config parsed per repo root, with the exact text it came from (see loadConfig). */
const parsedConfigs = new Map<string, { file: string | null; text: string | null; config: CoffreConfig }>();
const MAX_PARSED_CONFIGS = 16;

/** Resolves a service's render settings: its overrides over the top-level ones. */
export function renderSettingsFor(config: CoffreConfig, serviceName: string): RenderSettings {
  const override = config.services[serviceName]?.render ?? {};
  return {
    mode: override.mode ?? config.render.mode,
    owner: override.owner !== undefined ? override.owner : config.render.owner,
    group: override.group !== undefined ? override.group : config.render.group,
  };
}

interface Finding {
  line: number;
  text: string;
}

function describeIssue(issue: z.core.$ZodIssue, located: LocatedDocument): Finding[] {
  const fieldPath = formatFieldPath(issue.path);
  const prefix = fieldPath === '' ? '' : `${fieldPath}: `;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      line: lineOfPath(located, issue.path, key) ?? 1,
      text: `${formatFieldPath([...issue.path, key])}: unknown key${fieldPath === '' ? '' : ` in ${fieldPath}`}`,
    }));
  }
  const line = lineOfPath(located, issue.path) ?? 1;
  if (issue.code === 'invalid_type') {
    const present = located.doc.hasIn(issue.path) || issue.path.length === 0;
    const expected = YAML_TYPE_NAMES[issue.expected] ?? issue.expected;
    return [{ line, text: `${prefix}${present ? `expected ${expected}${describeReceived(located, issue.path)}` : `missing (expected ${expected})`}` }];
  }
  return [{ line, text: `${prefix}${issue.message.replace(/^Invalid input: /, '')}` }];
}

/** zod's type names in YAML words. */
const YAML_TYPE_NAMES: Record<string, string> = { object: 'a mapping', record: 'a mapping', array: 'a list' };

/** What YAML type a wrong value has, without echoing the value itself. */
function describeReceived(located: LocatedDocument, fieldPath: ReadonlyArray<PropertyKey>): string {
  const node = fieldPath.length === 0 ? located.doc.contents : located.doc.getIn(fieldPath as unknown[], true);
  if (isScalar(node)) return `, got ${node.value === null ? 'null' : typeof node.value}`;
  if (isSeq(node)) return ', got a list';
  if (isMap(node)) return ', got a mapping';
  return '';
}

/** `vault.auth.roleIdFile`, `services.mattermost.files["secrets/db.secrets"].source`. */
export function formatFieldPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}
