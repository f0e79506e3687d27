// `set --from-file` and `import`: several values of one secrets file, read from an env file exactly as docker
// compose reads it, written to the file's source in ONE write (Vault: one KV v2 version, check-and-set against
// the version read, other keys kept as stored; sops: one locked, compared re-encryption). Results, errors and
// audit records carry key names and versions only.
import { parseEnvFile, parseRawEnvFile, type EnvFile } from '../core/env-file.js';
import { CoffreError, isCoffreError } from '../errors.js';
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import { MAX_DOTENV_BYTES, describeReadError } from '../repo/bounded-read.js';
import { secretFileKey } from '../repo/secret-naming.js';
import { readExampleOf } from '../repo/read-example.js';
import { runCheck, selectServices, describeError, type CheckContext, type CheckOptions } from './check.js';
import { findSopsCreationRule } from '../sources/sops-rules.js';
import type { SopsRef, SourceRef } from '../sources/secret-source.js';
import { sourceLabel } from './source-set.js';
import type { CheckReport } from '../core/report.js';
import { checkKeyName, type AuditRecord, type RotateContext } from './rotate.js';
import { requireSopsWriter, requireVault, resolveSecretFile, sourceLabelOf, type ResolvedSecretFile } from './versions.js';

/** Key names of one file, sorted by what a write would do to them. Never values. */
export interface KeyPlan {
  /** Not in the source yet. */
  new: string[];
  /** The source holds exactly this value. */
  same: string[];
  /** The source holds another value (written only with overwrite). */
  differs: string[];
  /** Not declared by the example (written only with allowExtra). */
  extra: string[];
  /** Values holding a `$` expansion: read with an empty environment, as the compose oracle does. */
  interpolated: string[];
}

/** What one file's write did. */
export interface FileValuesResult {
  service: string;
  file: string;
  target: string;
  source: { kind: 'vault' | 'sops'; ref: string };
  status: 'written' | 'unchanged' | 'would-write' | 'missing' | 'refused';
  keys: KeyPlan;
  /** Vault versions before/after (null for sops or before a first write). */
  oldVersion: number | null;
  newVersion: number | null;
  oldLastModified?: string;
  newLastModified?: string;
  /** A new sops file was (or, dry run, would be) created. */
  created?: boolean;
  /** Why the file was refused (status `refused`): code and a value-free message. */
  error?: { code: string; message: string };
}

interface Common {
  who: string;
  audit?: (record: AuditRecord) => void;
  allowExtra?: boolean;
  now?: Date;
}

export interface SetFromFileOptions extends Common {
  service: string;
  file: string;
  /** The env file's text (compose env_file syntax) and its name for error messages. */
  text: string;
  label: string;
}

/** `set --from-file`: every key of the text written to the file's source in one write (new or replaced). */
export async function runSetFromFile(context: RotateContext, options: SetFromFileOptions): Promise<FileValuesResult> {
  let resolved: ResolvedSecretFile | null = null;
  let source: FileValuesResult['source'] | null = null;
  try {
    resolved = resolveSecretFile(context, options.service, options.file);
    source = sourceLabelOf(context.repo.root, resolved.file);
    const values = envValues(options.text, options.label, 'compose');
    const result = await writeFileValues(context, resolved, source, resolved.file.source!, values.values, values.interpolated, { ...options, overwrite: true, dryRun: false });
    auditFile(options, 'set', resolved, source, result);
    return result;
  } catch (error) {
    auditFailure(options, 'set', options.service, options.file, resolved, source, error);
    throw error;
  }
}

export interface ImportOptions extends Common {
  /** Services to import; all when empty. */
  services: string[];
  /** The source kind the caller expects; a file whose source is another kind is refused. */
  to?: 'vault' | 'sops';
  dryRun: boolean;
  overwrite: boolean;
  /** Passed to the check run after the import. */
  check?: Omit<CheckOptions, 'services'>;
  /** Suffix of a new sops file beside its target (`--to sops`); `.sops.yaml` by default. */
  newSopsSuffix?: string;
  /** The repo as discovered again (after new sops files were created, they are the files' sources). */
  rediscover?: () => Promise<CheckContext>;
}

export interface ImportResult {
  files: FileValuesResult[];
  check: CheckReport;
}

/** `import`: each existing target file of the services written to its source (one write per file), then `check`. */
export async function runImport(context: RotateContext, options: ImportOptions): Promise<ImportResult> {
  const services = selectServices(context.repo, options.services.length > 0 ? options.services : undefined);
  const files: FileValuesResult[] = [];
  for (const service of services) {
    for (const file of service.secretFiles) {
      files.push(await importFile(context, options, resolveSecretFile(context, service.name, file.targetRel)));
    }
  }
  const created = files.some((f) => f.created === true && f.status === 'written');
  const checkContext = created && options.rediscover ? await options.rediscover() : context;
  const check = await runCheck(checkContext, { ...options.check, services: services.map((s) => s.name) });
  return { files, check };
}

