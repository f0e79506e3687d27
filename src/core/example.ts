// The model of a secrets example (`*.secrets.example`): its keys with line, example value and coffre
// annotations, every physical line classified, and warnings about traps. Parses text only, never the disk.
import { CoffreError } from '../errors.js';
import { parseEnvStatements, type EnvStatement } from './env-file.js';
import { parseGenerateSpec, type GenerateSpec } from './generate.js';
import { looksLikePlaceholder } from './placeholder.js';

/** One key an example declares. */
export interface ExampleKey {
  name: string;
  /** 1-based line of the (last) definition. */
  line: number;
  /**
   * The value written in the example as compose reads it (quotes and escapes applied); for a value with
   * `$` references, the text before expansion (`postgres://u:${DB_PASSWORD}@db`). "" for bare keys.
   */
  exampleValue: string;
  /** `# @optional` above it, or the key is commented out. */
  optional: boolean;
  /** `# @allow-empty` above it: an empty value counts as set. */
  allowEmpty: boolean;
  /** Written as a comment (`# KEY=value`): compose skips it, coffre treats it as optional. */
  commentedOut: boolean;
  /** `# @generate=<charset>:<length>` above it. */
  generate?: GenerateSpec;
  /** The example value is a stand-in (see placeholder.ts), or the `KEY=   # comment` trap. */
  looksLikePlaceholder: boolean;
  quote: 'none' | 'single' | 'double';
  /** The value holds `$` references: derived config to copy through, not a secret to fill in. */
  interpolated: boolean;
  /** A bare `KEY` line (no `=`): compose inherits it from the environment or omits it. */
  bare: boolean;
  /** Prose of the comment block above the key, annotations removed ("" when none). */
  comment: string;
}

export type ExampleWarningCode =
  | 'suspicious-inline-comment'
  | 'duplicate-key'
  | 'bare-key'
  | 'missing-newline-bare-key';

export interface ExampleWarning {
  line: number;
  code: ExampleWarningCode;
  /** Names the key, never quotes a value. */
  message: string;
  key?: string;
}

/** How one physical line of the example reads. */
export type ExampleLineKind = 'blank' | 'comment' | 'commented-key' | 'key' | 'continuation';

export interface ExampleLine {
  line: number;
  /** The line exactly as written, without its "\n" (a CR of a CRLF file is kept). */
  text: string;
  kind: ExampleLineKind;
  /** For `key`, `continuation` and `commented-key` lines: the key (the first one when a line holds two). */
  key?: string;
}

export interface ExampleModel {
  file: string;
  /** Keys in line order, one per name (the last definition wins, as in compose). */
  keys: ExampleKey[];
  warnings: ExampleWarning[];
  /** Every physical line, in order: a lossless view for tools that edit or display the example. */
  lines: ExampleLine[];
}

const KEY_CHARS = '[\\p{L}\\p{N}_.\\-\\[\\]]+';
const KEY_NAME = new RegExp(`^${KEY_CHARS}$`, 'u');
/** `# KEY=value`, `#KEY=value`, `## export KEY = value`: a key name with no spaces, then `=`. */
const COMMENTED_KEY = new RegExp(`^[ \\t]*#+[ \\t]*(?:export[ \\t]+)?(${KEY_CHARS})[ \\t]*=([^\\n]*)$`, 'u');
/** `@optional`, `@allow-empty`, `@generate=spec`, not inside an e-mail address or a longer word. */
const ANNOTATION = /(?<![\w@.-])@(optional|allow-empty|generate)(?![\w-])(?:=([^\s,;)]*))?/g;

interface Candidate {
  name: string;
  line: number;
  exampleValue: string;
  quote: ExampleKey['quote'];
  interpolated: boolean;
  bare: boolean;
  commentedOut: boolean;
  suspicious: boolean;
}

/**
 * Reads an example. Throws CoffreError('COFFRE_EXAMPLE_SYNTAX', …, { file, line }) when compose could not
 * read it or an annotation is malformed; `${V:?msg}` references do not fail (their variables are only
 * known at deploy time).
 */
