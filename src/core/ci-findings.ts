// The check report flattened into findings for CI code-scanning formats (SARIF, GitLab Code Quality): one per
// key not ready, per file that has no source or could not be checked, per example warning and per repo problem.
// Pure. A finding holds names, paths, codes and safe messages only, never a value.
import { createHash } from 'node:crypto';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import type { CheckReport, FileResult } from './report.js';

/** How much a finding matters: `error` fails CI, `warning` should be looked at, `note` is informational. */
export type FindingLevel = 'error' | 'warning' | 'note';

export interface CiFinding {
  /** A key status (`missing`, `empty`, `placeholder`, `extra`), `source-missing`, `example-warning`, or an error/problem code. */
  rule: string;
  level: FindingLevel;
  /** Repo-relative posix path the finding is located at (the example for key results). */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** The key the finding is about, when there is one. */
  key?: string;
  service?: string;
  message: string;
  /**
   * Stable identity: sha256 of rule, file and key (plus an occurrence number among findings sharing those),
   * never of a line number or message, so a moved line or a reworded message keeps it.
   */
  fingerprint: string;
}

/** What a rule means: SARIF rule metadata, and the description GitLab shows. */
export interface RuleInfo {
  short: string;
  help: string;
}

const STATUS_RULES: Record<string, RuleInfo> = {
  missing: {
    short: 'A required key of the example is missing from its source',
    help: 'Add the key to the source: `coffre set` or `coffre rotate --generate` (Vault or sops), or `sops edit` the sops file. Mark it `# @optional` in the example if the service can run without it.',
  },
  empty: {
    short: 'A required key is empty in its source',
    help: 'Give the key a value in its source (`coffre set`, `coffre rotate --generate`), or annotate it `# @allow-empty` in the example when empty is a valid value.',
  },
  placeholder: {
    short: 'A required key holds a placeholder value (changeme, <…>, xxx…) in its source',
    help: 'Replace the placeholder with a real value in the source (`coffre rotate --generate` makes one from the example\'s `@generate` spec).',
  },
  extra: {
    short: 'The source holds a key the example does not declare',
    help: 'Declare the key in the example if the service needs it (keys not in the example are never rendered), or remove it from the source.',
  },
  'source-missing': {
    short: 'No source holds this secrets file',
    help: 'Create its sops file beside the target (`coffre import --to sops`), configure a Vault address, or set its source in coffre.yaml.',
  },
  'example-warning': {
    short: 'An example line docker compose reads differently from what its author meant',
    help: 'Rewrite the line (e.g. `KEY=   # comment` gives KEY the comment as its value in compose): see the example syntax in coffre\'s README.',
  },
  EXAMPLE_UNREFERENCED: {
    short: 'A secrets example no env_file entry references',
    help: 'Reference its target in a compose file\'s env_file, or delete the example.',
  },
};

/** Rule metadata for any rule id a finding can carry. */
export function ruleInfo(rule: string): RuleInfo {
  const known = STATUS_RULES[rule];
  if (known) return known;
  if (Object.hasOwn(ERROR_CODES, rule)) {
    const summary = ERROR_CODES[rule as ErrorCode].summary;
    return { short: summary.charAt(0).toUpperCase() + summary.slice(1), help: `Error ${rule}: ${summary}. See the error codes table in coffre's README.` };
  }
  return { short: rule, help: `See ${rule} in coffre's README.` };
}

/** The repo-relative file a file result is located at: its example, else its target. */
function fileOf(file: FileResult): string {
  return file.example ?? file.target;
}

function sourceText(file: FileResult): string {
  if (file.source.kind === null) return 'no source';
  return file.source.kind === 'vault' ? `Vault secret ${file.source.ref}` : `sops file ${file.source.ref}`;
}

/** sha256 hex of the parts joined by NUL. */
export function fingerprintOf(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** Every finding of a report, in report order (problems first, then services, files, keys). */
export function findingsOf(report: CheckReport): CiFinding[] {
  const raw: Array<Omit<CiFinding, 'fingerprint'>> = [];
  const problemKeys = new Set<string>();
  for (const problem of report.problems) {
    problemKeys.add(`${problem.code}\0${problem.file}\0${problem.line ?? ''}\0${problem.message}`);
    raw.push({
      rule: problem.code,
      level: problem.severity === 'error' ? 'error' : 'warning',
      file: problem.file,
      ...(problem.line !== undefined ? { line: problem.line } : {}),
      message: problem.message,
    });
  }
  for (const service of report.services) {
    // Service errors are also repo problems (check lists both); keep one finding each.
    for (const error of service.errors ?? []) {
      if (problemKeys.has(`${error.code}\0${error.file}\0${error.line ?? ''}\0${error.message}`)) continue;
      raw.push({ rule: error.code, level: 'error', file: error.file, ...(error.line !== undefined ? { line: error.line } : {}), service: service.name, message: error.message });
    }
    for (const file of service.files) {
      const where = fileOf(file);
      if (file.status === 'error' && file.error) {
        raw.push({ rule: file.error.code, level: 'error', file: where, service: service.name, message: `${file.target} could not be checked: ${file.error.message}` });
      }
      if (file.status === 'source-missing' && file.keys.length === 0) {
        raw.push({ rule: 'source-missing', level: 'error', file: where, service: service.name, message: `${file.target}: ${file.reason ?? 'no source holds this file'}` });
      }
      for (const key of file.keys) {
        if (key.status === 'ok') continue;
        const level: FindingLevel = key.status === 'extra' || key.optional ? 'note' : 'error';
        const what =
          key.status === 'extra'
            ? `${key.name} is in ${sourceText(file)} but not declared in the example (never rendered)`
            : `${key.name}${key.optional ? ' (optional)' : ''} is ${key.status === 'missing' ? 'missing from' : key.status === 'empty' ? 'empty in' : 'a placeholder in'} ${file.status === 'source-missing' ? `${file.target}'s source (${sourceText(file)} does not exist)` : sourceText(file)}`;
        raw.push({
          rule: key.status,
          level,
          file: where,
          ...(key.line !== null ? { line: key.line } : {}),
          key: key.name,
          service: service.name,
          message: `${what} (target ${file.target})`,
        });
      }
      for (const warning of file.warnings) {
        raw.push({ rule: 'example-warning', level: 'warning', file: where, line: warning.line, service: service.name, message: warning.message });
      }
    }
  }
  const seen = new Map<string, number>();
  return raw.map((finding) => {
    const identity = fingerprintOf([finding.rule, finding.file, finding.key ?? '']);
    const occurrence = seen.get(identity) ?? 0;
    seen.set(identity, occurrence + 1);
    return { ...finding, fingerprint: occurrence === 0 ? identity : fingerprintOf([finding.rule, finding.file, finding.key ?? '', String(occurrence)]) };
  });
}
