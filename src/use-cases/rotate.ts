// `rotate`, `set` and `rollback`: a new VALUE for one key of a secrets file (not sops' re-keying of the data
// key), written to its source with check-and-set (Vault KV v2) or as an atomic sops rewrite, then optionally
// re-rendered. Results and audit records carry key names and versions only; a value leaves only via `reveal`.
import { generateValue, type GenerateCharset, type GenerateSpec, type RandomBytes } from '../core/generate.js';
import type { ExampleKey } from '../core/example.js';
import { CoffreError, isCoffreError, type ErrorCode } from '../errors.js';
import { readExampleOf } from '../repo/read-example.js';
import type { SopsRef, VaultRef } from '../sources/secret-source.js';
import { describeError } from './check.js';
import { runRender, type ServiceRenderResult } from './render.js';
import { requireSopsWriter, requireVault, resolveSecretFile, sourceLabelOf, type ResolvedSecretFile, type VersionsContext } from './versions.js';

/** The value to write: generated (charset/length default to the example's `@generate`, else alnum:32) or given. */
export type NewValue = { kind: 'generate'; charset?: GenerateCharset; length?: number } | { kind: 'value'; value: string };

/**
 * `rotate`: the key must exist in the store; `set`: it must not (first value; creates a missing Vault
 * secret with cas 0); `upsert`: either (the HTTP PUT).
 */
export type WriteMode = 'rotate' | 'set' | 'upsert';

/** One audit record: names and versions only, never a value. For sops the versions are `lastmodified`. */
export interface AuditRecord {
  action: 'rotate' | 'set' | 'rollback' | 'import';
  who: string;
  service: string;
  file: string;
  key: string | null;
  /** Multi-key writes (`set --from-file`, `import`): the names written, sorted. Never values. */
  keys?: string[];
  source: { kind: 'vault' | 'sops'; ref: string } | null;
  oldVersion: number | string | null;
  newVersion: number | string | null;
  outcome: 'written' | 'unchanged' | 'render-failed' | 'error';
  errorCode?: ErrorCode;
  /** Vault writes: who the Vault token is (display name, identity entity), as Vault's own audit log names it. */
  vaultIdentity?: { displayName: string | null; entityId: string | null };
}

interface Common {
  service: string;
  /** Logical name (`db`) or target path relative to the service (`secrets/db.secrets`). */
  file: string;
  /** Re-render the service's targets after the write. */
  render?: boolean;
  /** Who acts (token id, $USER): audit only. */
  who: string;
  /** Receives one record per attempt, success or failure. */
  audit?: (record: AuditRecord) => void;
}

export interface RotateOptions extends Common {
  key: string;
  value: NewValue;
  mode: WriteMode;
  /** Allow a key the example does not declare. */
  allowExtra?: boolean;
  /** Called once with the new value (only `--show` on a TTY passes this). */
  reveal?: (value: string) => void;
  now?: Date;
  randomBytes?: RandomBytes;
}

export interface RollbackOptions extends Common {
  /** The KV v2 version whose data becomes the new current version. */
  to: number;
}

/** How to undo a write if the render after it fails (or the value turns out wrong). */
export type RollbackHint = { kind: 'vault'; toVersion: number } | { kind: 'vault-new-secret' } | { kind: 'sops'; file: string };

/** What rotate/set/rollback did. Names and versions only. */
export interface WriteResult {
  action: 'rotate' | 'set' | 'rollback';
  service: string;
  file: string;
  target: string;
  key: string | null;
  source: { kind: 'vault' | 'sops'; ref: string };
  /** True when the key (or the Vault secret) did not exist before. */
  created: boolean;
  /** False when the store already held exactly this value (sops: nothing rewritten). */
  changed: boolean;
  /** Vault version before/after; null for sops, or before a first write. */
  oldVersion: number | null;
  newVersion: number | null;
  /** sops `lastmodified` before/after. */
  oldLastModified?: string;
  newLastModified?: string;
  /** The generation spec used (no value). */
  generated?: GenerateSpec;
  rollback: RollbackHint;
  /** The render of the service when asked for; `renderFailed` when it did not write. */
  render?: ServiceRenderResult;
  renderFailed: boolean;
}

