// What every command is to main.ts: its options (for parsing, suggestions and help), its usage text, the
// --format values it accepts, and a run function over the parsed command line.
import type { OptionSpec, OptionValues } from './args.js';
import type { CliIo } from './io.js';

/** A parsed command line for one command. */
export interface Invocation {
  values: OptionValues;
  positionals: string[];
  /** `-C DIR` values, in order (before and after the command name). */
  repo: string[];
}

export interface CliCommand {
  summary: string;
  usage: string;
  /** The command's own options (main adds -C/--repo and --help). */
  options: readonly OptionSpec[];
  /** The --format values accepted (first = default); absent: no --format. */
  formats?: readonly string[];
  /** Words the first positional takes, when fixed (`token new`): for shell completion. */
  subcommands?: readonly string[];
  run(invocation: Invocation, io: CliIo): Promise<number>;
}

/** The values of a repeatable option (an empty list when absent). */
export function listOf(values: OptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : [];
}

export function stringOf(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function flagOf(values: OptionValues, name: string): boolean {
  return values[name] === true;
}
