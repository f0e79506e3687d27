// Text rendering of a render result (plan or outcome). Pure; key NAMES only, never a value.
import type { KeyResult } from './report.js';

/** The plain-data shape this module formats (produced by use-cases/render.ts). */
export interface RenderReportView {
  dryRun: boolean;
  services: Array<{
    service: string;
    status: 'written' | 'unchanged' | 'planned' | 'refused' | 'error';
    forced: boolean;
    files: Array<{ target: string; action: 'create' | 'update' | 'unchanged'; mode: string; keys: { added: string[]; changed: string[]; removed: string[] }; extraKeys: string[] }>;
    problems: Array<{ target: string; key: KeyResult }>;
    error?: { code: string; message: string };
  }>;
}

export function formatRenderText(report: RenderReportView): string {
  const lines: string[] = [];
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
      if (file.extraKeys.length > 0) lines.push(`      warning: store keys not in the example, not rendered: ${file.extraKeys.join(', ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
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
