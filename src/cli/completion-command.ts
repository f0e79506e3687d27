// `coffre completion bash|zsh|fish`: prints the completion script built from the command table given.
import { CoffreError } from '../errors.js';
import type { CliCommand } from './command.js';
import { completionScript, SHELLS, type Shell } from './completion.js';

export const completionUsage = `usage: coffre completion bash|zsh|fish

Prints a shell completion script for commands, options, --format values and service folders.
  bash   source <(coffre completion bash)      (or save it in /etc/bash_completion.d/coffre)
  zsh    coffre completion zsh > "\${fpath[1]}/_coffre"   (then compinit)
  fish   coffre completion fish > ~/.config/fish/completions/coffre.fish`;

/** The command, over a getter of the table (the table holds this command too). */
export function completionCommand(table: () => Promise<Readonly<Record<string, CliCommand>>>): CliCommand {
  return {
    summary: 'print a shell completion script (bash, zsh, fish)',
    usage: completionUsage,
    options: [],
    subcommands: SHELLS,
    async run({ positionals }, io) {
      const [shell, ...extra] = positionals;
      if (shell === undefined || !(SHELLS as readonly string[]).includes(shell) || extra.length > 0) {
        throw new CoffreError('COFFRE_USAGE', `completion takes one shell name: ${SHELLS.join(', ')}`);
      }
      io.stdout.write(completionScript(shell as Shell, await table()));
      return 0;
    },
  };
}
