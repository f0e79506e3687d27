// Text rendering of a render result (plan or outcome). Pure; key NAMES only, never a value.
import type { KeyResult } from './report.js';

/** The plain-data shape this module formats (produced by use-cases/render.ts). */
/** Where one key's value comes from under `render --as-of` (never the value). */
export type ValueOriginView =
  | { key: string; from: 'current'; version?: number }
  | { key: string; from: 'vault-version'; version: number; date: string }
  | { key: string; from: 'sops-commit'; commit: string; date: string };

export interface RenderReportView {
  dryRun: boolean;
  asOf?: { commit: string; committedAt: string; values: 'current' | 'at-commit-date' };
  services: Array<{
    service: string;
    status: 'written' | 'unchanged' | 'planned' | 'refused' | 'error';
    forced: boolean;
    files: Array<{ target: string; action: 'create' | 'update' | 'unchanged'; mode: string; keys: { added: string[]; changed: string[]; removed: string[] }; extraKeys: string[]; valueSources?: ValueOriginView[] }>;
    problems: Array<{ target: string; key: KeyResult }>;
    error?: { code: string; message: string };
  }>;
}

/** Options of {@link formatRenderText}. */
export interface RenderTextOptions {
  /** Only refused and failed services, then the summary line. */
  quiet?: boolean;
}

/**
 * Every service's outcome; when several services ran (or `quiet`), refusals and failures repeated at the end
 * (so a long run does not bury them) and a summary line.
 */
export function formatRenderText(report: RenderReportView, options: RenderTextOptions = {}): string {
  const lines: string[] = [];
  const failed = (s: RenderReportView['services'][number]): boolean => s.status === 'refused' || s.status === 'error';
  if (report.asOf) {
    const values = report.asOf.values === 'current' ? 'current values (the newest that existed for keys gone since)' : `values as of ${report.asOf.committedAt}`;
    lines.push(`configuration as of commit ${report.asOf.commit} (${report.asOf.committedAt}), ${values}`);
  }
  for (const service of report.services) {
    if (options.quiet && !failed(service) && !service.forced) continue;
    lines.push(`${service.service}: ${describeStatus(service.status, report.dryRun)}${service.forced ? ' (FORCED: incomplete values rendered)' : ''}`);
    if (service.error) lines.push(`  ${service.error.code} ${service.error.message}`);
    for (const problem of service.problems) {
      lines.push(`  ${problem.key.status.padEnd(11)} ${problem.key.name}  ${problem.target}${problem.key.line !== null ? ` (example line ${problem.key.line})` : ''}`);
    }
    for (const file of service.files) {
      const verb = report.dryRun ? file.action : pastTense(file.action);
      lines.push(`  ${verb.padEnd(9)} ${file.target} (mode ${file.mode})`);
      for (const name of file.keys.added) lines.push(`      + ${name}`);
      for (const name of file.keys.changed) lines.push(`      ~ ${name}`);
      for (const name of file.keys.removed) lines.push(`      - ${name}`);
      for (const origin of file.valueSources ?? []) lines.push(`      = ${origin.key} from ${describeOrigin(origin)}`);
      if (file.extraKeys.length > 0) lines.push(`      warning: store keys not in the example, not rendered: ${file.extraKeys.join(', ')}`);
    }
  }
  if (report.services.length > 1 || options.quiet) {
    const failures = report.services.filter(failed);
    if (failures.length > 0 && !options.quiet && report.services.length > failures.length) {
      lines.push('', `not rendered (${failures.length}):`);
      for (const s of failures) lines.push(`  ${s.service}: ${s.status === 'refused' ? 'refused' : 'failed'}${s.error ? ` (${s.error.code})` : ''}`);
    }
    if (lines.length > 0) lines.push('');
    lines.push(renderSummary(report));
  }
  return `${lines.join('\n')}\n`;
}

/** `12 services: 9 rendered, 1 unchanged, 1 refused, 1 failed` (a dry run: `planned` instead of rendered). */
export function renderSummary(report: RenderReportView): string {
  const count = (status: RenderReportView['services'][number]['status']): number => report.services.filter((s) => s.status === status).length;
  const n = report.services.length;
  const done = report.dryRun ? `${count('planned')} planned` : `${count('written')} rendered`;
  return `${n} service${n === 1 ? '' : 's'}: ${done}, ${count('unchanged')} unchanged, ${count('refused')} refused, ${count('error')} failed${report.dryRun ? ' (dry run)' : ''}`;
}

function describeOrigin(origin: ValueOriginView): string {
  if (origin.from === 'current') return origin.version !== undefined ? `the current value (version ${origin.version})` : 'the current value';
  if (origin.from === 'vault-version') return `version ${origin.version} of ${origin.date}`;
  return `commit ${origin.commit.slice(0, 12)} of ${origin.date}`;
}

function pastTense(action: 'create' | 'update' | 'unchanged'): string {
  return action === 'create' ? 'created' : action === 'update' ? 'updated' : 'unchanged';
}

function describeStatus(status: RenderReportView['services'][number]['status'], dryRun: boolean): string {
  switch (status) {
    case 'written':
      return 'rendered';
    case 'unchanged':
      return 'unchanged (no file touched)';
    case 'planned':
      return dryRun ? 'plan (dry run, nothing written)' : 'planned';
    case 'refused':
      return 'REFUSED, nothing written';
    case 'error':
      return 'FAILED, nothing written';
  }
}