/** Context: the workspace (repo, sources, Vault source with metadata) plus an optional past-version reader. */
export type RotateContext = VersionsContext;

const DEFAULT_GENERATE: GenerateSpec = { charset: 'alnum', length: 32 };

/**
 * One write with its audit line: resolves the file, runs `write`, re-renders when asked, and audits the
 * outcome — or the error code when anything fails.
 */
async function audited(
  context: RotateContext,
  options: Common,
  action: AuditRecord['action'],
  key: string | null,
  write: (resolved: ResolvedSecretFile, source: WriteResult['source']) => Promise<WriteResult>,
): Promise<WriteResult> {
  let resolved: ResolvedSecretFile | null = null;
  let partial: Partial<AuditRecord> = {};
  try {
    resolved = resolveSecretFile(context, options.service, options.file);
    const source = sourceLabelOf(context.repo.root, resolved.file);
    partial = { source };
    if (source.kind === 'vault' && context.vault !== null) {
      const vaultIdentity = await context.vault.tokenIdentity();
      if (vaultIdentity !== null) partial = { ...partial, vaultIdentity };
    }
    const result = await write(resolved, source);
    partial = { ...partial, oldVersion: versionOf(result, 'old'), newVersion: versionOf(result, 'new') };
    await renderAfter(context, result, options.render ?? false);
    audit(options, action, resolved, key, { ...partial, outcome: outcomeOf(result) });
    return result;
  } catch (error) {
    audit(options, action, resolved, key, { ...partial, outcome: 'error', errorCode: describeError(error).code });
    throw error;
  }
}

/** Writes a new value for one key (rotate / set / upsert), then renders when asked. */
export function runRotate(context: RotateContext, options: RotateOptions): Promise<WriteResult> {
  const action = options.mode === 'set' ? 'set' : 'rotate';
  return audited(context, options, action, options.key, async (resolved, source) => {
    const { file } = resolved;
    checkKeyName(options.key);
    const exampleKey = await exampleKeyOf(resolved, options.key, options.allowExtra ?? false);
    const { value, generated } = newValueFor(options.value, exampleKey, options);
    const ref = file.source!;
    const written = ref.kind === 'vault' ? await writeVault(context, ref, options, value) : await writeSops(context, ref, source.ref, options, value);
    options.reveal?.(value);
    return {
      action,
      service: resolved.service.name,
      file: file.name,
      target: file.targetRel,
      key: options.key,
      source,
      ...written,
      ...(generated ? { generated } : {}),
      renderFailed: false,
    };
  });
}

/** Rollback (Vault KV v2 only): version N's data becomes a new version, written with check-and-set. */
export function runRollback(context: RotateContext, options: RollbackOptions): Promise<WriteResult> {
  return audited(context, options, 'rollback', null, async (resolved, source) => {
    const { file } = resolved;
    const ref = file.source!;
    if (ref.kind === 'sops') {
      throw new CoffreError(
        'COFFRE_USAGE',
        `rollback is for Vault KV v2 versions; ${source.ref} is a sops file whose history is git's: restore it with \`git checkout <commit> -- ${source.ref}\` (see \`coffre versions\`)`,
      );
    }
    if (!Number.isSafeInteger(options.to) || options.to < 1) throw new CoffreError('COFFRE_USAGE', `--to must be a KV v2 version number (>= 1)`);
    const vault = requireVault(context.vault);
    const metadata = await vault.readMetadata(ref);
    if (metadata === null) throw new CoffreError('COFFRE_USAGE', `${source.ref} does not exist: nothing to roll back`);
    const current = metadata.currentVersion;
    const target = metadata.versions.get(options.to);
    if (target === undefined) {
      const known = [...metadata.versions.keys()].sort((a, b) => a - b).join(', ');
      throw new CoffreError('COFFRE_USAGE', `${source.ref} has no version ${options.to} (kept versions: ${known})`);
    }
    if (target.destroyed) throw new CoffreError('COFFRE_SOURCE_DESTROYED', `${source.ref} version ${options.to} is destroyed: it cannot be restored`);
    if (target.deletionTime !== '') throw new CoffreError('COFFRE_SOURCE_DELETED', `${source.ref} version ${options.to} is soft-deleted: undelete it first`);
    if (options.to === current) throw new CoffreError('COFFRE_USAGE', `${source.ref} is already at version ${current}`);
    // Version N's data as stored (types and nested values kept), not its env-value rendering.
    const data = await vault.readVersion(ref, options.to);
    const { version } = await vault.writeValues(ref, data, current);
    return {
      action: 'rollback',
      service: resolved.service.name,
      file: file.name,
      target: file.targetRel,
      key: null,
      source,
      created: false,
      changed: true,
      oldVersion: current,
      newVersion: version,
      rollback: { kind: 'vault', toVersion: current },
      renderFailed: false,
    };
  });
}

