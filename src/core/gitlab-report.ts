// `coffre check --format gitlab`: the check report as a GitLab Code Quality report (a JSON array of
// {description, check_name, fingerprint, severity, location: {path, lines: {begin}}}), shown in merge requests.
// Pure. Fingerprints hash rule, path and key name only (see ci-findings.ts): a moved line keeps its finding.
import { fingerprintOf, findingsOf, type FindingLevel } from './ci-findings.js';
import type { CheckReport } from './report.js';

/** GitLab's severities: info, minor, major, critical, blocker. */
export type GitlabSeverity = 'info' | 'minor' | 'major' | 'critical' | 'blocker';

export interface GitlabIssue {
  description: string;
  check_name: string;
  fingerprint: string;
  severity: GitlabSeverity;
  location: { path: string; lines: { begin: number } };
}

export interface GitlabOptions {
  /** As SarifOptions.rootPrefix: the coffre repo root's path inside the git work tree ("" or `dir/`). */
  rootPrefix?: string;
}

const SEVERITY: Record<FindingLevel, GitlabSeverity> = { error: 'major', warning: 'minor', note: 'info' };

/** The issues of a check report, one per finding. */
export function gitlabIssuesOf(report: CheckReport, options: GitlabOptions = {}): GitlabIssue[] {
  const prefix = options.rootPrefix ?? '';
  return findingsOf(report).map((finding) => ({
    description: `${finding.rule}: ${finding.message}`,
    check_name: finding.rule,
    // The prefix goes into the hash too, so two coffre repos in one git repository never share a fingerprint.
    fingerprint: prefix === '' ? finding.fingerprint : fingerprintOf([prefix, finding.fingerprint]),
    severity: SEVERITY[finding.level],
    location: { path: `${prefix}${finding.file}`, lines: { begin: finding.line ?? 1 } },
  }));
}

export function formatGitlab(report: CheckReport, options: GitlabOptions = {}): string {
  return `${JSON.stringify(gitlabIssuesOf(report, options), null, 2)}\n`;
}

/** A run that could not happen, as one blocker issue (an empty report would look like a clean one). */
export function formatGitlabError(code: string, message: string, options: GitlabOptions & { file?: string; line?: number } = {}): string {
  const prefix = options.rootPrefix ?? '';
  const file = options.file !== undefined && !options.file.startsWith('/') && !options.file.startsWith('../') ? options.file : 'coffre.yaml';
  const issue: GitlabIssue = {
    description: `coffre check could not run: ${code}: ${message}`,
    check_name: code,
    fingerprint: fingerprintOf(['coffre-fatal', code]),
    severity: 'blocker',
    location: { path: `${prefix}${file}`, lines: { begin: options.line ?? 1 } },
  };
  return `${JSON.stringify([issue], null, 2)}\n`;
}