async function importFile(context: RotateContext, options: ImportOptions, resolved: ResolvedSecretFile): Promise<FileValuesResult> {
  const { file } = resolved;
  let source: FileValuesResult['source'] | null = null;
  try {
    source = options.to === 'sops' && file.source === null ? { kind: 'sops', ref: '' } : sourceLabelOf(context.repo.root, file);
    const text = await readTargetSafely(context.repo.root, file.target, file.targetRel);
    if (text === null) return { ...base(resolved, source), status: 'missing', keys: emptyPlan(), oldVersion: null, newVersion: null };
    let ref = file.source as SourceRef;
    if (options.to === 'sops' && ref?.kind !== 'sops') {
      // A new sops file beside the target, where discovery will find it (it wins over Vault from then on).
      ref = { kind: 'sops', file: `${file.target}${options.newSopsSuffix ?? '.sops.yaml'}`, format: 'yaml' };
      source = sourceLabel(context.repo.root, ref) as FileValuesResult['source'];
    } else if (options.to === 'vault' && ref.kind !== 'vault') {
      throw new CoffreError('COFFRE_USAGE', `${file.targetRel}: its source is the sops file ${source.ref} (a sops file beside the target wins over Vault); --to vault would write where render does not read`, { file: file.targetRel });
    }
    const values = file.format === 'secret' ? { values: new Map([[secretFileKey(file.target), text]]), interpolated: [] } : envValues(text, file.targetRel, file.format);
    const result = await writeFileValues(context, resolved, source, ref, values.values, values.interpolated, options);
    if (!options.dryRun) auditFile(options, 'import', resolved, source, result);
    return result;
  } catch (error) {
    if (!options.dryRun) auditFailure(options, 'import', resolved.service.name, file.name, resolved, source, error);
    const described = describeError(error);
    const keys = isCoffreError(error) && error instanceof PlanRefusal ? error.plan : emptyPlan();
    return {
      ...base(resolved, source ?? { kind: file.source?.kind === 'sops' ? 'sops' : 'vault', ref: '' }),
      status: 'refused',
      keys,
      oldVersion: null,
      newVersion: null,
      error: { code: described.code, message: described.message },
    };
  }
}

/**
 * The hand-made target's text, or null when there is none. The repo is untrusted: a target outside it, or
 * reached through a symlink (any folder on the way, or the file itself), is refused (COFFRE_TARGET_UNSAFE), so
 * an import never uploads a file the repo merely points at.
 */
async function readTargetSafely(root: string, target: string, targetRel: string): Promise<string | null> {
  const rel = path.relative(root, target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `${targetRel} is outside the repo: coffre imports only targets inside it`, { file: targetRel });
  }
  let current = root;
  const segments = rel.split(path.sep);
  for (const [i, segment] of segments.entries()) {
    current = path.join(current, segment);
    let info;
    try {
      info = await lstat(current);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === 'ENOENT') return null;
      throw new CoffreError('COFFRE_USAGE', `cannot read ${targetRel}: ${describeReadError(error)}`, { file: targetRel });
    }
    if (info.isSymbolicLink()) throw new CoffreError('COFFRE_TARGET_UNSAFE', `${targetRel}: ${segments.slice(0, i + 1).join('/')} is a symlink; coffre does not import through symlinks`, { file: targetRel });
    if (i === segments.length - 1 && !info.isFile()) throw new CoffreError('COFFRE_TARGET_UNSAFE', `${targetRel} is not a regular file`, { file: targetRel });
  }
  let handle;
  try {
    // O_NOFOLLOW: a symlink swapped in since the check is refused by the kernel.
    handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'ELOOP') throw new CoffreError('COFFRE_TARGET_UNSAFE', `${targetRel} is a symlink; coffre does not import through symlinks`, { file: targetRel });
    throw new CoffreError('COFFRE_USAGE', `cannot read ${targetRel}: ${describeReadError(error)}`, { file: targetRel });
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_DOTENV_BYTES) throw new CoffreError('COFFRE_USAGE', `cannot read ${targetRel}: larger than ${MAX_DOTENV_BYTES} bytes, refused`, { file: targetRel });
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** A refusal that still knows the key plan (names only), for the report. */
class PlanRefusal extends CoffreError {
  readonly plan: KeyPlan;
  constructor(code: ConstructorParameters<typeof CoffreError>[0], message: string, plan: KeyPlan, location: { file?: string } = {}) {
    super(code, message, location);
    this.plan = plan;
  }
}