export function checkKeyName(key: string): void {
  // Names that compose, Vault and every sops store can all hold; the name is echoed, so keep it printable.
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) || key.length > 256) {
    throw new CoffreError('COFFRE_USAGE', `"${key.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}" is not a usable env key name (letters, digits, _ . -; not starting with a digit)`);
  }
}

/** The example's entry for `key`; a key the example does not declare is refused unless allowExtra. */
async function exampleKeyOf({ file }: ResolvedSecretFile, key: string, allowExtra: boolean): Promise<ExampleKey | null> {
  if (file.example === null || file.exampleRel === null) {
    if (allowExtra) return null;
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} has no example, so ${key} cannot be checked against it (add ${file.targetRel}.example, or pass --allow-extra)`, { file: file.targetRel });
  }
  const example = await readExampleOf({ ...file, example: file.example, exampleRel: file.exampleRel });
  const found = example.keys.filter((k) => k.name === key).at(-1) ?? null;
  if (found === null && !allowExtra) {
    throw new CoffreError('COFFRE_USAGE', `${key} is not a key of ${file.exampleRel}: add it to the example first, or pass --allow-extra`, { file: file.exampleRel });
  }
  return found;
}

function newValueFor(wanted: NewValue, exampleKey: ExampleKey | null, options: RotateOptions): { value: string; generated?: GenerateSpec } {
  if (wanted.kind === 'value') {
    if (wanted.value === '' && !(exampleKey?.allowEmpty ?? false)) {
      throw new CoffreError('COFFRE_USAGE', `refusing an empty value for ${options.key} (the example does not mark it @allow-empty)`);
    }
    return { value: wanted.value };
  }
  const base = exampleKey?.generate ?? DEFAULT_GENERATE;
  const spec: GenerateSpec = { charset: wanted.charset ?? base.charset, length: wanted.length ?? base.length };
  return { value: options.randomBytes ? generateValue(spec, options.randomBytes) : generateValue(spec), generated: spec };
}

type Written = Pick<WriteResult, 'created' | 'changed' | 'oldVersion' | 'newVersion' | 'oldLastModified' | 'newLastModified' | 'rollback'>;

async function writeVault(context: RotateContext, ref: VaultRef, options: RotateOptions, value: string): Promise<Written> {
  const vault = requireVault(context.vault);
  const label = `${ref.mount}/${ref.path}`;
  // The stored data (types kept) and its version from one answer: every other key is written back as read.
  const snapshot = await vault.readData(ref);
  if (snapshot === null) {
    if (options.mode === 'rotate') throw new CoffreError('COFFRE_USAGE', `${label} does not exist yet: give ${options.key} its first value with \`coffre set\``);
    // cas 0: written only if nobody created the secret in between.
    const { version } = await writeWithCas(vault, ref, { [options.key]: value }, 0);
    return { created: true, changed: true, oldVersion: null, newVersion: version, rollback: { kind: 'vault-new-secret' } };
  }
  const exists = Object.hasOwn(snapshot.data, options.key);
  if (options.mode === 'rotate' && !exists) throw new CoffreError('COFFRE_USAGE', `${label} has no ${options.key} yet: give it its first value with \`coffre set\``);
  if (options.mode === 'set' && exists) throw new CoffreError('COFFRE_USAGE', `${label} already has ${options.key}: use \`coffre rotate\` to replace it`);
  // The version comes with the data it describes: check-and-set against exactly what was read.
  const cas = snapshot.version;
  const values = { ...snapshot.data, [options.key]: value };
  const { version } = await writeWithCas(vault, ref, values, cas);
  return { created: !exists, changed: true, oldVersion: cas, newVersion: version, rollback: { kind: 'vault', toVersion: cas } };
}

