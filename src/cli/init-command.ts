// `coffre init`: a first commented coffre.yaml, the missing .gitignore lines for the targets, and (without a
// .sops.yaml) an age key pair outside the repo with a .sops.yaml rule. Prints paths and the public key only.
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { runInit } from '../use-cases/init.js';
import { defaultAgeKeyFile } from '../use-cases/workspace.js';
import { flagOf, stringOf, type CliCommand } from './command.js';
import { locateRepo } from './repo-root.js';

export const initUsage = `usage: coffre [-C DIR] init [--age-key-file PATH] [--dry-run]

Writes, for the repo found as other commands find it: a commented coffre.yaml listing the discovered services and
their targets (refused when one exists), the .gitignore lines missing for the targets (appended, never doubled),
and, when the repo has no .sops.yaml, an age key pair: the private key appended (mode 0600) to a key file OUTSIDE
the repo, and a .sops.yaml whose creation rule encrypts new *.sops.{yaml,json,env,ini} files to the public key.
Prints the paths written and the public key, never the private key. Then: coffre import, coffre check, coffre render.
  -C, --repo DIR        act as if started in DIR (env COFFRE_REPO)
  --age-key-file PATH   the private key file (default: $XDG_CONFIG_HOME/sops/age/keys.txt, else
                        ~/.config/sops/age/keys.txt, where sops and coffre look); a path inside the repo is refused
  --dry-run             write nothing: say what would be written
exit codes: 0 written, 2 usage (coffre.yaml exists, key path inside the repo)`;

export const initCommand: CliCommand = {
  summary: 'write a first coffre.yaml, the .gitignore lines for the targets, and an age key with a .sops.yaml',
  usage: initUsage,
  options: [
    { name: 'age-key-file', type: 'string' },
    { name: 'dry-run', type: 'boolean' },
  ],
  async run({ values, positionals, repo }, io) {
    const where = await locateRepo(io, repo, positionals, { positionals: 1 });
    if (where.positionals.length > 0) throw new CoffreError('COFFRE_USAGE', `init takes no arguments\n${initUsage}`);
    const given = stringOf(values, 'age-key-file');
    const dryRun = flagOf(values, 'dry-run');
    const result = await runInit({ root: where.root, ageKeyFile: given === undefined ? defaultAgeKeyFile(io.env) : path.resolve(where.cwd, given), dryRun });
    const verb = dryRun ? 'would write' : 'wrote';
    io.stdout.write(`${dryRun ? 'init (dry run, nothing written)' : 'init'}:\n`);
    io.stdout.write(`${verb} ${result.config}\n`);
    if (result.gitignore.added.length > 0) {
      io.stdout.write(`${dryRun ? 'would append' : 'appended'} to ${result.gitignore.file}:\n${result.gitignore.added.map((line) => `  ${line}\n`).join('')}`);
    } else io.stdout.write(`${result.gitignore.file}: no line missing\n`);
    if (result.sops) {
      io.stdout.write(`${dryRun ? 'would add' : 'added'} an age key to ${result.sops.keyFile} (mode 0600, outside the repo)\n`);
      if (result.sops.recipient) io.stdout.write(`public key: ${result.sops.recipient}\n`);
      io.stdout.write(`${verb} ${result.sops.file} (creation rule for *.sops.{yaml,json,env,ini})\n`);
    } else io.stdout.write(`sops: ${result.sopsSkipped ?? 'nothing to do'}: no key generated\n`);
    io.stdout.write(`next: coffre ${dryRun ? 'init' : 'import --all --dry-run'}, then coffre check, coffre render\n`);
    return 0;
  },
};