function base(resolved: ResolvedSecretFile, source: FileValuesResult['source']): Pick<FileValuesResult, 'service' | 'file' | 'target' | 'source'> {
  return { service: resolved.service.name, file: resolved.file.name, target: resolved.file.targetRel, source };
}

function emptyPlan(): KeyPlan {
  return { new: [], same: [], differs: [], extra: [], interpolated: [] };
}

/**
 * Reads env text as compose reads an env_file (last value per key; `$` expansions against an empty
 * environment). A syntax error names the line only: the text is secret.
 */
function envValues(text: string, label: string, format: 'compose' | 'raw'): { values: Map<string, string>; interpolated: string[] } {
  let parsed: EnvFile;
  try {
    parsed = format === 'raw' ? parseRawEnvFile(text, { file: label }) : parseEnvFile(text, { file: label });
  } catch (error) {
    if (!isCoffreError(error) || error.code !== 'COFFRE_EXAMPLE_SYNTAX') throw error;
    const line = error.location.line;
    throw new CoffreError('COFFRE_EXAMPLE_SYNTAX', `${label}: not a docker compose env file${line === undefined ? '' : ` (line ${line})`}; its text is not shown`, {
      file: label,
      ...(line === undefined ? {} : { line }),
    });
  }
  const values = new Map<string, string>();
  const interpolated = new Set<string>();
  for (const entry of parsed.entries) {
    values.set(entry.key, entry.value);
    if (entry.interpolated) interpolated.add(entry.key);
    else interpolated.delete(entry.key);
  }
  return { values, interpolated: [...interpolated].sort() };
}

/** Plans, checks and writes the values of one file in one write. */
async function writeFileValues(
  context: RotateContext,
  resolved: ResolvedSecretFile,
  source: FileValuesResult['source'],
  ref: SourceRef,
  values: Map<string, string>,
  interpolated: string[],
  options: Common & { overwrite: boolean; dryRun: boolean },
): Promise<FileValuesResult> {
  const { file } = resolved;
  for (const key of values.keys()) checkKeyName(key);
  const plan: KeyPlan = { ...emptyPlan(), interpolated };
  const declared = await declaredKeys(resolved);
  plan.extra = [...values.keys()].filter((key) => declared !== null && !declared.keys.has(key)).sort();
  if (declared === null && !(options.allowExtra ?? false)) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} has no example, so its keys cannot be checked against it (add ${file.targetRel}.example, or pass --allow-extra)`, { file: file.targetRel });
  }
  if (plan.extra.length > 0 && !(options.allowExtra ?? false)) {
    throw new PlanRefusal('COFFRE_USAGE', `${file.targetRel}: keys not declared in ${file.exampleRel}: ${plan.extra.join(', ')}; add them to the example, or pass --allow-extra (nothing written)`, plan, { file: file.targetRel });
  }
  const empty = [...values].filter(([key, value]) => value === '' && !(declared?.allowEmpty.has(key) ?? false)).map(([key]) => key).sort();
  if (empty.length > 0 && declared !== null) {
    throw new PlanRefusal('COFFRE_USAGE', `${file.targetRel}: refusing empty values for ${empty.join(', ')} (the example does not mark them @allow-empty; nothing written)`, plan, { file: file.targetRel });
  }

  const stored = ref.kind === 'vault' ? await requireVault(context.vault).readData(ref) : await requireSopsWriter(context.sources.sops).readValues(ref);
  const storedValue = (key: string): unknown => {
    if (stored === null) return undefined;
    if ('data' in stored) return Object.hasOwn(stored.data, key) ? stored.data[key] : undefined;
    return stored.values.get(key);
  };
  for (const [key, value] of values) {
    const current = storedValue(key);
    if (current === undefined) plan.new.push(key);
    else if (current === value) plan.same.push(key);
    else plan.differs.push(key);
  }
  plan.new.sort();
  plan.same.sort();
  plan.differs.sort();
  const result: FileValuesResult = { ...base(resolved, source), status: 'unchanged', keys: plan, oldVersion: null, newVersion: null };
  if (ref.kind === 'sops' && stored === null) return createSops(context, ref, source, values, result, options);
  if (plan.differs.length > 0 && !options.overwrite) {
    throw new PlanRefusal('COFFRE_IMPORT_DIFFERS', `${source.ref} already holds other values for ${plan.differs.join(', ')}: nothing written for ${file.targetRel} (--overwrite replaces them)`, plan, { file: file.targetRel });
  }
  const changes = new Map([...values].filter(([key]) => !plan.same.includes(key)));
  if (stored !== null && "version" in stored && typeof stored.version === "number") result.oldVersion = stored.version;
  if (changes.size === 0) return result;
  if (options.dryRun) return { ...result, status: 'would-write' };

  if (ref.kind === 'vault') {
    const vault = requireVault(context.vault);
    const snapshot = stored as { data: Record<string, unknown>; version: number } | null;
    // One KV v2 version, check-and-set against the version read; every other key written back as read.
    const cas = snapshot?.version ?? 0;
    try {
      const { version } = await vault.writeValues(ref, { ...(snapshot?.data ?? {}), ...Object.fromEntries(changes) }, cas);
      return { ...result, status: 'written', oldVersion: snapshot === null ? null : cas, newVersion: version };
    } catch (error) {
      if (isCoffreError(error) && error.code === 'COFFRE_CONFLICT') {
        throw new CoffreError('COFFRE_CONFLICT', `${error.message}; someone else wrote ${source.ref} meanwhile: nothing was written, retry`, {}, { cause: error });
      }
      throw error;
    }
  }
  const sops = requireSopsWriter(context.sources.sops);
  const snapshot = stored as { revision?: string };
  if (snapshot.revision === undefined) throw new CoffreError('COFFRE_INTERNAL', `${source.ref}: no revision in the sops snapshot; refusing a write without check-and-set`);
  const written = await sops.writeValues(ref, changes, { expectedRevision: snapshot.revision, ...(options.now ? { now: options.now } : {}) });
  return { ...result, status: written.changed.length + written.added.length > 0 ? 'written' : 'unchanged', oldLastModified: written.previousLastModified, newLastModified: written.lastModified };
}

/** A new sops file (YAML store) for the values, encrypted to the age recipients of the repo's `.sops.yaml` creation rule. */
async function createSops(
  context: RotateContext,
  ref: SopsRef,
  source: FileValuesResult['source'],
  values: Map<string, string>,
  result: FileValuesResult,
  options: Common & { dryRun: boolean },
): Promise<FileValuesResult> {
  const rule = await findSopsCreationRule(context.repo.root, ref.file);
  if (rule === null) {
    throw new PlanRefusal(
      'COFFRE_SOPS_NO_CREATION_RULE',
      `${source.ref} does not exist and no .sops.yaml creation rule matches it: add one to the repo's .sops.yaml (creation_rules: - path_regex: <regex matching ${source.ref}> with age: <age1… recipients>), or create the file with \`sops encrypt\`, then import again (nothing written)`,
      result.keys,
      { file: source.ref },
    );
  }
  if (ref.format !== 'yaml') {
    throw new PlanRefusal('COFFRE_SOPS_UNSUPPORTED', `${source.ref} does not exist: coffre creates sops files in the YAML store only (*.sops.yaml); create it with \`sops encrypt\``, result.keys, { file: source.ref });
  }
  if (options.dryRun) return { ...result, status: 'would-write', created: true };
  const created = await requireSopsWriter(context.sources.sops).createFile(ref, values, { recipients: rule.recipients, ...(options.now ? { now: options.now } : {}) });
  return { ...result, status: 'written', created: true, newLastModified: created.lastModified };
}

