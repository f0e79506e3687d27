// `render`: write the env files compose reads, for whole services at a time. Reads and verifies every
// source of a service first (fail closed on incomplete), serialises byte-exact for compose, parses the text
// back to prove it, then hands the files to render/ for the atomic swap. Results carry key NAMES only.
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { diffCompleteness, fileStatusOf } from '../core/completeness.js';
import { parseEnvFile, parseRawEnvFile, serializeEnvFile } from '../core/env-file.js';
import type { ExampleModel } from '../core/example.js';
import type { KeyResult } from '../core/report.js';
import { CoffreError, ERROR_CODES, isCoffreError, type ErrorCode } from '../errors.js';
import type { SecretFileModel, ServiceModel } from '../repo/discover.js';
import { acquireServiceLock, gitClearsTargets, planTargets, preflightTargets, resolvePrincipal, writeTargetsAtomically, type PreflightResult, type RenderLock, type TargetPlan, type TargetWrite } from '../render/index.js';
import type { ValueSnapshot } from '../sources/secret-source.js';
import type { AsOfRender, ValueOrigin } from './as-of.js';
import { describeError, readExampleThrough, selectServices, serviceErrors, type CheckContext } from './check.js';
import { trackProgress, type ProgressListener } from './progress.js';
import { readValuesOf, releaseAfterLastUse, releaseOf, sourceLabel } from './source-set.js';

export interface RenderOptions {
  /** Services to render; all when `all` is true. */
  services: string[];
  all?: boolean;
  /** Compute the plan only: nothing is written. */
  dryRun?: boolean;
  /** Render files whose required keys are missing/empty/placeholder (loud; never the default). */
  forceIncomplete?: boolean;
  /** How many services render at once (default 16). */
  concurrency?: number;
  /** Told as services start and finish (the CLI's progress line). */
  onProgress?: ProgressListener;
  /**
   * Render the configuration of a past commit (`--as-of`): the context's repo must be discovered from that
   * commit's tree; examples and values are read through this (see use-cases/as-of.ts).
   */
  asOf?: AsOfRender;
}

/** What happens (or would happen) to one target. */
export type RenderAction = 'create' | 'update' | 'unchanged';

export interface RenderFileResult {
  target: string;
  example: string | null;
  source: { kind: 'vault' | 'sops' | null; ref: string | null };
  action: RenderAction;
  /** sha256 of the rendered content (hex); lets a deploy script compare hosts without seeing values. */
  sha256: string;
  keys: { added: string[]; changed: string[]; removed: string[] };
  /** Store keys not in the example: not rendered. */
  extraKeys: string[];
  mode: string;
  /** `--as-of` only: where each rendered key's value comes from (never the value). */
  valueSources?: ValueOrigin[];
}

export interface ServiceRenderResult {
  service: string;
  status: 'written' | 'unchanged' | 'planned' | 'refused' | 'error';
  files: RenderFileResult[];
  /** Keys that made the service incomplete (names and example lines only). */
  problems: Array<{ target: string; key: KeyResult }>;
  error?: { code: ErrorCode; message: string };
  /** True when --force-incomplete let an incomplete service through. */
  forced: boolean;
}

export interface RenderReport {
  version: 1;
  dryRun: boolean;
  /** `--as-of` only: the commit whose configuration was rendered, and which values it took. */
  asOf?: { commit: string; committedAt: string; values: 'current' | 'at-commit-date' };
  services: ServiceRenderResult[];
}

export async function runRender(context: CheckContext, options: RenderOptions): Promise<RenderReport> {
  const services = options.all ? context.repo.services : selectServices(context.repo, options.services);
  if (services.length === 0) throw new CoffreError('COFFRE_USAGE', 'render needs at least one service name, or --all');
  // One git question for every target of the run (two processes instead of two per service); when it
  // objects, each service asks again on its own so the refusal lands on the service it concerns.
  const allTargets = services.flatMap((s) => s.secretFiles.map((f) => f.targetRel));
  const gitCleared = context.gitVerdicts ? await context.gitVerdicts.clears(context.repo.root, allTargets) : await gitClearsTargets(context.repo.root, allTargets);
  // Each service is its own atomic unit with its own lock and targets, so services render side by side.
  const limit = pLimit(options.concurrency ?? 16);
  const progress = trackProgress(services.length, options.onProgress);
  // What a service read is released once no service left to render reads it (memory of a large run).
  const done = releaseAfterLastUse(context.sources, services.flatMap((service) => service.secretFiles.map((file) => file.source)));
  const results = await Promise.all(
    services.map((service) =>
      limit(async () => {
        progress.started(service.name);
        try {
          return await renderService(context, service, options, gitCleared);
        } finally {
          for (const file of service.secretFiles) done(file.source);
          progress.finished(service.name);
        }
      }),
    ),
  );
  const asOf = options.asOf ? { asOf: { commit: options.asOf.commit, committedAt: options.asOf.committedAt.toISOString(), values: options.asOf.valuesAsOf ? ('at-commit-date' as const) : ('current' as const) } } : {};
  return { version: 1, dryRun: options.dryRun ?? false, ...asOf, services: results };
}

