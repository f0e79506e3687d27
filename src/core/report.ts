// The completeness report (JSON schema version 1) and its three renderings: text, json, junit.
// Pure: takes plain data, returns strings. A report holds key NAMES and statuses only, never a value.

/** Status of one key of an example against its source. */
export type KeyStatus = 'ok' | 'missing' | 'empty' | 'placeholder' | 'extra';

/** Status of one secrets file. */
export type FileStatus = 'complete' | 'incomplete' | 'source-missing' | 'error';

export interface KeyResult {
  name: string;
  status: KeyStatus;
  /** 1-based line of the key in the example; null for `extra` keys. */
  line: number | null;
  /** The example marks the key optional (`@optional` or commented out): it never makes a file incomplete. */
  optional: boolean;
}

export interface FileResult {
  /** Example path relative to the repo root (null when the target has none). */
  example: string | null;
  /** Target (the env_file compose reads) relative to the repo root. */
  target: string;
  source: { kind: 'vault' | 'sops' | null; ref: string | null };
  status: FileStatus;
  keys: KeyResult[];
  /** Example lines compose would read differently from what the author meant. */
  warnings: Array<{ line: number; message: string }>;
  /** Present when status is `error`: why the check could not run. */
  error?: { code: string; message: string };
  /** Store version the keys were read from (Vault KV v2). */
  version?: number;
  /**
   * Present when status is `source-missing` because the file has no source at all (no sops file and no Vault
   * address, or `source: null`): why, instead of a `missing` entry for every key (`keys` is then empty).
   */
  reason?: string;
  /**
   * What the status cannot tell: with key names only from Vault, "complete" means every key is present, not that
   * no value is empty (emptiness is not visible without reading values). Absent when there is nothing to add.
   */
  note?: string;
}

export interface ServiceResult {
  name: string;
  files: FileResult[];
  /**
   * Why the service's secrets files could not all be known (its compose file is unreadable, an env_file path
   * cannot be resolved…): each counts as an error in the summary. Absent when there is none.
   */
  errors?: ServiceError[];
}

/** A service-level error: the compose file (or other repo file) and line it concerns. */
export interface ServiceError {
  code: string;
  file: string;
  line?: number;
  message: string;
}

/** Repo-level findings: an env_file without example, an unreferenced example, a bad compose file. */
export interface RepoFinding {
  severity: 'error' | 'warning';
  code: string;
  file: string;
  line?: number;
  message: string;
}

/** `coffre check --format json` output, version 1. Field names are a public contract: extend, never rename. */
export interface CheckReport {
  version: 1;
  complete: boolean;
  keysOnly: boolean;
  services: ServiceResult[];
  problems: RepoFinding[];
  summary: ReportSummary;
}

export interface ReportSummary {
  services: number;
  files: number;
  complete: number;
  incomplete: number;
  sourceMissing: number;
  errors: number;
  /** Warnings coffre.yaml `warnings.ignore` left out of `problems`; present only when some were. */
  warningsSilenced?: number;
}

/** Counts files per status; `errors` also counts service-level errors (a compose file that cannot be read). */
export function summarize(services: ServiceResult[]): ReportSummary {
  const files = services.flatMap((s) => s.files);
  const count = (status: FileStatus) => files.filter((f) => f.status === status).length;
  return {
    services: services.length,
    files: files.length,
    complete: count('complete'),
    incomplete: count('incomplete'),
    sourceMissing: count('source-missing'),
    errors: count('error') + services.reduce((n, s) => n + (s.errors?.length ?? 0), 0),
  };
}

function whereOf(error: ServiceError): string {
  return `${error.file}${error.line !== undefined ? `:${error.line}` : ''}`;
}

