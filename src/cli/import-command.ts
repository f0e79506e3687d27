// `coffre import`: adopts hand-made target files (`secrets/db.secrets`, read exactly as compose reads them) into
// their sources, one write per file, then runs `check` and prints its report. Prints key names only.
import { formatJson, formatText } from '../core/report.js';
import { CoffreError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { exitCodeOfReport } from '../use-cases/check.js';
import { runImport } from '../use-cases/import.js';
import { openWorkspace } from '../use-cases/workspace.js';
import { flagOf, stringOf, type CliCommand } from './command.js';
import { useColor } from './io.js';
import { locateRepo, normalizeServiceName } from './repo-root.js';
import { auditLine, describeFileValues, whoOf } from './rotate-command.js';

export const importUsage = `usage: coffre [-C DIR] import (<service>... | --all) [--to vault|sops] [--dry-run] [--overwrite] [--allow-extra]
                              [--format text|json]

Reads each existing target file of the services (e.g. secrets/db.secrets, compose env_file syntax read exactly as
docker compose reads it; \`$\` expansions against an empty environment) and writes its values to the file's
source in ONE write per file: one Vault KV v2 version (check-and-set), or one re-encryption of the sops
file (a new one with --to sops). Then runs \`check\` on the services and prints its report. Key names only, never values.
  -C, --repo DIR       act as if started in DIR (env COFFRE_REPO)
  --all                every service of the repo
  --to vault|sops      default: the source the repo assigns (a sops file beside the target, else Vault).
                       --to sops without a sops file creates <target>.sops.yaml, encrypted to the age recipients
                       of the first matching creation rule of the repo's .sops.yaml (none: COFFRE_SOPS_NO_CREATION_RULE);
                       --to vault for a file with a sops file beside it is refused
  --dry-run            write nothing: list each file's keys as new / same / differs
  --overwrite          replace values the source holds that differ (else the file is refused:
                       COFFRE_IMPORT_DIFFERS, naming the keys)
  --allow-extra        import keys the example does not declare (else the file is refused, keys named)
  --format, -f FMT     text (default) or json
exit codes: 0 imported and complete, 1 check incomplete, 2 usage, 3 source error, 4 unsafe target, 5 a stored value differs`;

export const importCommand: CliCommand = {
  summary: 'adopt hand-made target files: write their values to Vault / the sops file (one write per file), then check',
  usage: importUsage,
  formats: ['text', 'json'],
  options: [
    { name: 'all', type: 'boolean' },
    { name: 'to', type: 'string' },
    { name: 'dry-run', type: 'boolean' },
    { name: 'overwrite', type: 'boolean' },
    { name: 'allow-extra', type: 'boolean' },
    { name: 'format', short: 'f', type: 'string' },
  ],
  async run({ values, positionals, repo }, io) {
    const format = stringOf(values, 'format') ?? 'text';
    const to = stringOf(values, 'to');
    if (to !== undefined && to !== 'vault' && to !== 'sops') throw new CoffreError('COFFRE_USAGE', `--to takes vault or sops, not "${to}"`);
    const where = await locateRepo(io, repo, positionals, { positionals: 'any' });
    const services = [...new Set(where.positionals.map(normalizeServiceName))];
    const all = flagOf(values, 'all');
    if (all === services.length > 0) throw new CoffreError('COFFRE_USAGE', `name the services to import, or --all (not both)\n${importUsage}`);
    const dryRun = flagOf(values, 'dry-run');
    const workspace = await openWorkspace({ root: where.root, env: io.env });
    const rediscovered: Array<{ close(): void }> = [];
    try {
      const result = await runImport(workspace, {
        services,
        ...(to === undefined ? {} : { to }),
        dryRun,
        overwrite: flagOf(values, 'overwrite'),
        allowExtra: flagOf(values, 'allow-extra'),
        who: whoOf(io),
        audit: auditLine(io),
        newSopsSuffix: workspace.config.sops.suffixes.find((suffix) => /\.ya?ml$/.test(suffix)) ?? '.sops.yaml',
        rediscover: async () => {
          const again = await openWorkspace({ root: where.root, env: io.env });
          rediscovered.push(again);
          return again;
        },
      });
      if (format === 'json') {
        io.stdout.write(`${JSON.stringify({ dryRun, files: result.files, check: JSON.parse(formatJson(result.check)) }, null, 2)}\n`);
      } else {
        io.stdout.write(`${dryRun ? 'import (dry run, nothing written)' : 'import'}:\n`);
        for (const file of result.files) io.stdout.write(file.status === 'missing' ? `missing ${file.service}/${file.file}: no ${file.target} to import\n` : describeFileValues(file));
        io.stdout.write('\ncheck:\n');
        io.stdout.write(formatText(result.check, { color: useColor(io, io.stdout), quiet: false }));
      }
      const refused = result.files.flatMap((f) => (f.error ? [f.error.code as ErrorCode] : []));
      if (refused.length > 0) return Math.max(...refused.map((code) => ERROR_CODES[code]?.exit ?? 70));
      return exitCodeOfReport(result.check);
    } finally {
      workspace.close();
      for (const w of rediscovered) w.close();
    }
  },
};