async function declaredKeys({ file }: ResolvedSecretFile): Promise<{ keys: Set<string>; allowEmpty: Set<string> } | null> {
  if (file.example === null || file.exampleRel === null) return null;
  const example = await readExampleOf({ ...file, example: file.example, exampleRel: file.exampleRel });
  return { keys: new Set(example.keys.map((k) => k.name)), allowEmpty: new Set(example.keys.filter((k) => k.allowEmpty).map((k) => k.name)) };
}

function writtenKeys(result: FileValuesResult): string[] {
  return [...result.keys.new, ...result.keys.differs].sort();
}

function auditFile(options: Common, action: 'set' | 'import', resolved: ResolvedSecretFile, source: FileValuesResult['source'], result: FileValuesResult): void {
  if (!options.audit) return;
  const sops = source.kind === 'sops';
  options.audit({
    action,
    who: options.who,
    service: resolved.service.name,
    file: resolved.file.name,
    key: null,
    keys: result.status === 'written' ? writtenKeys(result) : [],
    source,
    oldVersion: (sops ? result.oldLastModified : result.oldVersion) ?? null,
    newVersion: (sops ? result.newLastModified : result.newVersion) ?? null,
    outcome: result.status === 'written' ? 'written' : 'unchanged',
  });
}

function auditFailure(options: Common, action: 'set' | 'import', service: string, fileName: string, resolved: ResolvedSecretFile | null, source: FileValuesResult['source'] | null, error: unknown): void {
  if (!options.audit) return;
  options.audit({
    action,
    who: options.who,
    service: resolved?.service.name ?? service,
    file: resolved?.file.name ?? fileName,
    key: null,
    keys: [],
    source,
    oldVersion: null,
    newVersion: null,
    outcome: 'error',
    errorCode: describeError(error).code,
  });
}