export function parseExample(text: string, file: string): ExampleModel {
  const source = text.startsWith('\ufeff') ? text.slice(1) : text;
  const statements = parseEnvStatements(source, { file, missingRequired: 'empty' });

  const physical = source.split('\n');
  if (physical[physical.length - 1] === '') physical.pop();
  const lines: ExampleLine[] = physical.map((lineText, i) => ({ line: i + 1, text: lineText, kind: 'blank' }));
  const lineAt = (n: number): ExampleLine | undefined => lines[n - 1];

  const warnings: ExampleWarning[] = [];
  const candidates: Candidate[] = [];

  for (const s of statements) {
    for (let n = s.line; n <= s.endLine; n++) {
      const l = lineAt(n);
      if (l === undefined || l.kind === 'key') continue;
      l.kind = n === s.line ? 'key' : 'continuation';
      l.key = s.key;
    }
    const candidate = candidateOf(s, warnings);
    if (candidate !== null) {
      const l = lineAt(s.line);
      if (l !== undefined && l.key === '') l.key = candidate.name;
      candidates.push(candidate);
    }
  }

  for (const l of lines) {
    if (l.kind !== 'blank') continue;
    const trimmed = l.text.replace(/^[\s\u0085]+/u, '');
    if (trimmed === '') continue;
    // the parser consumed every non-comment line, so what is left and not blank is a comment
    l.kind = 'comment';
    const commented = COMMENTED_KEY.exec(l.text);
    if (commented === null) continue;
    l.kind = 'commented-key';
    l.key = commented[1]!;
    candidates.push(commentedOutCandidate(commented[1]!, commented[2]!, l.line));
  }

  const keys = resolveKeys(candidates, warnings).map((c) => toExampleKey(c, lines, file));
  warnings.sort((a, b) => a.line - b.line);
  return { file, keys, warnings, lines };
}

function candidateOf(s: EnvStatement, warnings: ExampleWarning[]): Candidate | null {
  if (s.missingSeparatorAtEof) {
    // compose-go reads a last line without "=" nor newline as a key named "" holding the line
    const name = s.value.trim();
    const valid = KEY_NAME.test(name);
    warnings.push({
      line: s.line,
      code: 'missing-newline-bare-key',
      message: valid
        ? `${name} is the last line without "=" nor a final newline: compose would read a key named "" instead; add "=" or a newline`
        : 'the last line has no "=" nor a final newline: compose would read it as a key named ""',
      ...(valid ? { key: name } : {}),
    });
    if (!valid) return null;
    return { name, line: s.line, exampleValue: '', quote: 'none', interpolated: false, bare: true, commentedOut: false, suspicious: false };
  }
  if (s.kind === 'bare') {
    warnings.push({
      line: s.line,
      code: 'bare-key',
      key: s.key,
      message: `${s.key} has no "=": compose takes it from the environment or leaves it unset`,
    });
    return { name: s.key, line: s.line, exampleValue: '', quote: 'none', interpolated: false, bare: true, commentedOut: false, suspicious: false };
  }
  const suspicious = s.quote === 'none' && s.gapAfterSeparator !== '' && s.value.startsWith('#');
  if (suspicious) {
    warnings.push({
      line: s.line,
      code: 'suspicious-inline-comment',
      key: s.key,
      message:
        `${s.key}= is followed by blanks then "#": compose takes that comment as the value (no " #" is left once ` +
        `the blanks are trimmed); write ${s.key}= alone and move the comment to the line above`,
    });
  }
  return {
    name: s.key,
    line: s.line,
    exampleValue: s.interpolated ? (s.template ?? s.value) : s.value,
    quote: s.quote,
    interpolated: s.interpolated,
    bare: false,
    commentedOut: false,
    suspicious,
  };
}

