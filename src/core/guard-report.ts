// The `coffre guard` report (JSON schema version 1) and its text form. Pure. Findings name files, lines, key
// names and codes; never a value, never the content of a line.

/** Why guard refuses a commit or a tree (the README lists each). */
export type GuardFindingCode =
  | 'GUARD_RENDERED_TARGET'
  | 'GUARD_SOPS_NO_METADATA'
  | 'GUARD_SOPS_PLAINTEXT'
  | 'GUARD_TARGET_NOT_IGNORED'
  | 'GUARD_VALUE_LEAK'
  | 'GUARD_TARGETS_UNKNOWN';

/** One line per code: what it means (README table, `coffre help guard`). */
export const GUARD_FINDING_CODES: Record<GuardFindingCode, string> = {
  GUARD_RENDERED_TARGET: 'a rendered secrets file (an env_file target of a service) is staged or tracked',
  GUARD_SOPS_NO_METADATA: 'a file named like a sops file (`*.sops.yaml|yml|json|env|ini`, `*.sops`, also with a backup suffix) has no sops metadata: a decrypted copy, or never encrypted',
  GUARD_SOPS_PLAINTEXT: 'a sops file holds clear-text values its encryption rules say must be encrypted (key names and lines given)',
  GUARD_TARGET_NOT_IGNORED: 'an env_file target is not ignored by a committed .gitignore any more: a render would write a file git could commit',
  GUARD_VALUE_LEAK: 'with --with-store: a line holds a current store value (8+ characters) of a key, named with file:line (never the value)',
  GUARD_TARGETS_UNKNOWN: 'a compose file could not be read in full, so some env_file targets are unknown and cannot be guarded',
};

export interface GuardFinding {
  code: GuardFindingCode;
  /** Repo-relative posix path. */
  file: string;
  line?: number;
  /** The key concerned (`GUARD_SOPS_PLAINTEXT`: its path in the file; `GUARD_VALUE_LEAK`: the store key). */
  key?: string;
  message: string;
}

/** What guard looked at: the index (`--staged`), the tracked files, or every file `git add -A` would stage. */
export type GuardScope = 'staged' | 'tracked' | 'tree';

/** `coffre guard --format json` output, version 1. */
export interface GuardReport {
  version: 1;
  scope: GuardScope;
  /** True when nothing was found. */
  clean: boolean;
  /** Whether current store values were compared (`--with-store`). */
  withStore: boolean;
  files: number;
  findings: GuardFinding[];
}

export function formatGuardJson(report: GuardReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const SCOPE_WORDS: Record<GuardScope, string> = { staged: 'staged files', tracked: 'tracked files', tree: 'tracked and addable files' };

/** One line per finding (`CODE file:line  message`), then a verdict line. */
export function formatGuardText(report: GuardReport): string {
  const lines = report.findings.map((f) => `${f.code} ${f.file}${f.line !== undefined ? `:${f.line}` : ''}  ${f.message}`);
  if (lines.length > 0) lines.push('');
  const checked = `${report.files} ${SCOPE_WORDS[report.scope]}${report.withStore ? ', compared with the store' : ''}`;
  lines.push(report.clean ? `coffre guard: clean (${checked})` : `coffre guard: refused, ${report.findings.length} finding${report.findings.length === 1 ? '' : 's'} (${checked})`);
  return `${lines.join('\n')}\n`;
}
