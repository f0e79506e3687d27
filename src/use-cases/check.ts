// `check`: for every secrets file of the selected services, diff the example's keys against the source.
// Composes repo discovery, example parsing, sources and the core diff; never sees more than it needs
// (key names only with keysOnly) and never puts a value into the report.
import pLimit from 'p-limit';
import { diffCompleteness, fileStatusOf } from '../core/completeness.js';
import { summarize, type CheckReport, type FileResult, type RepoFinding, type ServiceError, type ServiceResult } from '../core/report.js';
import path from 'node:path';
import { CoffreError, ERROR_CODES, formatErrorMessage, isCoffreError, type ErrorCode } from '../errors.js';
import { sourcesGitWillNotCommit, trackedFiles, type GitVerdictCache } from '../render/index.js';
import type { CoffreConfig } from '../repo/config.js';
import { toPosixRelative, type RepoModel, type SecretFileModel, type ServiceModel } from '../repo/discover.js';
import { vaultPathFor } from '../repo/secret-naming.js';
import { compileGlob } from '../repo/lazy-picomatch.js';
import type { ExampleCache } from '../repo/example-cache.js';
import { readExampleOf, type ExampleOfFile } from '../repo/read-example.js';
import { trackProgress, type ProgressListener } from './progress.js';
import { listKeysOf, readValuesOf, releaseAfterLastUse, sourceLabel, type SourceSet } from './source-set.js';

export interface CheckOptions {
  /** Service names to check; all when empty or absent. */
  services?: string[];
  /** Read key names only (Vault `subkeys`, sops clear-text names): no value leaves the store. */
  keysOnly?: boolean;
  /** How many secrets files are checked at once (sources bound their own concurrency too). */
  concurrency?: number;
  /** Told as services start and finish (the CLI's progress line). */
  onProgress?: ProgressListener;
}

export interface CheckContext {
  repo: RepoModel;
  sources: SourceSet;
  /**
   * The coffre.yaml in force (a Workspace has it): enables the checks that need it (empty Vault prefix, sops
   * sources git will not commit, tracked targets without example) and `warnings.ignore`. Without it, none run.
   */
  config?: CoffreConfig;
  configFile?: string | null;
  /** A long-running process's cache of git's answer for render targets (coffre serve); asked afresh without it. */
  gitVerdicts?: GitVerdictCache;
  /** A long-running process's parsed examples (coffre serve); read and parsed afresh without it. */
  exampleCache?: ExampleCache;
}

/** Picks the services named in `names` (all when empty); an unknown name is a usage error. */
export function selectServices(repo: RepoModel, names: string[] | undefined): ServiceModel[] {
  if (!names || names.length === 0) return repo.services;
  return names.map((name) => {
    const service = repo.services.find((s) => s.name === name);
    if (!service) {
      const known = repo.services.map((s) => s.name).join(', ') || 'none';
      throw new CoffreError('COFFRE_SERVICE_UNKNOWN', `no service "${name}" in ${repo.root} (services: ${known})`);
    }
    return service;
  });
}

export async function runCheck(context: CheckContext, options: CheckOptions = {}): Promise<CheckReport> {
  const selected = selectServices(context.repo, options.services);
  // Wide on purpose: each source bounds its own concurrency (Vault: 8 requests), and a file waiting on
  // Vault must not hold a slot a sops file could use to decrypt meanwhile.
  const limit = pLimit(options.concurrency ?? 64);
  const keysOnly = options.keysOnly ?? false;
  const progress = trackProgress(selected.length, options.onProgress);
  const tracked = context.config ? await trackedTargetsWithoutExample(context.repo.root, selected) : new Set<string>();
  const done = releaseAfterLastUse(context.sources, selected.flatMap((service) => service.secretFiles.map((file) => file.source)));
  const services: ServiceResult[] = await Promise.all(
    selected.map(async (service) => {
      progress.started(service.name);
      const files = await Promise.all(
        service.secretFiles.map((file) =>
          limit(async () => {
            try {
              return await checkFile(context, file, keysOnly, tracked.has(file.targetRel));
            } finally {
              done(file.source);
            }
          }),
        ),
      );
      progress.finished(service.name);
      const errors = serviceErrors(context.repo, service.name);
      return { name: service.name, files, ...(errors.length > 0 ? { errors } : {}) };
    }),
  );
  const selectedNames = new Set(selected.map((s) => s.name));
  const found: RepoFinding[] = context.repo.problems
    .filter((p) => p.service === undefined || selectedNames.has(p.service))
    // A missing example is reported on its file already; listing it twice would only add noise.
    .filter((p) => p.code !== 'COFFRE_EXAMPLE_MISSING')
    .map((p) => ({ severity: p.severity, code: p.code, file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), message: p.message }));
  if (context.config) found.push(...emptyVaultPrefixWarnings(context, selected), ...(await ignoredSopsSourceWarnings(context.repo.root, selected, context.gitVerdicts)));
  const { kept: problems, silenced } = silenceWarnings(found, context.config?.warnings.ignore ?? []);
  const summary = summarize(services);
  if (silenced > 0) summary.warningsSilenced = silenced;
  return {
    version: 1,
    complete: services.every((s) => s.files.every((f) => f.status === 'complete')) && problems.every((p) => p.severity !== 'error'),
    keysOnly,
    services,
    problems,
    summary,
  };
}

