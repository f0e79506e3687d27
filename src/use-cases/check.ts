// `check`: for every secrets file of the selected services, diff the example's keys against the source.
// Composes repo discovery, example parsing, sources and the core diff; never sees more than it needs
// (key names only with keysOnly) and never puts a value into the report.
import pLimit from 'p-limit';
import { diffCompleteness, fileStatusOf } from '../core/completeness.js';
import { summarize, type CheckReport, type FileResult, type RepoFinding, type ServiceError, type ServiceResult } from '../core/report.js';
import { CoffreError, ERROR_CODES, formatErrorMessage, isCoffreError, type ErrorCode } from '../errors.js';
import type { RepoModel, SecretFileModel, ServiceModel } from '../repo/discover.js';
import { readExampleOf } from '../repo/read-example.js';
import { trackProgress, type ProgressListener } from './progress.js';
import { listKeysOf, readValuesOf, sourceLabel, type SourceSet } from './source-set.js';

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
  const services: ServiceResult[] = await Promise.all(
    selected.map(async (service) => {
      progress.started(service.name);
      const files = await Promise.all(service.secretFiles.map((file) => limit(() => checkFile(context, file, keysOnly))));
      progress.finished(service.name);
      const errors = serviceErrors(context.repo, service.name);
      return { name: service.name, files, ...(errors.length > 0 ? { errors } : {}) };
    }),
  );
  const selectedNames = new Set(selected.map((s) => s.name));
  const problems: RepoFinding[] = context.repo.problems
    .filter((p) => p.service === undefined || selectedNames.has(p.service))
    // A missing example is reported on its file already; listing it twice would only add noise.
    .filter((p) => p.code !== 'COFFRE_EXAMPLE_MISSING')
    .map((p) => ({ severity: p.severity, code: p.code, file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), message: p.message }));
  const summary = summarize(services);
  return {
    version: 1,
    complete: services.every((s) => s.files.every((f) => f.status === 'complete')) && problems.every((p) => p.severity !== 'error'),
    keysOnly,
    services,
    problems,
    summary,
  };
}

async function checkFile({ repo, sources }: CheckContext, file: SecretFileModel, keysOnly: boolean): Promise<FileResult> {
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
      throw new CoffreError('COFFRE_EXAMPLE_MISSING', `${file.targetRel} is an env_file target with no example beside it (add ${file.targetRel}.example)`, { file: file.targetRel });
    }
    // The example and the source are independent reads: one waits on the disk, the other on Vault or age.
    const source = file.source;
    const [example, stored] = await Promise.all([
      readExampleOf({ ...file, example: file.example, exampleRel: file.exampleRel }),
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
    return { ...base, status: fileStatusOf(keys), keys, ...(stored.version !== undefined ? { version: stored.version } : {}) };
  } catch (error) {
    return { ...base, error: describeError(error) };
  }
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
