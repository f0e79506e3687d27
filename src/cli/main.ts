// argv → command → exit code. The only place that turns errors into exit codes and stderr lines (and, for
// --format json|junit, into an error document on stdout).
import { CoffreError, exitCodeFor, formatErrorMessage, isCoffreError } from '../errors.js';
import { parseCommandLine, type CommandLine } from './args.js';
import type { CliCommand } from './command.js';
import { formatErrorDocument } from './error-document.js';
import type { CliIo } from './io.js';

export type { CliIo } from './io.js';

export const VERSION = '0.1.0';

// Each command's module is imported when that command runs (or its help is shown), never at start:
// `coffre --version` loads no command, `check` does not load fastify (serve only), see bench/start.ts.
export const commands: Record<string, () => Promise<CliCommand>> = {
  check: async () => (await import('./check-command.js')).checkCommand,
  render: async () => (await import('./render-command.js')).renderCommand,
  rotate: async () => (await import('./rotate-command.js')).rotateCommand,
  set: async () => (await import('./rotate-command.js')).setCommand,
  versions: async () => (await import('./rotate-command.js')).versionsCommand,
  rollback: async () => (await import('./rotate-command.js')).rollbackCommand,
  import: async () => (await import('./import-command.js')).importCommand,
  init: async () => (await import('./init-command.js')).initCommand,
  serve: async () => (await import('./serve-command.js')).serveCommand,
  token: async () => (await import('./token-command.js')).tokenCommand,
  guard: async () => (await import('./guard-command.js')).guardCommand,
  completion: async () => (await import('./completion-command.js')).completionCommand(loadCommandTable),
};

/** Every command loaded (help of all commands, completion scripts). */
async function loadCommandTable(): Promise<Record<string, CliCommand>> {
  const loaded = await Promise.all(Object.entries(commands).map(async ([name, load]) => [name, await load()] as const));
  return Object.fromEntries(loaded);
}

async function usage(): Promise<string> {
  const loaded = await Promise.all(Object.entries(commands).map(async ([name, load]) => [name, await load()] as const));
  const lines = loaded.map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: coffre [-C DIR] <command> [options] [SERVICE]...

  -C, --repo DIR   act as if started in DIR (like git -C; env COFFRE_REPO): the repo is the nearest folder up
                   from there holding coffre.yaml, else the git work tree's top
  -V, --version    print the version
  -h, --help       this help; \`coffre help <command>\` for a command's options

commands:
${lines.join('\n')}`;
}

/**
 * The command line as main.ts reads it (exported for the parsing tests). The command's name comes before its
 * options, so a first pass finds it, then only that command's module is loaded for its option table.
 */
export async function parseArgv(argv: readonly string[]): Promise<CommandLine> {
  // No prototype: `coffre constructor` is an unknown command, not Object's own property.
  const names: Record<string, readonly []> = Object.assign(Object.create(null) as object, Object.fromEntries(Object.keys(commands).map((name) => [name, [] as const])));
  const first = parseCommandLine(argv, names);
  if (first.kind !== 'command') return first;
  const command = await (commands[first.command] as () => Promise<CliCommand>)();
  return parseCommandLine(argv, Object.assign(Object.create(null) as object, names, { [first.command]: command.options }));
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let line: CommandLine;
  try {
    line = await parseArgv(argv);
  } catch (error) {
    return reportError(error, io, 'text');
  }
  // A machine format asked for (and valid for the command) also carries a fatal error, usage errors included.
  let documentFormat = 'text';
  try {
    if (line.kind === 'command') {
      const command = await (commands[line.command] as () => Promise<CliCommand>)();
      const format = line.values.format;
      if (typeof format === 'string' && command.formats?.includes(format)) documentFormat = format;
      if (line.errors.length > 0) throw new CoffreError('COFFRE_USAGE', `${line.errors.join('; ')}\n(see coffre help ${line.command})`);
      if (line.values.help === true) {
        io.stdout.write(`${command.usage}\n`);
        return 0;
      }
      if (typeof format === 'string' && !command.formats?.includes(format)) {
        const accepted = command.formats ? `expected ${command.formats.join(', ')}` : `${line.command} has no --format`;
        throw new CoffreError('COFFRE_USAGE', `unknown --format "${format}" (${accepted})`);
      }
      return await command.run({ values: line.values, positionals: line.positionals, repo: line.repo }, io);
    }
    if (line.errors.length > 0) throw new CoffreError('COFFRE_USAGE', `${line.errors.join('; ')}\n${await usage()}`);
    if (line.kind === 'version') {
      io.stdout.write(`coffre ${VERSION}\n`);
      return 0;
    }
    if (line.kind === 'help') {
      if (line.command === null) {
        io.stdout.write(`${await usage()}\n`);
        return 0;
      }
      const load = Object.hasOwn(commands, line.command) ? commands[line.command] : undefined;
      if (load === undefined) throw new CoffreError('COFFRE_USAGE', `unknown command "${line.command}"\n${await usage()}`);
      io.stdout.write(`${(await load()).usage}\n`);
      return 0;
    }
    // No command at all: the overview, as a usage error.
    io.stdout.write(`${await usage()}\n`);
    return 2;
  } catch (error) {
    return reportError(error, io, documentFormat);
  }
}

function reportError(error: unknown, io: CliIo, format: string): number {
  let code: string;
  let message: string;
  let location: { file?: string; line?: number } = {};
  if (isCoffreError(error)) {
    location = error.location;
    code = error.code;
    message = formatErrorMessage(error);
    io.stderr.write(`coffre: ${code}: ${message}\n`);
  } else {
    // Unknown errors may carry anything in their message; print only their class name.
    code = 'COFFRE_INTERNAL';
    message = `unexpected ${(error as Error)?.name ?? 'error'}; rerun with COFFRE_DEBUG=1 for a stack trace`;
    io.stderr.write(`coffre: ${code}: ${message}\n`);
    if (io.env.COFFRE_DEBUG === '1') io.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  }
  const document = formatErrorDocument(format, code, message, { ...location, toolVersion: VERSION });
  if (document !== null) io.stdout.write(document);
  return exitCodeFor(error);
}