async function writeWithCas(vault: ReturnType<typeof requireVault>, ref: VaultRef, values: Record<string, unknown>, cas: number): Promise<{ version: number }> {
  try {
    return await vault.writeValues(ref, values, cas);
  } catch (error) {
    if (isCoffreError(error) && error.code === 'COFFRE_SOURCE_WRONG_MOUNT') {
      throw new CoffreError('COFFRE_SOURCE_WRONG_MOUNT', `coffre writes only to KV v2 mounts (versions and check-and-set); KV v1 and other engines are refused: ${error.message}`, {}, { cause: error });
    }
    if (isCoffreError(error) && error.code === 'COFFRE_CONFLICT') {
      throw new CoffreError('COFFRE_CONFLICT', `${error.message}; someone else wrote it meanwhile: nothing was written, read it again (\`coffre versions\`) and retry if still needed`, {}, { cause: error });
    }
    throw error;
  }
}

async function writeSops(context: RotateContext, ref: SopsRef, label: string, options: RotateOptions, value: string): Promise<Written> {
  const sops = requireSopsWriter(context.sources.sops);
  const snapshot = await sops.readValues(ref);
  if (snapshot === null) throw new CoffreError('COFFRE_USAGE', `${label} does not exist: create it with sops (\`sops encrypt\`) first; coffre only changes values of existing sops files`);
  const exists = snapshot.values.has(options.key);
  if (options.mode === 'rotate' && !exists) throw new CoffreError('COFFRE_USAGE', `${label} has no ${options.key} yet: give it its first value with \`coffre set\``);
  if (options.mode === 'set' && exists) throw new CoffreError('COFFRE_USAGE', `${label} already has ${options.key}: use \`coffre rotate\` to replace it`);
  // Check-and-set, as with Vault: written only if the file is still the one just read (checked under its lock).
  if (snapshot.revision === undefined) throw new CoffreError('COFFRE_INTERNAL', `${label}: no revision in the sops snapshot; refusing a write without check-and-set`);
  const written = await sops.writeValues(ref, new Map([[options.key, value]]), { expectedRevision: snapshot.revision, ...(options.now ? { now: options.now } : {}) });
  return { created: !exists, changed: written.changed.length + written.added.length > 0, oldVersion: null, newVersion: null, oldLastModified: written.previousLastModified, newLastModified: written.lastModified, rollback: { kind: 'sops', file: label } };
}

async function renderAfter(context: RotateContext, result: WriteResult, render: boolean): Promise<void> {
  if (!render) return;
  const report = await runRender(context, { services: [result.service] });
  const service = report.services[0];
  if (service === undefined) throw new CoffreError('COFFRE_INTERNAL', `render returned no result for ${result.service}`);
  result.render = service;
  result.renderFailed = service.status !== 'written' && service.status !== 'unchanged';
}

function versionOf(result: WriteResult, which: 'old' | 'new'): number | string | null {
  if (result.source.kind === 'sops') return (which === 'old' ? result.oldLastModified : result.newLastModified) ?? null;
  return which === 'old' ? result.oldVersion : result.newVersion;
}

function outcomeOf(result: WriteResult): AuditRecord['outcome'] {
  if (result.renderFailed) return 'render-failed';
  if (!result.changed) return 'unchanged';
  return 'written';
}

function audit(options: Common, action: AuditRecord['action'], resolved: ResolvedSecretFile | null, key: string | null, fields: Partial<AuditRecord>): void {
  if (!options.audit) return;
  const record: AuditRecord = {
    action,
    who: options.who,
    service: resolved?.service.name ?? options.service,
    file: resolved?.file.name ?? options.file,
    key,
    source: fields.source ?? null,
    oldVersion: fields.oldVersion ?? null,
    newVersion: fields.newVersion ?? null,
    outcome: fields.outcome ?? 'error',
    ...(fields.errorCode ? { errorCode: fields.errorCode } : {}),
    ...(fields.vaultIdentity ? { vaultIdentity: fields.vaultIdentity } : {}),
  };
  options.audit(record);
}
