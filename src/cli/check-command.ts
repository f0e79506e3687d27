// `coffre check [REPO_DIR] [--service NAME]... [--format text|json|junit] [--keys-only]`
import { parseArgs } from 'node:util';
import { formatJson, formatJunit, formatText } from '../core/report.js';
import { CoffreError } from '../errors.js';
import { exitCodeOfReport, runCheck } from '../use-cases/check.js';
import { openWorkspace } from '../use-cases/workspace.js';
import { useColor, type CliIo } from './io.js';
import { resolveRepoRoot } from './repo-root.js';

export const checkUsage = `usage: coffre check [REPO_DIR] [--service NAME]... [--format text|json|junit] [--keys-only]

Checks that every key of every secrets example is present (non-empty, not a placeholder) in its
source (sops file or Vault/OpenBao KV v2). Prints key names and statuses, never a value.
  --service, -s NAME   check only this service (repeatable)
  --format, -f FMT     text (default), json (schema version 1) or junit
  --keys-only          read key names only (Vault subkeys; sops clear-text names): no value leaves the store
exit codes: 0 complete, 1 incomplete, 2 usage/config/example error, 3 a source could not be read`;

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      service: { type: 'string', short: 's', multiple: true },
      format: { type: 'string', short: 'f', default: 'text' },
      'keys-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${checkUsage}\n`);
    return 0;
  }
  const format = values.format;
  if (format !== 'text' && format !== 'json' && format !== 'junit') {
    throw new CoffreError('COFFRE_USAGE', `unknown --format "${format}" (expected text, json or junit)`);
  }
  if (positionals.length > 1) throw new CoffreError('COFFRE_USAGE', `check takes one REPO_DIR, got ${positionals.length}`);
  const workspace = await openWorkspace({ root: await resolveRepoRoot(io.cwd, positionals[0]), env: io.env });
  try {
    const report = await runCheck(workspace, { services: values.service ?? [], keysOnly: values['keys-only'] });
    const text = format === 'json' ? formatJson(report) : format === 'junit' ? formatJunit(report) : formatText(report, { color: useColor(io, io.stdout) });
    io.stdout.write(text);
    return exitCodeOfReport(report);
  } finally {
    workspace.close();
  }
}
