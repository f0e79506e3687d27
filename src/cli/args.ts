// The command-line grammar: global options (`-C DIR`, `--help`, `--version`) before a command, then the
// command's own options and positionals. Pure: argv in, a parsed command line or a list of usage errors out;
// it never reads the disk or the environment (which positional is a service is decided later, in repo-root.ts).

/** One option of a command. `list`: values may also be comma-separated (`--service a,b`). */
export interface OptionSpec {
  name: string;
  short?: string;
  type: 'boolean' | 'string';
  multiple?: boolean;
  list?: boolean;
  /** The values a string option takes, when fixed (for shell completion). */
  values?: readonly string[];
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** Options of a command's tail (after its name). */
export interface ParsedOptions {
  values: OptionValues;
  positionals: string[];
  /** Usage errors, in argv order; the values above hold what could still be read (e.g. --format). */
  errors: string[];
}

/** Options every command accepts after its name: `-C`/`--repo` (repeatable, like git -C) and `--help`. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'repo', short: 'C', type: 'string', multiple: true },
  { name: 'help', short: 'h', type: 'boolean' },
];

/** Options before the command name. */
const GLOBAL_OPTIONS: readonly OptionSpec[] = [...COMMON_OPTIONS, { name: 'version', short: 'V', type: 'boolean' }];

/** The command line split into a command and its parsed options. */
export type CommandLine =
  | { kind: 'help'; command: string | null; errors: string[] }
  | { kind: 'version'; errors: string[] }
  | { kind: 'none'; repo: string[]; errors: string[] }
  | { kind: 'command'; command: string; values: OptionValues; positionals: string[]; repo: string[]; errors: string[] };

/**
 * Parses `coffre [global options] <command> [options and positionals]`. `commands` gives each command's own
 * options (COMMON_OPTIONS are added); `-C` before and after the command are chained in order.
 */
export function parseCommandLine(argv: readonly string[], commands: Readonly<Record<string, readonly OptionSpec[]>>): CommandLine {
  // Global options stop at the first positional: the command name.
  let index = 0;
  const globalArgs: string[] = [];
  while (index < argv.length) {
    const arg = argv[index] as string;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') break;
    globalArgs.push(arg);
    // A string option's separate value belongs to the globals too.
    const spec = arg.startsWith('--') ? GLOBAL_OPTIONS.find((o) => o.name === arg.slice(2)) : arg.length === 2 ? GLOBAL_OPTIONS.find((o) => o.short === arg[1]) : undefined;
    if (spec?.type === 'string' && index + 1 < argv.length) globalArgs.push(argv[++index] as string);
    index++;
  }
  if (argv[index] === '--') index++;
  const global = parseOptions(globalArgs, GLOBAL_OPTIONS, 'coffre');
  const errors = [...global.errors];
  const repo = (global.values.repo as string[] | undefined) ?? [];
  const name = argv[index];
  const rest = argv.slice(index + 1);
  if (global.values.version === true) return { kind: 'version', errors };
  if (name === 'version' && rest.length === 0) return { kind: 'version', errors };
  if (name === 'help') return { kind: 'help', command: rest[0] ?? null, errors: rest.length > 1 ? [...errors, `help takes one command name, got ${rest.length}`] : errors };
  if (global.values.help === true) return { kind: 'help', command: name ?? null, errors };
  if (name === undefined) return { kind: 'none', repo, errors };
  const own = commands[name];
  if (own === undefined) {
    const hint = suggestion(name, [...Object.keys(commands), 'help', 'version']);
    return { kind: 'none', repo, errors: [...errors, `unknown command "${name}"${hint ? `; did you mean ${hint}?` : ''}`] };
  }
  const parsed = parseOptions(rest, [...COMMON_OPTIONS, ...own], `coffre ${name}`);
  return {
    kind: 'command',
    command: name,
    values: parsed.values,
    positionals: parsed.positionals,
    repo: [...repo, ...((parsed.values.repo as string[] | undefined) ?? [])],
    errors: [...errors, ...parsed.errors],
  };
}

/**
 * Parses options and positionals: `--name value`, `--name=value`, `-x value`, `-xvalue`, `-x=value`, grouped
 * short booleans (`-hV`), `--` ending options. A value starting with `-` must be attached (`--name=-x`), so a
 * forgotten value never swallows the next option. Unknown options are errors with the closest known name.
 */
export function parseOptions(args: readonly string[], specs: readonly OptionSpec[], who: string): ParsedOptions {
  const values: OptionValues = {};
  const positionals: string[] = [];
  const errors: string[] = [];
  const set = (spec: OptionSpec, value: string | boolean, shown: string): void => {
    if (spec.type === 'boolean') {
      values[spec.name] = value;
      return;
    }
    const text = value as string;
    const items = spec.list ? text.split(',').map((s) => s.trim()) : [text];
    if (items.some((item) => item === '')) {
      errors.push(`option ${shown} needs a non-empty value`);
      return;
    }
    if (spec.multiple) values[spec.name] = [...((values[spec.name] as string[] | undefined) ?? []), ...items];
    else if (values[spec.name] !== undefined && values[spec.name] !== text) errors.push(`option ${shown} given twice`);
    else values[spec.name] = text;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = specs.find((o) => o.name === name);
      if (spec === undefined) {
        const hint = suggestion(name, specs.map((o) => o.name));
        errors.push(`unknown option --${name} for ${who}${hint ? `; did you mean --${hint}?` : ''}`);
        continue;
      }
      if (spec.type === 'boolean') {
        if (eq !== -1) errors.push(`option --${name} takes no value`);
        else set(spec, true, `--${name}`);
        continue;
      }
      if (eq !== -1) {
        set(spec, arg.slice(eq + 1), `--${name}`);
        continue;
      }
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) {
        errors.push(`option --${name} needs a value${next === undefined ? '' : ` (for a value starting with "-", write --${name}=${next})`}`);
        continue;
      }
      set(spec, next, `--${name}`);
      i++;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      // Short options, possibly grouped: each boolean flag, then at most one string option taking the rest.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j] as string;
        const spec = specs.find((o) => o.short === letter);
        if (spec === undefined) {
          const longs = specs.filter((o) => o.short !== undefined).map((o) => `-${o.short} (--${o.name})`);
          errors.push(`unknown option -${letter} for ${who}${longs.length > 0 ? ` (short options: ${longs.join(', ')})` : ''}`);
          break;
        }
        if (spec.type === 'boolean') {
          if (arg[j + 1] === '=') {
            errors.push(`option -${letter} takes no value`);
            break;
          }
          set(spec, true, `-${letter}`);
          continue;
        }
        const attached = arg.slice(j + 1);
        if (attached !== '') {
          // `-s=web` is `-s web`, not a value "=web".
          set(spec, attached.startsWith('=') ? attached.slice(1) : attached, `-${letter}`);
        } else {
          const next = args[i + 1];
          if (next === undefined || (next.startsWith('-') && next !== '-')) {
            errors.push(`option -${letter} needs a value${next === undefined ? '' : ` (for a value starting with "-", write -${letter}=${next})`}`);
          } else {
            set(spec, next, `-${letter}`);
            i++;
          }
        }
        break;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals, errors };
}

/** The closest of `candidates` to `word` (Levenshtein), if close enough to be a typo. */
export function suggestion(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = levenshtein(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== null && bestDistance <= allowed ? best : null;
}

/** Edit distance (insertions, deletions, substitutions), two rows. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