export function formatJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const ANSI = { red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', dim: '\u001b[2m', bold: '\u001b[1m', reset: '\u001b[0m' };

export interface TextFormatOptions {
  /** Use ANSI colours (the CLI enables it only on a TTY without NO_COLOR). */
  color: boolean;
  /** Only what needs attention (files not complete, warnings) and the summary line. */
  quiet?: boolean;
}

/** Human report grouped by service, problems first, then a summary line. */
export function formatText(report: CheckReport, options: TextFormatOptions): string {
  const paint = (code: keyof typeof ANSI, text: string) => (options.color ? `${ANSI[code]}${text}${ANSI.reset}` : text);
  const lines: string[] = [];
  // Service-level errors are shown under their service; listing them here too would only repeat them.
  const shownUnderService = new Set(report.services.flatMap((s) => (s.errors ?? []).map((e) => `${e.code}\0${whereOf(e)}\0${e.message}`)));
  for (const problem of report.problems) {
    if (problem.severity === 'error' && shownUnderService.has(`${problem.code}\0${problem.file}${problem.line !== undefined ? `:${problem.line}` : ''}\0${problem.message}`)) continue;
    const where = `${problem.file}${problem.line !== undefined ? `:${problem.line}` : ''}`;
    const tag = problem.severity === 'error' ? paint('red', 'error') : paint('yellow', 'warning');
    lines.push(`${tag} ${where}: ${problem.message}`);
  }
  if (report.problems.length > 0) lines.push('');
  for (const service of report.services) {
    const files = options.quiet ? service.files.filter((f) => f.status !== 'complete' || f.warnings.length > 0) : service.files;
    if (options.quiet && files.length === 0 && (service.errors ?? []).length === 0) continue;
    lines.push(paint('bold', service.name));
    for (const error of service.errors ?? []) {
      lines.push(`  ${paint('red', '✗')} ${whereOf(error)}  ${paint('red', 'error')}`);
      lines.push(`      ${paint('red', error.code)} ${error.message}`);
    }
    if (service.files.length === 0 && (service.errors ?? []).length === 0) lines.push(paint('dim', '  (no env_file secrets)'));
    for (const file of files) {
      const mark = file.status === 'complete' ? paint('green', '✓') : paint('red', '✗');
      const source = file.source.kind ? `${file.source.kind}: ${file.source.ref}` : 'no source';
      const word = file.note !== undefined && file.status === 'complete' ? paint('green', 'keys present') : statusWord(file.status, paint);
      lines.push(`  ${mark} ${file.target}  ${word}  ${paint('dim', `(${source})`)}`);
      if (file.error) lines.push(`      ${paint('red', file.error.code)} ${file.error.message}`);
      if (file.reason) lines.push(`      ${file.reason}`);
      if (file.note) lines.push(`      ${paint('dim', `note: ${file.note}`)}`);
      for (const key of file.keys) {
        if (key.status === 'ok') continue;
        const where = key.line !== null && file.example ? `${file.example}:${key.line}` : file.example === null ? '' : 'not in the example';
        const label = key.status.padEnd(11);
        const coloured = key.status === 'extra' || key.optional ? paint('yellow', label) : paint('red', label);
        lines.push(`      ${coloured} ${key.name}${key.optional ? ' (optional)' : ''}  ${paint('dim', where)}`.trimEnd());
      }
      for (const warning of file.warnings) {
        lines.push(`      ${paint('yellow', 'warning')}    ${file.example}:${warning.line}: ${warning.message}`);
      }
    }
  }
  const s = report.summary;
  if (lines.length > 0) lines.push('');
  lines.push(
    `${s.services} service${s.services === 1 ? '' : 's'}, ${s.files} secrets file${s.files === 1 ? '' : 's'}: ` +
      `${s.complete} complete, ${s.incomplete} incomplete, ${s.sourceMissing} source-missing, ${s.errors} error${s.errors === 1 ? '' : 's'}` +
      (report.keysOnly ? ' (key names only)' : '') +
      (s.warningsSilenced ? `; ${s.warningsSilenced} warning${s.warningsSilenced === 1 ? '' : 's'} silenced by coffre.yaml` : ''),
  );
  const unseen = report.services.reduce((n, service) => n + service.files.filter((f) => f.note !== undefined).length, 0);
  if (unseen > 0) lines.push(`${unseen} file${unseen === 1 ? '' : 's'}: key names only, emptiness of values not checked`);
  return `${lines.join('\n')}\n`;
}

function statusWord(status: FileStatus, paint: (code: keyof typeof ANSI, text: string) => string): string {
  return status === 'complete' ? paint('green', status) : paint('red', status);
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** JUnit XML: one testsuite per service, one testcase per secrets file; failures name every bad key with file:line. */
export function formatJunit(report: CheckReport): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = report.summary;
  const serviceErrors = report.services.reduce((n, service) => n + (service.errors?.length ?? 0), 0);
  out.push(`<testsuites name="coffre check" tests="${s.files + serviceErrors}" failures="${s.incomplete + s.sourceMissing}" errors="${s.errors}">`);
  for (const service of report.services) {
    const failures = service.files.filter((f) => f.status === 'incomplete' || f.status === 'source-missing').length;
    const ownErrors = service.errors ?? [];
    const errors = service.files.filter((f) => f.status === 'error').length + ownErrors.length;
    out.push(`  <testsuite name="${xmlEscape(service.name)}" tests="${service.files.length + ownErrors.length}" failures="${failures}" errors="${errors}">`);
    // One errored testcase per service-level error, named after the file and line it concerns.
    for (const error of ownErrors) {
      out.push(`    <testcase classname="${xmlEscape(service.name)}" name="${xmlEscape(whereOf(error))}">`);
      out.push(`      <error type="${xmlEscape(error.code)}" message="${xmlEscape(error.message)}"/>`);
      out.push('    </testcase>');
    }
    for (const file of service.files) {
      out.push(`    <testcase classname="${xmlEscape(service.name)}" name="${xmlEscape(file.target)}">`);
      if (file.status === 'error' && file.error) {
        out.push(`      <error type="${xmlEscape(file.error.code)}" message="${xmlEscape(file.error.message)}"/>`);
      } else if (file.status === 'source-missing') {
        out.push(`      <failure type="source-missing" message="${xmlEscape(file.reason ? `${file.target}: ${file.reason}` : `no source holds ${file.target}`)}"/>`);
      } else if (file.status === 'incomplete') {
        const bad = file.keys.filter((k) => k.status !== 'ok' && k.status !== 'extra' && !k.optional);
        const detail = bad.map((k) => `${k.status} ${k.name} (${file.example}:${k.line})`).join('\n');
        out.push(`      <failure type="incomplete" message="${xmlEscape(`${bad.length} key(s) not ready: ${bad.map((k) => k.name).join(', ')}`)}">${xmlEscape(detail)}</failure>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
