// `coffre [-C DIR] check [SERVICE]... [--service NAME[,NAME]]... [--all] [--format text|json|junit|sarif|gitlab] [--keys-only] [--quiet]`
import { formatGitlab } from '../core/gitlab-report.js';
import { formatJson, formatJunit, formatText } from '../core/report.js';
import { formatSarif } from '../core/sarif.js';
import { CoffreError } from '../errors.js';
import { exitCodeOfReport, runCheck } from '../use-cases/check.js';
import { repoPrefixInGit } from '../use-cases/repo-prefix.js';
import { openWorkspace } from '../use-cases/workspace.js';
import { flagOf, listOf, stringOf, type CliCommand } from './command.js';
import { useColor } from './io.js';
import { VERSION } from './main.js';
import { progressLine } from './progress-line.js';
import { locateRepo, normalizeServiceName, serviceOfCwd } from './repo-root.js';

export const checkUsage = `usage: coffre [-C DIR] check [SERVICE]... [--service NAME[,NAME]]... [--all] [--format text|json|junit|sarif|gitlab] [--keys-only] [--quiet]
       coffre check                      (inside a service folder: that service; at the repo root: every service)

Checks that every key of every secrets example is present (non-empty, not a placeholder) in its
source (sops file or Vault/OpenBao KV v2). Prints key names and statuses, never a value.
  -C, --repo DIR       act as if started in DIR (env COFFRE_REPO): the repo is found upwards from there
  SERVICE, --service, -s NAME   check only these services (repeatable, or comma-separated)
  --all                every service, even inside a service folder
  --format, -f FMT     text (default), json (schema version 1), junit, sarif (SARIF 2.1.0, for code
                       scanning) or gitlab (GitLab Code Quality); sarif/gitlab paths are relative to the git work tree's top
  --keys-only          read key names only (Vault subkeys; sops clear-text names): no value leaves the store
  --quiet, -q          text: only files needing attention and the summary line
On a terminal, a run lasting over a second shows its progress on stderr (not with a machine --format).
exit codes: 0 complete, 1 incomplete, 2 usage/config/example error, 3 a source could not be read`;

export const checkCommand: CliCommand = {
  summary: 'are all keys of every secrets example present in the store?',
  usage: checkUsage,
  formats: ['text', 'json', 'junit', 'sarif', 'gitlab'],
  options: [
    { name: 'service', short: 's', type: 'string', multiple: true, list: true },
    { name: 'all', type: 'boolean' },
    { name: 'format', short: 'f', type: 'string' },
    { name: 'keys-only', type: 'boolean' },
    { name: 'quiet', short: 'q', type: 'boolean' },
  ],
  async run({ values, positionals, repo }, io) {
    const where = await locateRepo(io, repo, positionals, { positionals: 'any' });
    const named = [...where.positionals, ...listOf(values, 'service')].map(normalizeServiceName);
    const all = flagOf(values, 'all');
    if (all && named.length > 0) throw new CoffreError('COFFRE_USAGE', 'give service names or --all, not both');
    const workspace = await openWorkspace({ root: where.root, env: io.env });
    try {
      let services = [...new Set(named)];
      if (!all && services.length === 0) {
        const here = serviceOfCwd(workspace.root, where.cwd, workspace.repo.services.map((s) => s.name));
        if (here !== null) services = [here];
      }
      const format = stringOf(values, 'format') ?? 'text';
      const progress = progressLine(io, 'check', format === 'text');
      let report;
      try {
        report = await runCheck(workspace, { services, keysOnly: flagOf(values, 'keys-only'), onProgress: progress.update });
      } finally {
        progress.end();
      }
      const text =
        format === 'json'
          ? formatJson(report)
          : format === 'junit'
            ? formatJunit(report)
            : format === 'sarif'
              ? formatSarif(report, { toolVersion: VERSION, rootPrefix: await repoPrefixInGit(workspace.root) })
              : format === 'gitlab'
                ? formatGitlab(report, { rootPrefix: await repoPrefixInGit(workspace.root) })
                : formatText(report, { color: useColor(io, io.stdout), quiet: flagOf(values, 'quiet') });
      io.stdout.write(text);
      return exitCodeOfReport(report);
    } finally {
      workspace.close();
    }
  },
};