interface PreparedFile {
  file: SecretFileModel;
  example: ExampleModel;
  snapshot: ValueSnapshot | null;
  origins?: ValueOrigin[];
}

async function renderService(context: CheckContext, service: ServiceModel, options: RenderOptions, gitCleared: boolean): Promise<ServiceRenderResult> {
  const result: ServiceRenderResult = { service: service.name, status: 'error', files: [], problems: [], forced: false };
  let lock: RenderLock | null = null;
  try {
    const root = context.repo.root;
    const mode = service.render.mode;
    const owner = await resolvePrincipal('owner', service.render.owner);
    const group = await resolvePrincipal('group', service.render.group);
    // Names, write access and git safety are checked before any secret is read.
    refuseServiceErrors(context, service);
    for (const file of service.secretFiles) refuseOutsideRepo(file);
    for (const file of service.secretFiles) refuseMissingSource(file);
    // With the mode/owner/group of the writes: who may replace whose target depends on the render group.
    const specs = service.secretFiles.map((f) => ({ target: f.target, targetRel: f.targetRel, mode, owner, group }));
    const checked = await preflightTargets(root, specs, { skipGit: gitCleared });
    // Sources are read under the service lock: the last render to take it writes the newest values, and a
    // slow render can never overwrite a newer one with what it read before (a dry run writes nothing: no lock).
    // When every target exists, the usual re-render finds nothing to change: it reads without the lock, and
    // takes it (reading again under it) only if something is to be written. An unchanged outcome writes
    // nothing, so it needs no lock to be right.
    // (`--as-of` reads through its own view of the stores: always under the lock.)
    const optimistic = options.dryRun === true || (options.asOf === undefined && checked.targets.every((target) => target.exists));
    if (!optimistic) lock = await acquireServiceLock(root, service.name);
    let planned = await readAndPlan(context, service, options, checked, { mode, owner, group }, result, false);
    if (planned !== null && !options.dryRun && lock === null && needsWrite(planned.plan)) {
      lock = await acquireServiceLock(root, service.name);
      result.problems = [];
      planned = await readAndPlan(context, service, options, checked, { mode, owner, group }, result, true);
    }
    if (planned === null) return result;
    const { writes, plan } = planned;
    if (options.dryRun) {
      result.status = 'planned';
      return result;
    }
    // Nothing to change (content and permissions): no write, no file touched.
    if (!needsWrite(plan)) {
      result.status = 'unchanged';
      return result;
    }
    const outcomes = await writeTargetsAtomically(root, service.name, writes, { skipGit: gitCleared, ...(lock ? { heldLock: lock } : {}) });
    result.status = outcomes.every((o) => o.outcome === 'unchanged') ? 'unchanged' : 'written';
    return result;
  } catch (error) {
    result.status = 'error';
    result.error = describeError(error);
    if (!isCoffreError(error)) throw error;
    return result;
  } finally {
    await lock?.release();
  }
}

const needsWrite = (plan: readonly TargetPlan[]): boolean => plan.some((step) => step.action !== 'unchanged' || step.permissionsDrift);

/**
 * Reads every source of the service, verifies completeness, builds the exact bytes and plans them against the
 * current targets. Fills `result` (problems, files, forced); null when the service is refused as incomplete
 * (`result` then says why).
 */
