// `coffre [-C DIR] render <service>... | --all [--dry-run] [--format text|json] [--force-incomplete]`
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatRenderText } from '../core/render-report.js';
import { CoffreError, ERROR_CODES } from '../errors.js';
import { runRender, type RenderReport } from '../use-cases/render.js';
import { prepareAsOf } from '../use-cases/as-of.js';
import { openWorkspace } from '../use-cases/workspace.js';
import { flagOf, listOf, stringOf, type CliCommand } from './command.js';
import { progressLine } from './progress-line.js';
import { locateRepo, normalizeServiceName, serviceOfCwd } from './repo-root.js';

export const renderUsage = `usage: coffre [-C DIR] render <service>... | --all  [--dry-run] [--format text|json] [--force-incomplete] [--quiet]
                                       [--as-of <commit> [--values-as-of]]
       coffre render                     (inside a service folder: that service)

Writes the env files compose reads (env_file targets) from their sources: a whole service at a time,
atomically, mode 0600 by default, only into git-ignored paths, only when complete.
  -C, --repo DIR       act as if started in DIR (env COFFRE_REPO): the repo is found upwards from there
  --service, -s NAME   a service to render, like a positional name (repeatable, or comma-separated)
  --all                render every service
  --dry-run            print the plan (create/update/unchanged, key names added/changed/removed); write nothing
  --format, -f FMT     text (default) or json
  --force-incomplete   render even when required keys are missing/empty/placeholders (loud)
  --quiet, -q          text: only refused/failed services and the summary line
  --as-of COMMIT       render the configuration of a past commit (a hex commit id, full or abbreviated):
                       its examples and compose files, read through git; each value is the current one,
                       or for a key gone since, the newest that existed (the plan names each value's origin)
  --values-as-of       with --as-of: every value as it was at the commit's date
Several services: refusals and failures are listed again at the end, then a summary line. On a terminal, a
run lasting over a second shows its progress on stderr (not with --format json).
exit codes: 0 rendered/unchanged, 1 incomplete (refused), 2 usage/config, 3 source error, 4 target refused/write failed`;

export const renderCommand: CliCommand = {
  summary: 'write the env files compose reads, atomically, from their sources',
  usage: renderUsage,
  formats: ['text', 'json'],
  options: [
    { name: 'service', short: 's', type: 'string', multiple: true, list: true },
    { name: 'all', type: 'boolean' },
    { name: 'dry-run', type: 'boolean' },
    { name: 'format', short: 'f', type: 'string' },
    { name: 'force-incomplete', type: 'boolean' },
    { name: 'quiet', short: 'q', type: 'boolean' },
    { name: 'as-of', type: 'string' },
    { name: 'values-as-of', type: 'boolean' },
  ],
  async run({ values, positionals, repo }, io) {
    const all = flagOf(values, 'all');
    const where = await locateRepo(io, repo, positionals, { positionals: 'any' });
    let names = [...new Set([...where.positionals, ...listOf(values, 'service')].map(normalizeServiceName))];
    if (all && names.length > 0) throw new CoffreError('COFFRE_USAGE', 'give service names or --all, not both');
    if (flagOf(values, 'force-incomplete')) io.stderr.write('coffre: WARNING: --force-incomplete renders files whose required keys are missing, empty or placeholders\n');
    const asOfCommit = stringOf(values, 'as-of');
    if (flagOf(values, 'values-as-of') && asOfCommit === undefined) throw new CoffreError('COFFRE_USAGE', '--values-as-of needs --as-of <commit>');
    const workspace = await openWorkspace({ root: where.root, env: io.env, ...(asOfCommit !== undefined ? { asOf: asOfCommit } : {}) });
    try {
      if (!all && names.length === 0) {
        // No name: the service folder the command runs in (a deploy script's `cd svc && coffre render`).
        const here = serviceOfCwd(workspace.root, where.cwd, workspace.repo.services.map((s) => s.name));
        if (here === null) throw new CoffreError('COFFRE_USAGE', `render needs service names or --all (or run it inside a service folder)\n${renderUsage}`);
        names = [here];
      }
      const [lone] = names;
      if (names.length === 1 && lone !== undefined && !workspace.repo.services.some((s) => s.name === lone) && existsSync(path.resolve(where.cwd, lone))) {
        throw new CoffreError('COFFRE_USAGE', `"${lone}" is not a service of ${workspace.root}; to render the repo in that folder, use -C: coffre -C ${lone} render --all`);
      }
      const view = workspace.commitView;
      const asOf = view ? { asOf: prepareAsOf(workspace, view, { valuesAsOf: flagOf(values, 'values-as-of') }) } : {};
      const json = stringOf(values, 'format') === 'json';
      const progress = progressLine(io, 'render', !json);
      let report;
      try {
        report = await runRender(workspace, { services: names, all, dryRun: flagOf(values, 'dry-run'), forceIncomplete: flagOf(values, 'force-incomplete'), onProgress: progress.update, ...asOf });
      } finally {
        progress.end();
      }
      io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatRenderText(report, { quiet: flagOf(values, 'quiet') }));
      return exitCodeOfRender(report);
    } finally {
      workspace.close();
    }
  },
};

/** The highest exit code among the services' errors (refused-incomplete is 1), 0 when all rendered. */
export function exitCodeOfRender(report: RenderReport): number {
  let code = 0;
  for (const service of report.services) {
    if (service.error) code = Math.max(code, ERROR_CODES[service.error.code].exit);
  }
  return code;
}
