// `coffre render [REPO_DIR] <service>... | --all [--dry-run] [--format text|json] [--force-incomplete]`
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatRenderText } from '../core/render-report.js';
import { CoffreError, ERROR_CODES } from '../errors.js';
import { runRender, type RenderReport } from '../use-cases/render.js';
import { openWorkspace } from '../use-cases/workspace.js';
import type { CliIo } from './io.js';
import { resolveRepoRoot, serviceOfCwd } from './repo-root.js';

export const renderUsage = `usage: coffre render [REPO_DIR] <service>... | --all  [--dry-run] [--format text|json] [--force-incomplete]
       coffre render                     (inside a service folder: that service)

Writes the env files compose reads (env_file targets) from their sources: a whole service at a time,
atomically, mode 0600 by default, only into git-ignored paths, only when complete.
  --all                render every service
  --dry-run            print the plan (create/update/unchanged, key names added/changed/removed); write nothing
  --format, -f FMT     text (default) or json
  --force-incomplete   render even when required keys are missing/empty/placeholders (loud)
exit codes: 0 rendered/unchanged, 1 incomplete (refused), 2 usage/config, 3 source error, 4 target refused/write failed`;

export async function renderCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      all: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      format: { type: 'string', short: 'f', default: 'text' },
      'force-incomplete': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${renderUsage}\n`);
    return 0;
  }
  if (values.format !== 'text' && values.format !== 'json') throw new CoffreError('COFFRE_USAGE', `unknown --format "${values.format}" (expected text or json)`);
  // With two or more positionals (or --all and one), the first is REPO_DIR; a lone name is a service of the
  // repo found from cwd; no name at all means the service folder cwd is in (a deploy script's `cd svc`).
  const repoGiven = positionals.length >= 2 || (values.all && positionals.length === 1);
  let names = repoGiven ? positionals.slice(1) : positionals;
  if (values.all && names.length > 0) throw new CoffreError('COFFRE_USAGE', 'give service names or --all, not both');
  if (values['force-incomplete']) io.stderr.write('coffre: WARNING: --force-incomplete renders files whose required keys are missing, empty or placeholders\n');
  const workspace = await openWorkspace({ root: await resolveRepoRoot(io.cwd, repoGiven ? positionals[0] : undefined), env: io.env });
  try {
    if (!values.all && names.length === 0) {
      const here = serviceOfCwd(workspace.root, io.cwd, workspace.repo.services.map((s) => s.name));
      if (here === null) throw new CoffreError('COFFRE_USAGE', `render needs service names or --all (or run it inside a service folder)\n${renderUsage}`);
      names = [here];
    }
    const [lone] = names;
    if (names.length === 1 && lone !== undefined && !workspace.repo.services.some((s) => s.name === lone) && existsSync(path.resolve(io.cwd, lone))) {
      throw new CoffreError('COFFRE_USAGE', `"${lone}" is not a service of ${workspace.root}; to render a repo given as REPO_DIR name its services or add --all: coffre render ${lone} --all`);
    }
    const report = await runRender(workspace, { services: names, all: values.all, dryRun: values['dry-run'], forceIncomplete: values['force-incomplete'] });
    io.stdout.write(values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatRenderText(report));
    return exitCodeOfRender(report);
  } finally {
    workspace.close();
  }
}

/** The highest exit code among the services' errors (refused-incomplete is 1), 0 when all rendered. */
export function exitCodeOfRender(report: RenderReport): number {
  let code = 0;
  for (const service of report.services) {
    if (service.error) code = Math.max(code, ERROR_CODES[service.error.code].exit);
  }
  return code;
}