async function readAndPlan(
  context: CheckContext,
  service: ServiceModel,
  options: RenderOptions,
  checked: PreflightResult,
  permissions: { mode: number; owner: number | null; group: number | null },
  result: ServiceRenderResult,
  fresh: boolean,
): Promise<{ writes: TargetWrite[]; plan: TargetPlan[] } | null> {
  const root = context.repo.root;
  const prepared = await Promise.all(service.secretFiles.map((file) => prepareFile(context, file, options.asOf, fresh)));

  for (const { file, example, snapshot } of prepared) {
    if (snapshot === null) {
      for (const key of example.keys.filter((k) => !k.commentedOut && !k.optional)) {
        result.problems.push({ target: file.targetRel, key: { name: key.name, status: 'missing', line: key.line, optional: false } });
      }
      continue;
    }
    const keys = diffCompleteness(example, snapshot);
    if (fileStatusOf(keys) !== 'complete') {
      for (const key of keys) {
        if (!key.optional && key.status !== 'ok' && key.status !== 'extra') result.problems.push({ target: file.targetRel, key: { name: key.name, status: key.status, line: key.line, optional: key.optional } });
      }
    }
  }
  if (result.problems.length > 0 && !options.forceIncomplete) {
    const list = result.problems.map((p) => `${p.key.status} ${p.key.name} (${p.target})`).join(', ');
    result.status = 'refused';
    result.error = { code: 'COFFRE_INCOMPLETE', message: `service ${service.name} is incomplete, nothing written: ${list}` };
    return null;
  }
  result.forced = result.problems.length > 0;

  const { mode, owner, group } = permissions;
  const writes: TargetWrite[] = [];
  const drafts: Array<Omit<RenderFileResult, 'action' | 'keys'> & { entries: Map<string, string> }> = [];
  for (const { file, example, snapshot, origins } of prepared) {
    const values = snapshot?.values ?? new Map<string, string>();
    const entries = entriesInExampleOrder(example, values);
    // A compose secret file is its one value, byte for byte: no newline added, none removed.
    const content = file.format === 'secret' ? ([...entries.values()][0] ?? '') : serializeEnvFile([...entries].map(([key, value]) => ({ key, value })), file.format);
    verifyReadBack(content, entries, file);
    const exampleNames = new Set(example.keys.map((k) => k.name));
    writes.push({ target: file.target, targetRel: file.targetRel, content, mode, owner, group });
    drafts.push({
      target: file.targetRel,
      example: file.exampleRel,
      source: sourceLabel(root, file.source),
      sha256: createHash('sha256').update(content).digest('hex'),
      extraKeys: snapshot?.opaqueNames ? [] : [...values.keys()].filter((k) => !exampleNames.has(k)),
      mode: `0${mode.toString(8)}`,
      ...(origins ? { valueSources: origins.filter((o) => entries.has(o.key)) } : {}),
      entries,
    });
  }

  const plan = await planTargets(root, writes, { checked });
  result.files = drafts.map(({ entries, ...draft }, index) => {
    const step = plan[index];
    if (!step) throw new CoffreError('COFFRE_INTERNAL', `no plan for ${draft.target}`);
    const format = prepared[index]!.file.format;
    // Unchanged bytes: no key changed, and the current text need not be parsed again.
    const keys = step.action === 'unchanged' ? { added: [], changed: [], removed: [] } : format === 'secret' ? diffSecretFile(step.previous, entries) : diffKeyNames(step.previous, entries);
    return { ...draft, action: step.action, keys };
  });
  return { writes, plan };
}

