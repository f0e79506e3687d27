// `coffre completion bash|zsh|fish`: shell completion scripts generated from the command table that also drives
// parsing and --help, so a new command or option is completed without editing a script. Pure text generation.
import { COMMON_OPTIONS, type OptionSpec } from './args.js';

/** What completion needs of a command. */
export interface CompletionEntry {
  summary: string;
  options: readonly OptionSpec[];
  formats?: readonly string[];
  /** Words completed as the first positional (e.g. `token new`, `completion bash`). */
  subcommands?: readonly string[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Options before the command name (COMMON_OPTIONS plus --version). */
const GLOBAL: readonly OptionSpec[] = [...COMMON_OPTIONS, { name: 'version', short: 'V', type: 'boolean' }];

/** The completion script for `shell`. `table`: command name → entry (help and version are added). */
export function completionScript(shell: Shell, table: Readonly<Record<string, CompletionEntry>>): string {
  const all: Record<string, CompletionEntry> = {
    ...table,
    help: { summary: 'a command’s options', options: [], subcommands: Object.keys(table) },
    version: { summary: 'print the version', options: [] },
  };
  if (shell === 'bash') return bash(all);
  if (shell === 'zsh') return zsh(all);
  return fish(all);
}

/** Every option of a command as the shell sees it (its own plus -C/--repo and --help). */
function optionsOf(entry: CompletionEntry): OptionSpec[] {
  return [...COMMON_OPTIONS, ...entry.options];
}

/** The fixed values of a string option, if it has some. */
function valuesOf(entry: CompletionEntry, option: OptionSpec): readonly string[] | null {
  if (option.values) return option.values;
  if (option.name === 'format' && entry.formats) return entry.formats;
  return null;
}

/** Options naming a folder: -C/--repo, and --service (services are folders of the repo). */
const isFolder = (o: OptionSpec): boolean => o.name === 'repo' || o.name === 'service';

const flags = (o: OptionSpec): string[] => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])];

function bash(table: Record<string, CompletionEntry>): string {
  const cases = Object.entries(table).map(([name, entry]) => {
    const options = optionsOf(entry);
    const valued = options
      .filter((o) => o.type === 'string')
      .map((o) => {
        const values = valuesOf(entry, o);
        const action = values ? `COMPREPLY=($(compgen -W '${values.join(' ')}' -- "$cur"))` : isFolder(o) ? 'COMPREPLY=($(compgen -d -- "$cur"))' : 'COMPREPLY=($(compgen -f -- "$cur"))';
        return `        ${flags(o).join('|')}) ${action}; return ;;`;
      });
    const positional = entry.subcommands ? `compgen -W '${entry.subcommands.join(' ')}' -- "$cur"` : 'compgen -d -- "$cur"';
    return [
      `    ${name})`,
      ...(valued.length > 0 ? ['      case "$prev" in', ...valued, '      esac'] : []),
      `      opts='${options.flatMap(flags).join(' ')}'`,
      `      [[ $cur == -* ]] && COMPREPLY=($(compgen -W "$opts" -- "$cur")) || COMPREPLY=($(${positional}))`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for coffre (coffre completion bash); source it or put it in bash-completion's directory
_coffre() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i opts
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -C|--repo) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  COMPREPLY=()
  if [[ -z $cmd ]]; then
    case "$prev" in
      -C|--repo) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '${GLOBAL.flatMap(flags).join(' ')}' -- "$cur"))
    else
      COMPREPLY=($(compgen -W '${Object.keys(table).join(' ')}' -- "$cur"))
    fi
    return
  fi
  case "$cmd" in
${cases.join('\n')}
  esac
}
complete -o filenames -F _coffre coffre
`;
}

/** A zsh single-quoted word. */
const zq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
/** Text inside a zsh _arguments [description] or _describe item. */
const zdesc = (text: string): string => text.replace(/[[\]:\\]/g, (c) => `\\${c}`);

function zshSpec(entry: CompletionEntry, o: OptionSpec): string {
  const names = flags(o);
  const exclusive = !o.multiple && names.length > 1 ? `(${names.join(' ')})` : '';
  const repeat = o.multiple ? '*' : '';
  const values = valuesOf(entry, o);
  const argument = o.type === 'boolean' ? '' : values ? `:${o.name}:(${values.join(' ')})` : isFolder(o) ? ':directory:_files -/' : `:${o.name}:_files`;
  const spec = (flag: string): string => zq(`${exclusive}${repeat}${flag}${argument}`);
  return names.length > 1 ? names.map(spec).join(' ') : spec(names[0] as string);
}

function zsh(table: Record<string, CompletionEntry>): string {
  const described = Object.entries(table).map(([name, entry]) => `    ${zq(`${name}:${zdesc(entry.summary)}`)}`);
  const cases = Object.entries(table).map(([name, entry]) => {
    const specs = optionsOf(entry).map((o) => `        ${zshSpec(entry, o)}`);
    const positional = entry.subcommands ? `'*:${name}:(${entry.subcommands.join(' ')})'` : `'*:service:_files -/'`;
    return `    ${name})\n      _arguments -s \\\n${[...specs, `        ${positional}`].join(' \\\n')}\n      ;;`;
  });
  return `#compdef coffre
# zsh completion for coffre (coffre completion zsh); put it in a folder of $fpath as _coffre
_coffre() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  local curcontext="$curcontext" state line
  _arguments -C \\
${GLOBAL.map((o) => `    ${zshSpec({ summary: '', options: [] }, o)}`).join(' \\\n')} \\
    '1:command:->command' \\
    '*::argument:->argument'
  case $state in
    command) _describe -t commands 'coffre command' commands ;;
    argument)
      case $words[1] in
${cases.join('\n')}
      esac
      ;;
  esac
}
_coffre "$@"
`;
}

/** A fish single-quoted word. */
const fq = (text: string): string => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;

function fish(table: Record<string, CompletionEntry>): string {
  const lines = [
    '# fish completion for coffre (coffre completion fish); save as ~/.config/fish/completions/coffre.fish',
    'complete -c coffre -f',
    ...GLOBAL.map((o) => `complete -c coffre -n __fish_use_subcommand ${fishFlags(o)}${isFolder(o) ? " -r -a '(__fish_complete_directories)'" : ''}`),
  ];
  for (const [name, entry] of Object.entries(table)) {
    lines.push(`complete -c coffre -n __fish_use_subcommand -a ${name} -d ${fq(entry.summary)}`);
    const when = `-n ${fq(`__fish_seen_subcommand_from ${name}`)}`;
    for (const o of optionsOf(entry)) {
      const values = valuesOf(entry, o);
      const argument = o.type === 'boolean' ? '' : values ? ` -x -a ${fq(values.join(' '))}` : isFolder(o) ? " -r -a '(__fish_complete_directories)'" : ' -r -F';
      lines.push(`complete -c coffre ${when} ${fishFlags(o)}${argument}`);
    }
    lines.push(entry.subcommands ? `complete -c coffre ${when} -a ${fq(entry.subcommands.join(' '))}` : `complete -c coffre ${when} -a '(__fish_complete_directories)'`);
  }
  return `${lines.join('\n')}\n`;
}

const fishFlags = (o: OptionSpec): string => `-l ${o.name}${o.short ? ` -s ${o.short}` : ''}`;
