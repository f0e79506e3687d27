// `coffre [-C DIR] guard [--staged | --tree] [--with-store] [--format text|json]`, `coffre guard --install-hook`
import path from 'node:path';
import { formatGuardJson, formatGuardText, GUARD_FINDING_CODES, type GuardScope } from '../core/guard-report.js';
import { CoffreError, ERROR_CODES } from '../errors.js';
import { installPreCommitHook, runGuard } from '../use-cases/guard.js';
import { flagOf, stringOf, type CliCommand } from './command.js';
import { locateRepo } from './repo-root.js';

export const guardUsage = `usage: coffre [-C DIR] guard [--staged | --tree] [--with-store] [--format text|json]
       coffre [-C DIR] guard --install-hook

Refuses a commit or a tree that holds a rendered secrets file (an env_file target), a sops file with clear-text
values or without sops metadata (a decrypted copy), or an env_file target a committed .gitignore no longer
ignores. For pre-commit hooks and CI. Prints file:line, codes and key names, never a value.
  -C, --repo DIR     act as if started in DIR (env COFFRE_REPO): the repo is found upwards from there
  (default)          the tracked files, as they are in the work tree
  --staged           the index: what the next commit holds (the pre-commit hook; GIT_INDEX_FILE honoured)
  --tree             tracked files plus untracked ones the ignore rules do not exclude (what git add -A stages)
  --with-store       also refuse any line holding a current store value (8+ characters) of a key; reads the
                     sources like render (Vault token, age key): for admin machines and hosts
  --format, -f FMT   text (default) or json
  --install-hook     write .git/hooks/pre-commit running \`coffre guard --staged\` (never overwrites another hook)
findings: ${Object.keys(GUARD_FINDING_CODES).join(', ')}
exit codes: 0 clean, ${ERROR_CODES.COFFRE_GUARD_REFUSED.exit} refused (COFFRE_GUARD_REFUSED), 2 usage/config error or not a git work tree, 3 a source could not be read`;

export const guardCommand: CliCommand = {
  summary: 'refuse commits/trees holding rendered secrets, unencrypted sops files or store values',
  usage: guardUsage,
  formats: ['text', 'json'],
  options: [
    { name: 'staged', type: 'boolean' },
    { name: 'tree', type: 'boolean' },
    { name: 'with-store', type: 'boolean' },
    { name: 'format', short: 'f', type: 'string' },
    { name: 'install-hook', type: 'boolean' },
  ],
  async run({ values, positionals, repo }, io) {
    if (positionals.length > 0) throw new CoffreError('COFFRE_USAGE', `guard takes no positional argument (got ${JSON.stringify(positionals[0])}); use -C DIR for another repo`);
    const where = await locateRepo(io, repo, positionals, { positionals: 0 });
    const staged = flagOf(values, 'staged');
    const tree = flagOf(values, 'tree');
    if (staged && tree) throw new CoffreError('COFFRE_USAGE', 'give --staged or --tree, not both');
    if (flagOf(values, 'install-hook')) {
      if (staged || tree || flagOf(values, 'with-store')) throw new CoffreError('COFFRE_USAGE', '--install-hook takes no other option');
      const installed = await installPreCommitHook(where.root);
      io.stdout.write(installed.status === 'installed' ? `installed ${installed.file}: runs coffre guard --staged before each commit\n` : `${installed.file} is already coffre's hook\n`);
      return 0;
    }
    const scope: GuardScope = staged ? 'staged' : tree ? 'tree' : 'tracked';
    // In a pre-commit hook of `git commit -a` or `git commit <paths>`, the commit's index is GIT_INDEX_FILE.
    const indexFile = staged && io.env.GIT_INDEX_FILE ? path.resolve(io.cwd, io.env.GIT_INDEX_FILE) : undefined;
    const report = await runGuard({ root: where.root, env: io.env, scope, withStore: flagOf(values, 'with-store'), ...(indexFile !== undefined ? { indexFile } : {}) });
    io.stdout.write(stringOf(values, 'format') === 'json' ? formatGuardJson(report) : formatGuardText(report));
    return report.clean ? 0 : ERROR_CODES.COFFRE_GUARD_REFUSED.exit;
  },
};
