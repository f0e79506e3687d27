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

export function formatRenderText(report: RenderReportView): string {
  const lines: string[] = [];
  if (report.asOf) {
    const values = report.asOf.values === 'current' ? 'current values (the newest that existed for keys gone since)' : `values as of ${report.asOf.committedAt}`;
    lines.push(`configuration as of commit ${report.asOf.commit} (${report.asOf.committedAt}), ${values}`);
  }
  for (const service of report.services) {
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
  return `${lines.join('\n')}\n`;
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