function commentedOutCandidate(name: string, rest: string, line: number): Candidate {
  let exampleValue = rest.trim();
  let quote: Candidate['quote'] = 'none';
  let interpolated = false;
  try {
    const [s] = parseEnvStatements(`${name}=${rest}`, { missingRequired: 'empty' });
    if (s !== undefined && s.kind === 'assignment') {
      exampleValue = s.interpolated ? (s.template ?? s.value) : s.value;
      quote = s.quote;
      interpolated = s.interpolated;
    }
  } catch {
    // a commented-out line need not be valid (e.g. the first line of a multi-line value): keep its text
  }
  return { name, line, exampleValue, quote, interpolated, bare: false, commentedOut: true, suspicious: false };
}

/** One candidate per name: the last real definition wins; commented-out lines only fill in absent names. */
function resolveKeys(candidates: Candidate[], warnings: ExampleWarning[]): Candidate[] {
  const real = new Map<string, Candidate>();
  const commented = new Map<string, Candidate>();
  for (const c of candidates.filter((x) => !x.commentedOut).sort((a, b) => a.line - b.line)) {
    const earlier = real.get(c.name);
    if (earlier !== undefined) {
      warnings.push({
        line: c.line,
        code: 'duplicate-key',
        key: c.name,
        message: `${c.name} is defined again (first at line ${earlier.line}); the last definition wins`,
      });
    }
    real.set(c.name, c);
  }
  for (const c of candidates.filter((x) => x.commentedOut)) {
    if (!real.has(c.name)) commented.set(c.name, c);
  }
  return [...real.values(), ...commented.values()].sort((a, b) => a.line - b.line);
}

function toExampleKey(c: Candidate, lines: ExampleLine[], file: string): ExampleKey {
  const block = commentBlockAbove(lines, c.line);
  let optional = c.commentedOut;
  let allowEmpty = false;
  let generate: GenerateSpec | undefined;
  const prose: string[] = [];
  for (const l of block) {
    for (const m of l.text.matchAll(ANNOTATION)) {
      const [, name, argument] = m;
      if (name === 'optional') optional = true;
      else if (name === 'allow-empty') allowEmpty = true;
      else {
        const spec = parseGenerateSpec(argument ?? '');
        if ('invalid' in spec) {
          throw new CoffreError('COFFRE_EXAMPLE_SYNTAX', `@generate for ${c.name}: ${spec.invalid}`, { file, line: l.line });
        }
        generate = spec;
      }
    }
    const text = l.text.replace(ANNOTATION, '').replace(/^[\s\u0085]*#+/u, '').trim();
    if (text !== '') prose.push(text);
  }
  const key: ExampleKey = {
    name: c.name,
    line: c.line,
    exampleValue: c.exampleValue,
    optional,
    allowEmpty,
    commentedOut: c.commentedOut,
    looksLikePlaceholder: c.suspicious || (!c.interpolated && looksLikePlaceholder(c.exampleValue)),
    quote: c.quote,
    interpolated: c.interpolated,
    bare: c.bare,
    comment: prose.join('\n'),
  };
  if (generate !== undefined) key.generate = generate;
  return key;
}

/** The contiguous comment lines directly above `line` (a blank, key or commented-out key line ends it). */
function commentBlockAbove(lines: ExampleLine[], line: number): ExampleLine[] {
  const block: ExampleLine[] = [];
  for (let n = line - 1; n >= 1; n--) {
    const l = lines[n - 1];
    if (l === undefined || l.kind !== 'comment') break;
    block.unshift(l);
  }
  return block;
}

/**
 * The example of a compose secret file (`secrets.<name>.file`): the whole text is one value, under `key`. It is
 * never optional; a stand-in text (`changeme`) makes an equal stored value a placeholder.
 */
export function secretFileExample(text: string, file: string, key: string): ExampleModel {
  const lines: ExampleLine[] = (text === '' ? [''] : text.replace(/\n$/, '').split('\n')).map((line, index) => ({ line: index + 1, text: line, kind: index === 0 ? 'key' : 'continuation', key }));
  return {
    file,
    keys: [
      {
        name: key,
        line: 1,
        exampleValue: text,
        optional: false,
        allowEmpty: false,
        commentedOut: false,
        looksLikePlaceholder: looksLikePlaceholder(text),
        quote: 'none',
        interpolated: false,
        bare: false,
        comment: '',
      },
    ],
    warnings: [],
    lines,
  };
}