/** `fresh`: read the store again, not what this run already read (the re-read under the lock). */
async function prepareFile(context: CheckContext, file: SecretFileModel, asOf: AsOfRender | undefined, fresh: boolean): Promise<PreparedFile> {
  if (file.example === null || file.exampleRel === null) {
    throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} is an env_file target with no example${file.exampleMissing ? ` (${file.exampleMissing})` : ' beside it'}`, { file: file.targetRel });
  }
  if (asOf !== undefined) {
    const example = await asOf.readExample({ ...file, example: file.example, exampleRel: file.exampleRel });
    const { snapshot, origins } = await asOf.readValues(file, example);
    return { file, example, snapshot, origins };
  }
  const example = await readExampleThrough(context.exampleCache, { ...file, example: file.example, exampleRel: file.exampleRel });
  if (fresh && file.source) releaseOf(context.sources, file.source);
  const snapshot = file.source ? await readValuesOf(context.sources, file.source) : null;
  return { file, example, snapshot };
}

/** Example order first (what a reader of the example expects), then nothing else: extra keys are not rendered. */
function entriesInExampleOrder(example: ExampleModel, values: Map<string, string>): Map<string, string> {
  const entries = new Map<string, string>();
  for (const key of example.keys) {
    const value = values.get(key.name);
    if (value !== undefined && !entries.has(key.name)) entries.set(key.name, value);
  }
  return entries;
}

/** The rendered text must read back, through coffre's own compose-dialect parser, to exactly the source values. */
function verifyReadBack(content: string, entries: Map<string, string>, file: SecretFileModel): void {
  if (file.format === 'secret') {
    if (entries.size !== 1 || content !== [...entries.values()][0]) throw new CoffreError('COFFRE_RENDER_MISMATCH', `rendered ${file.targetRel} would not hold exactly its one value; nothing written`, { file: file.targetRel });
    return;
  }
  const parsed = file.format === 'raw' ? parseRawEnvFile(content, { file: file.targetRel }) : parseEnvFile(content, { file: file.targetRel, lookup: () => undefined });
  const readBack = new Map(parsed.entries.map((e) => [e.key, e.value] as const));
  const same = readBack.size === entries.size && [...entries].every(([key, value]) => readBack.get(key) === value);
  if (!same) {
    const bad = [...entries.keys()].filter((key) => readBack.get(key) !== entries.get(key));
    throw new CoffreError('COFFRE_RENDER_MISMATCH', `rendered ${file.targetRel} would not read back identically (keys: ${bad.join(', ') || 'count differs'}); nothing written`, { file: file.targetRel });
  }
}

/** A secret file's one key: added when the file is new, changed when its content differs (its text is never parsed). */
function diffSecretFile(previous: string | null, next: Map<string, string>): RenderFileResult['keys'] {
  const [key, value] = [...next][0] ?? [];
  if (key === undefined) return { added: [], changed: [], removed: [] };
  if (previous === null) return { added: [key], changed: [], removed: [] };
  return { added: [], changed: previous === value ? [] : [key], removed: [] };
}

/** Key names added/changed/removed versus the current target, compared in memory; values never leave here. */
function diffKeyNames(previous: string | null, next: Map<string, string>): RenderFileResult['keys'] {
  if (previous === null) return { added: [...next.keys()], changed: [], removed: [] };
  let old: Map<string, string>;
  try {
    old = new Map(parseEnvFile(previous, { lookup: () => undefined }).entries.map((e) => [e.key, e.value] as const));
  } catch {
    // An unreadable current target is replaced wholesale: every key counts as changed.
    return { added: [], changed: [...next.keys()], removed: [] };
  }
  return {
    added: [...next.keys()].filter((k) => !old.has(k)),
    changed: [...next.keys()].filter((k) => old.has(k) && old.get(k) !== next.get(k)),
    removed: [...old.keys()].filter((k) => !next.has(k)),
  };
}

/**
 * A target outside the repo (`../../x.env` past the root, an unmapped absolute path) is refused; one that climbs
 * with `..` but stays inside is checked like any other (no symlink on the way, git-ignored) by the preflight.
 */
function refuseOutsideRepo(file: SecretFileModel): void {
  if (file.targetRel.startsWith('/') || file.targetRel === '..' || file.targetRel.startsWith('../')) {
    const absolute = file.targetRel.startsWith('/');
    const hint = absolute ? ' (map its folder into the repo with compose.absoluteTargets in coffre.yaml)' : '';
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `${file.format === 'secret' ? 'secret file' : 'env_file'} ${file.declaredPath} of ${file.service} is ${absolute ? 'an absolute path ' : ''}outside the repo: coffre writes only inside it${hint}`, { file: file.targetRel });
  }
}

/**
 * A service whose compose files discovery could not read in full (bad YAML, an unresolvable `${VAR}` path, a
 * form coffre does not follow) has targets coffre does not know: rendering the rest would look like success.
 */
function refuseServiceErrors(context: CheckContext, service: ServiceModel): void {
  const errors = serviceErrors(context.repo, service.name);
  const [first] = errors;
  if (first === undefined) return;
  const where = (e: { file: string; line?: number }) => `${e.file}${e.line !== undefined ? `:${e.line}` : ''}`;
  const list = errors.map((e) => `${where(e)}: ${e.message}`).join('; ');
  const code: ErrorCode = first.code in ERROR_CODES ? (first.code as ErrorCode) : 'COFFRE_COMPOSE_INVALID';
  // No location: the message names every file:line, and a location would be prefixed to it once more.
  throw new CoffreError(code, `service ${service.name} refused, nothing written: ${list}`);
}

/** A target with no source would be rendered empty (or from nothing): refused, whatever its example says. */
function refuseMissingSource(file: SecretFileModel): void {
  if (file.source === null) {
    throw new CoffreError('COFFRE_INCOMPLETE', `${file.targetRel} has no source (${file.noSourceReason ?? 'no sops file beside it, no Vault configured, or source: null in coffre.yaml'}; a file coffre must leave alone takes skip: true): service ${file.service} refused, nothing written`, { file: file.targetRel });
  }
}