async function checkFile({ repo, sources, exampleCache }: CheckContext, file: SecretFileModel, keysOnly: boolean, tracked: boolean): Promise<FileResult> {
  const base: FileResult = {
    example: file.exampleRel,
    target: file.targetRel,
    source: sourceLabel(repo.root, file.source),
    status: 'error',
    keys: [],
    warnings: [],
  };
  try {
    if (file.example === null || file.exampleRel === null) {
      const why = file.exampleMissing ?? `add ${file.targetRel}.example`;
      // A committed env file without example is most likely plain settings, not secrets: say how to skip it.
      const skip = tracked ? `; git tracks ${file.targetRel}: if it holds no secret, mark it skipped in coffre.yaml: files: { "${file.targetRel}": { skip: true } }` : '';
      throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} is an env_file target with no example (${why})${skip}`, { file: file.targetRel });
    }
    // The example and the source are independent reads: one waits on the disk, the other on Vault or age.
    const source = file.source;
    const [example, stored] = await Promise.all([
      readExampleThrough(exampleCache, { ...file, example: file.example, exampleRel: file.exampleRel }),
      source === null ? Promise.resolve(null) : keysOnly ? listKeysOf(sources, source) : readValuesOf(sources, source),
    ]);
    base.warnings = example.warnings.map((w) => ({ line: w.line, message: w.message }));
    if (source === null) {
      return { ...base, status: 'source-missing', keys: [], reason: file.noSourceReason ?? 'no source holds this file' };
    }
    if (stored === null) {
      return { ...base, status: 'source-missing', keys: example.keys.filter((k) => !k.commentedOut).map((k) => ({ name: k.name, status: 'missing' as const, line: k.line, optional: k.optional })) };
    }
    const keys = diffCompleteness(example, stored).map((k) => ({ name: k.name, status: k.status, line: k.line, optional: k.optional }));
    // Vault's subkeys endpoint gives names, not emptiness: "complete" then only means "every key is there".
    const hidden = !('values' in stored) && example.keys.some((k) => stored.keys.get(k.name) === 'unknown');
    const note = hidden ? 'key names only: whether a value is empty is not visible without reading the values (run check without --keys-only)' : undefined;
    return { ...base, status: fileStatusOf(keys), keys, ...(stored.version !== undefined ? { version: stored.version } : {}), ...(note ? { note } : {}) };
  } catch (error) {
    return { ...base, error: describeError(error) };
  }
}

/** The example of a working-tree secrets file, through the caller's cache when it gave one. */
export function readExampleThrough(cache: ExampleCache | undefined, file: ExampleOfFile): ReturnType<typeof readExampleOf> {
  return cache ? cache.read(file) : readExampleOf(file);
}

/**
 * The errors discovery found in a service's compose files (unreadable, bad env_file, unresolvable `${VAR}`,
 * a form coffre does not follow): its secrets files cannot all be known, so check counts them as errors and
 * render refuses the service. A missing example is left out: it is reported on its file.
 */
export function serviceErrors(repo: RepoModel, service: string): ServiceError[] {
  return repo.problems
    .filter((p) => p.service === service && p.severity === 'error' && p.code !== 'COFFRE_EXAMPLE_MISSING')
    .map((p) => ({ code: p.code, file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), message: p.message }));
}

/** A safe code + message for the report: CoffreError messages never hold values; others are masked. */
export function describeError(error: unknown): { code: ErrorCode; message: string } {
  if (isCoffreError(error)) return { code: error.code, message: formatErrorMessage(error) };
  return { code: 'COFFRE_INTERNAL', message: 'internal error (details in the log)' };
}

/**
 * The process exit code of a report: 3 when a source could not be read, 2 for usage/config/example errors,
 * 1 when anything is incomplete or has no source, 0 when complete.
 */
export function exitCodeOfReport(report: CheckReport): number {
  let code = 0;
  for (const problem of report.problems) {
    if (problem.severity === 'error') code = Math.max(code, 2);
  }
  for (const service of report.services) {
    for (const file of service.files) {
      if (file.status === 'incomplete' || file.status === 'source-missing') code = Math.max(code, 1);
      if (file.status === 'error' && file.error) {
        const known = ERROR_CODES[file.error.code as ErrorCode];
        code = Math.max(code, known ? known.exit : 3);
      }
    }
  }
  return code;
}

/**
 * VAULT_PREFIX_EMPTY: a Vault path derived from the `{prefix}` template with an empty `vault.prefix` is
 * `<service>/<name>`, which every repo on the same server derives alike. One warning per run, on coffre.yaml.
 */
function emptyVaultPrefixWarnings(context: CheckContext, services: ServiceModel[]): RepoFinding[] {
  const vault = context.config!.vault;
  if (vault.prefix !== '' || !vault.path.includes('{prefix}')) return [];
  const derived = services.flatMap((service) =>
    service.secretFiles.filter((f) => f.source?.kind === 'vault' && f.source.mount === vault.mount && f.source.path === vaultPathFor(vault.path, { prefix: '', service: service.name, name: f.name })),
  );
  if (derived.length === 0) return [];
  const file = context.configFile ? toPosixRelative(context.repo.root, path.resolve(context.repo.root, context.configFile)) : 'coffre.yaml';
  const first = derived[0]!.source as { mount: string; path: string };
  return [
    {
      severity: 'warning',
      code: 'VAULT_PREFIX_EMPTY',
      file,
      message: `vault.prefix is empty: ${derived.length} secrets file${derived.length === 1 ? ' uses' : 's use'} Vault paths like ${first.mount}/${first.path}, which another repo on the same server would share; set a per-repo vault.prefix in coffre.yaml (e.g. "prefix: ${path.basename(context.repo.root)}") and move the secrets`,
    },
  ];
}

/** SOPS_SOURCE_IGNORED: sops files (inside the repo) that git neither tracks nor would add. */
async function ignoredSopsSourceWarnings(root: string, services: ServiceModel[], gitVerdicts: GitVerdictCache | undefined): Promise<RepoFinding[]> {
  const rels = [...new Set(services.flatMap((s) => s.secretFiles).flatMap((f) => (f.source?.kind === 'sops' ? [toPosixRelative(root, f.source.file)] : [])))].filter((rel) => !rel.startsWith('..'));
  const ignored = gitVerdicts ? await gitVerdicts.ignoredSources(root, rels) : await sourcesGitWillNotCommit(root, rels);
  return ignored.map((entry) => ({
    severity: 'warning' as const,
    code: 'SOPS_SOURCE_IGNORED',
    file: entry.rel,
    message:
      `${entry.rel} is a sops source git will never commit: ${entry.source}:${entry.line} ("${entry.pattern}") ignores it, so a deploy host ` +
      (entry.folderIgnored
        ? `would have no source. git cannot re-include a file below an ignored folder: replace "${entry.pattern}" by "${entry.pattern}*" in ${entry.source}, then add "!*.sops.*" (or "${entry.negation}") after it`
        : `would have no source: add "!*.sops.*" (or "${entry.negation}") at the end of ${entry.source}`),
  }));
}

/** Targets without example that git tracks (to suggest `skip`), relative to the root; empty outside git. */
async function trackedTargetsWithoutExample(root: string, services: ServiceModel[]): Promise<Set<string>> {
  const rels = services.flatMap((s) => s.secretFiles).filter((f) => f.example === null && !f.targetRel.startsWith('..')).map((f) => f.targetRel);
  return trackedFiles(root, rels);
}

/** Splits out the warnings a `warnings.ignore` entry matches (code and/or glob of the file named); errors are never silenced. */
export function silenceWarnings(problems: RepoFinding[], rules: ReadonlyArray<{ code?: string | undefined; path?: string | undefined }>): { kept: RepoFinding[]; silenced: number } {
  if (rules.length === 0) return { kept: problems, silenced: 0 };
  const matchers = rules.map((rule) => ({ code: rule.code, path: rule.path === undefined ? null : compileGlob(rule.path) }));
  const kept = problems.filter((p) => p.severity !== 'warning' || !matchers.some((m) => (m.code === undefined || m.code === p.code) && (m.path === null || m.path(p.file))));
  return { kept, silenced: problems.length - kept.length };
}
