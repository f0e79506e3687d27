// argv → command → exit code. The only place that turns errors into exit codes and stderr lines.
import { CoffreError, exitCodeFor, formatErrorMessage, isCoffreError } from '../errors.js';
import { checkCommand } from './check-command.js';
import { renderCommand } from './render-command.js';
import { rollbackCommand, rotateCommand, setCommand, versionsCommand } from './rotate-command.js';
import { serveCommand } from './serve-command.js';
import { tokenCommand } from './token-command.js';
import type { CliIo } from './io.js';

export type { CliIo } from './io.js';

type Command = (argv: string[], io: CliIo) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  check: { run: checkCommand, summary: 'are all keys of every secrets example present in the store?' },
  render: { run: renderCommand, summary: 'write the env files compose reads, atomically, from their sources' },
  rotate: { run: rotateCommand, summary: 'a new VALUE for one key, in Vault (check-and-set) or the sops file (not sops re-keying)' },
  set: { run: setCommand, summary: 'the first value of a key missing from its source' },
  versions: { run: versionsCommand, summary: 'versions of a secrets file (Vault KV v2 versions; sops lastmodified + git)' },
  rollback: { run: rollbackCommand, summary: 'make an older Vault KV v2 version current again (check-and-set)' },
  serve: { run: serveCommand, summary: 'serve the check/render HTTP API (bearer tokens, /metrics, /openapi.json)' },
  token: { run: tokenCommand, summary: 'mint an API token for serve (`coffre token new --role R`)' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: coffre <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`coffre <command> --help\` for a command's options.`;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write('coffre 0.1.0\n');
    return 0;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`coffre: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (isCoffreError(error)) {
    io.stderr.write(`coffre: ${error.code}: ${formatErrorMessage(error)}\n`);
    return exitCodeFor(error);
  }
  // parseArgs throws TypeErrors with a code for unknown or malformed options: a usage error.
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    const usageError = new CoffreError('COFFRE_USAGE', (error as Error).message);
    io.stderr.write(`coffre: ${usageError.code}: ${usageError.message}\n`);
    return exitCodeFor(usageError);
  }
  // Unknown errors may carry anything in their message; print only their class name.
  io.stderr.write(`coffre: COFFRE_INTERNAL: unexpected ${(error as Error)?.name ?? 'error'}; rerun with COFFRE_DEBUG=1 for a stack trace\n`);
  if (io.env.COFFRE_DEBUG === '1') io.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  return exitCodeFor(error);
}
