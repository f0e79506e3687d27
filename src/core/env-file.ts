// The env_file dialects: docker compose v2's dotenv grammar (a port of compose-go dotenv/parser.go and
// template/template.go), docker/cli's kvfile (`format: raw`), and the byte-exact serialisers for both.
// Pure functions over strings: no I/O, and no secret value ever goes into an error message.
import { CoffreError } from '../errors.js';

/** One `KEY=value` read from an env file, as compose would see it. */
export interface EnvEntry {
  key: string;
  /** The value compose would hand to the container (quotes, escapes and `$` expansion applied). */
  value: string;
  /** 1-based line of the key. */
  line: number;
  quote: 'none' | 'single' | 'double';
  /** True when the value contained a `$` expansion (`$V`, `${V}`, `${V:-d}`…); `$$` alone does not count. */
  interpolated: boolean;
  /** The value before `$` expansion (after quote and escape processing); present when `interpolated`. */
  template?: string;
}

/** An env file read in order; duplicates are all kept (callers take the last). */
export interface EnvFile {
  entries: EnvEntry[];
}

/** How `$` expansion resolves names that are not keys of the file itself. */
export type EnvLookup = (name: string) => string | undefined;

export interface ParseEnvFileOptions {
  /** Named in error locations. */
  file?: string;
  /** Project environment; consulted before earlier keys of the file, like compose does. */
  lookup?: EnvLookup;
  /**
   * What `${V:?msg}` / `${V?msg}` do when V is missing: `error` (compose's behaviour, the default) or
   * `empty` (expand to ""), for reading examples whose variables are only known at deploy time.
   */
  missingRequired?: 'error' | 'empty';
}

/**
 * One statement of a compose env file with its source position, including bare keys (`KEY` without `=`)
 * that `parseEnvFile` drops when the lookup does not know them. Used by the example model.
 */
export interface EnvStatement {
  kind: 'assignment' | 'bare';
  key: string;
  /** For assignments, the compose value; for bare keys, the looked-up value or "" when not found. */
  value: string;
  /** Bare keys only: whether the lookup knew the key (compose omits it otherwise). */
  found: boolean;
  line: number;
  /** Last line the statement occupies (differs from `line` for multi-line quoted values). */
  endLine: number;
  quote: 'none' | 'single' | 'double';
  interpolated: boolean;
  template?: string;
  /** Blanks between the `=`/`:` separator and the value (compose trims them). */
  gapAfterSeparator: string;
  /**
   * compose-go quirk: a last line without separator nor newline (`B=2\nA`) is read as a key named ""
   * whose value is the line (`A`). Such statements have `key === ''` and this flag.
   */
  missingSeparatorAtEof: boolean;
}

const DQUOTE = 0x22;
const SQUOTE = 0x27;
const HASH = 0x23;
const NEWLINE = 0x0a;

/** Go's unicode.IsSpace (Latin-1 spaces plus the Unicode White_Space property), not JS `\s`. */
function isUnicodeSpace(c: number): boolean {
  switch (c) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20: case 0x85: case 0xa0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

/** compose-go's `isSpace`: a blank that is not a line break. */
function isLineSpace(c: number): boolean {
  switch (c) {
    case 0x09: case 0x0b: case 0x0c: case 0x0d: case 0x20: case 0x85: case 0xa0:
      return true;
    default:
      return false;
  }
}

function trimRightUnicodeSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isUnicodeSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

const LETTER_OR_NUMBER = /^[\p{L}\p{N}]$/u;
// Go's regexp `\s` is ASCII [\t\n\f\r ]: no \v.
const EXPORT_PREFIX = /export[\t\n\f\r ]+/y;

/** Counts lines as the parser moves forward through the text (offsets only increase). */
class LineCounter {
  private offset = 0;
  private line = 1;
  constructor(private readonly text: string) {}
  at(offset: number): number {
    if (offset < this.offset) {
      this.offset = 0;
      this.line = 1;
    }
    for (let i = this.offset; i < offset; i++) if (this.text.charCodeAt(i) === NEWLINE) this.line++;
    this.offset = offset;
    return this.line;
  }
}

function syntaxError(message: string, file: string | undefined, line: number): CoffreError {
  return new CoffreError('COFFRE_EXAMPLE_SYNTAX', file === undefined ? `line ${line}: ${message}` : message, {
    ...(file === undefined ? {} : { file }),
    line,
  });
}

function describeChar(cp: number): string {
  if (cp >= 0x21 && cp <= 0x7e) return JSON.stringify(String.fromCodePoint(cp));
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

const BOM = '\ufeff';

/**
 * Reads an env file exactly as docker compose v2 does for `env_file` (compose-go dotenv): comments,
 * inline ` #` comments on unquoted values, single/double quotes, escapes, `$` interpolation, `export `,
 * `:` separators, CRLF, a leading BOM. Bare keys appear only when `lookup` knows them.
 * Throws CoffreError('COFFRE_EXAMPLE_SYNTAX') with file and line on syntax errors.
 */
export function parseEnvFile(text: string, options: ParseEnvFileOptions = {}): EnvFile {
  const entries: EnvEntry[] = [];
  for (const s of parseEnvStatements(text, options)) {
    if (s.kind === 'bare' && !s.found) continue;
    const entry: EnvEntry = { key: s.key, value: s.value, line: s.line, quote: s.quote, interpolated: s.interpolated };
    if (s.template !== undefined) entry.template = s.template;
    entries.push(entry);
  }
  return { entries };
}

/** Every statement of a compose env file, bare keys included, with positions. See `parseEnvFile`. */
export function parseEnvStatements(text: string, options: ParseEnvFileOptions = {}): EnvStatement[] {
  const { file } = options;
  const lookup = options.lookup ?? (() => undefined);
  const src = text.startsWith(BOM) ? text.slice(1) : text;
  const len = src.length;
  const lines = new LineCounter(src);
  const known = new Map<string, string>();
  const statements: EnvStatement[] = [];
  const mapping: Mapping = (name) => {
    const fromLookup = lookup(name);
    if (fromLookup !== undefined) return fromLookup;
    return known.get(name);
  };

  let interpolatedTotal = 0;
  let pos = 0;
  for (;;) {
    pos = statementStart(src, pos);
    if (pos < 0) break;

    // export prefix
    let p = pos;
    EXPORT_PREFIX.lastIndex = p;
    if (EXPORT_PREFIX.test(src)) {
      p += 'export'.length;
      while (p < len && isLineSpace(src.charCodeAt(p))) p++;
    }
    if (p >= len) throw syntaxError('"export" without a variable name', file, lines.at(pos));

    // key: ends at the first '=', ':' or newline; blanks are skipped here and rejected below
    let sepAt = -1;
    for (let i = p; i < len; ) {
      const cp = src.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      if (cp === 0x3d || cp === 0x3a || cp === NEWLINE) {
        sepAt = i;
        break;
      }
      if (
        isLineSpace(cp) ||
        cp === 0x5f || cp === 0x2e || cp === 0x2d || cp === 0x5b || cp === 0x5d ||
        LETTER_OR_NUMBER.test(String.fromCodePoint(cp))
      ) {
        i += width;
        continue;
      }
      throw syntaxError(`unexpected character ${describeChar(cp)} in a variable name`, file, lines.at(i));
    }
    const keyLine = lines.at(p);

    let key: string;
    let valueStart: number;
    let bare = false;
    let missingSeparatorAtEof = false;
    if (sepAt < 0) {
      key = '';
      valueStart = p;
      missingSeparatorAtEof = true;
    } else {
      key = trimRightUnicodeSpace(src.slice(p, sepAt));
      valueStart = sepAt + 1;
      bare = src.charCodeAt(sepAt) === NEWLINE;
    }
    if (key.includes(' ')) throw syntaxError('a variable name cannot contain a space', file, keyLine);
    const gapStart = valueStart;
    while (valueStart < len && isLineSpace(src.charCodeAt(valueStart))) valueStart++;
    const gapAfterSeparator = src.slice(gapStart, valueStart);

    if (bare) {
      const found = lookup(key);
      statements.push({
        kind: 'bare', key, value: found ?? '', found: found !== undefined, line: keyLine, endLine: keyLine,
        quote: 'none', interpolated: false, gapAfterSeparator: '', missingSeparatorAtEof: false,
      });
      if (found !== undefined) known.set(key, found);
      pos = valueStart;
      continue;
    }

    const first = src.charCodeAt(valueStart);
    let raw: string;
    let quote: EnvStatement['quote'];
    let end: number;
    if (first === DQUOTE || first === SQUOTE) {
      quote = first === DQUOTE ? 'double' : 'single';
      const closed = readQuoted(src, valueStart, first);
      if (closed === null) throw syntaxError(`unterminated quoted value (opened with ${quote === 'double' ? '"' : "'"})`, file, keyLine);
      raw = quote === 'double' ? expandEscapes(closed.chars) : closed.chars;
      end = closed.end;
    } else {
      quote = 'none';
      const nl = src.indexOf('\n', valueStart);
      end = nl < 0 ? len : nl + 1;
      let value = src.slice(valueStart, nl < 0 ? len : nl);
      const comment = value.indexOf(' #');
      if (comment >= 0) value = value.slice(0, comment);
      raw = trimRightUnicodeSpace(value);
    }

    let value = raw;
    let interpolated = false;
    if (quote !== 'single') {
      const result = substitute(raw, mapping, options.missingRequired ?? 'error');
      if (result.error !== undefined) throw syntaxError(`${result.error} (value of ${JSON.stringify(key)})`, file, keyLine);
      value = result.value;
      interpolated = result.interpolated;
      if (interpolated) {
        interpolatedTotal += value.length;
        if (interpolatedTotal > MAX_INTERPOLATED_TOTAL) {
          throw syntaxError(`\${…} expansions of this file add up to more than ${MAX_INTERPOLATED_TOTAL} characters (value of ${JSON.stringify(key)})`, file, keyLine);
        }
      }
    }
    const endLine = lines.at(Math.max(valueStart, end - 1));
    const statement: EnvStatement = {
      kind: 'assignment', key, value, found: true, line: keyLine, endLine, quote, interpolated,
      gapAfterSeparator, missingSeparatorAtEof,
    };
    if (interpolated) statement.template = raw;
    statements.push(statement);
    known.set(key, value);
    pos = end;
  }
  return statements;
}

/** Offset of the next statement, skipping blanks and full-line comments; -1 at the end. */
function statementStart(src: string, from: number): number {
  let pos = from;
  for (;;) {
    while (pos < src.length && isUnicodeSpace(src.charCodeAt(pos))) pos++;
    if (pos >= src.length) return -1;
    if (src.charCodeAt(pos) !== HASH) return pos;
    const nl = src.indexOf('\n', pos);
    if (nl < 0) return -1;
    pos = nl;
  }
}

/**
 * Reads a quoted value starting at the opening quote. Mirrors compose-go: a backslash before the closing
 * quote kind yields the quote; any other backslash is kept with the next char (escapes come later).
 */
function readQuoted(src: string, open: number, quote: number): { chars: string; end: number } | null {
  let chars = '';
  let previousIsEscape = false;
  let runStart = open + 1;
  for (let i = open + 1; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c !== quote) {
      if (!previousIsEscape && c === 0x5c) {
        chars += src.slice(runStart, i);
        previousIsEscape = true;
        runStart = i + 1;
        continue;
      }
      if (previousIsEscape) {
        previousIsEscape = false;
        chars += '\\';
      }
      continue;
    }
    chars += src.slice(runStart, i);
    runStart = i + 1;
    if (previousIsEscape) {
      previousIsEscape = false;
      chars += src[i];
      continue;
    }
    return { chars, end: i + 1 };
  }
  return null;
}

const ESCAPE_SEQUENCE = /\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})/g;
const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"',
};

/**
 * compose-go `expandEscapes`: `\a \b \f \n \r \t \v \\ \"`, `\$` → `$$` (left for the template pass),
 * `\0NNN` octal via Go's strconv.UnquoteChar; a sequence Go refuses comes out rewritten (`\0` → `\`).
 */
function expandEscapes(s: string): string {
  return s.replace(ESCAPE_SEQUENCE, (match) => {
    if (match === '\\$') return '$$';
    const rewritten = match.startsWith('\\0') ? '\\' + match.slice(2) : match;
    if (rewritten.length < 2) return rewritten;
    const c = rewritten[1]!;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    if (c >= '0' && c <= '7') {
      const digits = rewritten.slice(2);
      if (digits.length < 2) return rewritten;
      let v = c.charCodeAt(0) - 0x30;
      for (let j = 0; j < 2; j++) {
        const x = digits.charCodeAt(j) - 0x30;
        if (x < 0 || x > 7) return rewritten;
        v = (v << 3) | x;
      }
      if (v > 255) return rewritten;
      return String.fromCodePoint(v);
    }
    return rewritten;
  });
}

// compose-go template.DefaultPattern, matched by hand so that the scan stays linear (a backtracking
// RegExp would rescan the rest of the line at every `${`):
//   \$(?i:(\$)|([_a-z][_a-z0-9]*)|{(?:([_a-z][_a-z0-9]*(?::?[-+?](.*))?)}|()))
// `(?i)[a-z]` in Go also matches U+017F (ſ) and U+212A (Kelvin sign) by case folding; Go's `.` excludes
// only "\n", so a braced expansion with an operator runs to the last `}` of its line.
function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x17f || c === 0x212a;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39);
}
function isOperatorChar(c: number): boolean {
  return c === 0x2d || c === 0x2b || c === 0x3f;
}

type TemplateMatchKind = 'escaped' | 'named' | 'braced' | 'invalid';
interface TemplateMatch {
  kind: TemplateMatchKind;
  /** Offset just past the match. */
  end: number;
  /** For `braced`: offset just past the variable name. */
  nameEnd: number;
}

/** The last `}` of each line, computed once per line. */
class LastBraceOfLine {
  private lineFrom = -1;
  private lineEnd = -1;
  private lastBrace = -1;
  constructor(private readonly s: string) {}
  /** Offset of the last `}` at or after `from` and before the next newline, or -1. */
  from(from: number): number {
    if (from < this.lineFrom || from > this.lineEnd) {
      const nl = this.s.indexOf('\n', from);
      this.lineFrom = from;
      this.lineEnd = nl < 0 ? this.s.length : nl;
      this.lastBrace = this.s.lastIndexOf('}', this.lineEnd - 1);
    }
    return this.lastBrace >= from ? this.lastBrace : -1;
  }
}

/** The match of DefaultPattern starting at the `$` at offset `at`, or null when none starts there. */
function matchTemplateAt(s: string, at: number, braces: LastBraceOfLine): TemplateMatch | null {
  const c = s.charCodeAt(at + 1);
  if (c === 0x24) return { kind: 'escaped', end: at + 2, nameEnd: at + 2 };
  if (isNameStart(c)) {
    let j = at + 2;
    while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
    return { kind: 'named', end: j, nameEnd: j };
  }
  if (c !== 0x7b) return null;
  const invalid: TemplateMatch = { kind: 'invalid', end: at + 2, nameEnd: at + 2 };
  if (!isNameStart(s.charCodeAt(at + 2))) return invalid;
  let j = at + 3;
  while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
  if (s.charCodeAt(j) === 0x7d) return { kind: 'braced', end: j + 1, nameEnd: j };
  let k = j;
  if (s.charCodeAt(k) === 0x3a) k++;
  if (!isOperatorChar(s.charCodeAt(k))) return invalid;
  const close = braces.from(k + 1);
  return close < 0 ? invalid : { kind: 'braced', end: close + 1, nameEnd: j };
}

type Mapping = (name: string) => string | undefined;
interface SubstituteResult {
  value: string;
  interpolated: boolean;
  error?: string;
}

type Operator = ':?' | '?' | ':-' | '-' | ':+' | '+';

/** Deeper nesting of used defaults is refused rather than risking the call stack. */
const MAX_NESTING = 64;
/**
 * Interpolation output caps: one value, and all values of one file together. `A1=${A0}${A0}`, `A2=${A1}${A1}`…
 * doubles per line; without a bound a few hundred bytes would ask for gigabytes.
 */
export const MAX_INTERPOLATED_VALUE = 1024 * 1024;
export const MAX_INTERPOLATED_TOTAL = 8 * 1024 * 1024;

/** compose-go template.Substitute: `$$`, `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`, `${V:+r}`, `${V+r}`. */
function substitute(template: string, mapping: Mapping, missingRequired: 'error' | 'empty', depth = 0): SubstituteResult {
  if (depth > MAX_NESTING) return { value: '', interpolated: true, error: `\${…} defaults nested more than ${MAX_NESTING} deep` };
  const braces = new LastBraceOfLine(template);
  let out = '';
  let copied = 0;
  let interpolated = false;
  let error: string | undefined;
  for (let i = 0; ; ) {
    const at = template.indexOf('$', i);
    if (at < 0) break;
    const match = matchTemplateAt(template, at, braces);
    if (match === null) {
      i = at + 1;
      continue;
    }
    out += template.slice(copied, at);
    const r = expandMatch(template, at, match, mapping, missingRequired, depth);
    out += r.value;
    if (r.interpolated) interpolated = true;
    if (r.error !== undefined && error === undefined) error = r.error;
    if (out.length > MAX_INTERPOLATED_VALUE) {
      return { value: '', interpolated: true, error: error ?? `\${…} expands to more than ${MAX_INTERPOLATED_VALUE} characters` };
    }
    copied = i = r.resumeAt;
  }
  out += template.slice(copied);
  return error === undefined ? { value: out, interpolated } : { value: out, interpolated, error };
}

/**
 * compose-go DefaultReplacementAppliedFunc. It cuts a braced match at its first balanced `}` and
 * substitutes the rest of the match separately; continuing the scan right after that `}` is equivalent
 * (the rest ends at the same last `}` of the line) and keeps the stack flat.
 */
function expandMatch(
  s: string, at: number, match: TemplateMatch, mapping: Mapping, missingRequired: 'error' | 'empty', depth: number,
): SubstituteResult & { resumeAt: number } {
  switch (match.kind) {
    case 'escaped':
      return { value: '$', interpolated: false, resumeAt: match.end };
    case 'named':
      return { value: mapping(s.slice(at + 1, match.end)) ?? '', interpolated: true, resumeAt: match.end };
    case 'invalid':
      return { value: '', interpolated: false, error: 'invalid template: an unclosed "${" or a bad variable name', resumeAt: match.end };
    case 'braced': {
      const name = s.slice(at + 2, match.nameEnd);
      if (match.end === match.nameEnd + 1) return { value: mapping(name) ?? '', interpolated: true, resumeAt: match.end };
      const closing = firstBraceClosingIndex(s, at, match.end);
      const end = closing < 0 ? match.end : closing + 1;
      const operator = (s[match.nameEnd] === ':' ? s.slice(match.nameEnd, match.nameEnd + 2) : s[match.nameEnd]) as Operator;
      const argument = s.slice(match.nameEnd + operator.length, end - 1);
      const applied = applyOperator(operator, name, argument, mapping, missingRequired, depth);
      return { ...applied, interpolated: true, resumeAt: end };
    }
  }
}

function applyOperator(
  operator: Operator, variable: string, argument: string, mapping: Mapping, missingRequired: 'error' | 'empty', depth: number,
): SubstituteResult {
  const value = mapping(variable);
  switch (operator) {
    case ':-':
    case '-': {
      if (value === undefined || (operator === ':-' && value === '')) return substitute(argument, mapping, missingRequired, depth + 1);
      return { value, interpolated: true };
    }
    case ':+':
    case '+': {
      if (value !== undefined && (operator === '+' || value !== '')) return substitute(argument, mapping, missingRequired, depth + 1);
      return { value: value ?? '', interpolated: true };
    }
    case ':?':
    case '?': {
      if (value === undefined || (operator === ':?' && value === '')) {
        const reason = substitute(argument, mapping, missingRequired, depth + 1);
        if (reason.error !== undefined) return { value: '', interpolated: true, error: reason.error };
        if (missingRequired === 'empty') return { value: '', interpolated: true };
        // the reason text is part of the value: name the variable only
        return { value: '', interpolated: true, error: `required variable ${variable} is missing a value` };
      }
      return { value, interpolated: true };
    }
  }
}

/**
 * compose-go getFirstBraceClosingIndex over s[from, to), including its skip of the char after each `{`;
 * returns an absolute offset or -1.
 */
function firstBraceClosingIndex(s: string, from: number, to: number): number {
  let open = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x7d) {
      open--;
      if (open === 0) return i;
    }
    if (c === 0x7b) {
      open++;
      i++;
    }
  }
  return -1;
}

export interface ParseRawEnvFileOptions {
  file?: string;
  /** Value for a line holding only `KEY`; the key is omitted when this returns undefined. */
  lookup?: EnvLookup;
  /**
   * Strip one pair of matching outer quotes (`"v"` / `'v'` → `v`) as docker/cli's kvfile did at the commit
   * the design doc cites; other docker/cli versions keep them. Default true.
   */
  stripMatchingQuotes?: boolean;
}

/** bufio.MaxScanTokenSize: a longer line makes docker/cli's scanner fail. */
const RAW_MAX_LINE_BYTES = 64 * 1024 - 1;

/**
 * Reads a `format: raw` env file like docker/cli `pkg/kvfile`: one `KEY=VALUE` per line, value verbatim
 * (no comments after values, no escapes, no interpolation, trailing blanks kept), leading blanks of a
 * line ignored, `#` lines skipped, CR before LF dropped, BOM stripped.
 */
export function parseRawEnvFile(text: string, options: ParseRawEnvFileOptions = {}): EnvFile {
  const { file, lookup } = options;
  const strip = options.stripMatchingQuotes ?? true;
  const entries: EnvEntry[] = [];
  const physical = text.split('\n');
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  physical.forEach((scanned, index) => {
    const lineNo = index + 1;
    let lineText = scanned.endsWith('\r') ? scanned.slice(0, -1) : scanned;
    if (utf8Length(scanned) > RAW_MAX_LINE_BYTES) throw rawError('line too long for docker/cli (64 KiB)', file, lineNo);
    if (hasLoneSurrogate(lineText)) throw rawError('invalid UTF-8', file, lineNo);
    if (lineNo === 1 && lineText.startsWith(BOM)) lineText = lineText.slice(1);
    let start = 0;
    while (start < lineText.length && isUnicodeSpace(lineText.charCodeAt(start))) start++;
    const line = lineText.slice(start);
    if (line.length === 0 || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key.length === 0) throw rawError('no variable name', file, lineNo);
    if (/[ \t]/.test(key)) throw rawError('a variable name cannot contain whitespace', file, lineNo);
    if (eq >= 0) {
      let value = line.slice(eq + 1);
      let quote: EnvEntry['quote'] = 'none';
      if (strip && isWrappedInMatchingQuotes(value)) {
        quote = value.startsWith('"') ? 'double' : 'single';
        value = value.slice(1, -1);
      }
      entries.push({ key, value, line: lineNo, quote, interpolated: false });
      return;
    }
    const found = lookup?.(key);
    if (found !== undefined) entries.push({ key, value: found, line: lineNo, quote: 'none', interpolated: false });
  });
  return { entries };
}

function rawError(message: string, file: string | undefined, line: number): CoffreError {
  return syntaxError(message, file, line);
}

function isWrappedInMatchingQuotes(value: string): boolean {
  if (value.length < 2) return false;
  const first = value[0];
  return (first === '"' || first === "'") && value[value.length - 1] === first;
}

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const COMPOSE_KEY = /^[\p{L}\p{N}_.\-[\]]+$/u;
/**
 * Letters and digits assigned after Unicode 15.0, the tables of every Go release since 1.21: compose-go's
 * `unicode.IsLetter`/`IsNumber` refuse them in a key ("unexpected character"), so a file using one would not
 * load. Listed from Go 1.26 vs this Node's Unicode by test/oracle (compose-go reads the file).
 */
const NEWER_THAN_COMPOSE_UNICODE = /[\u{88f}\u{c5c}\u{cdc}\u{1c89}-\u{1c8a}\u{a7cb}-\u{a7cf}\u{a7d2}\u{a7d4}\u{a7da}-\u{a7dc}\u{a7f1}\u{105c0}-\u{105f3}\u{10940}-\u{10959}\u{10d40}-\u{10d65}\u{10d6f}-\u{10d85}\u{10ec2}-\u{10ec7}\u{11380}-\u{11389}\u{1138b}\u{1138e}\u{11390}-\u{113b5}\u{113b7}\u{113d1}\u{113d3}\u{116d0}-\u{116e3}\u{11bc0}-\u{11be0}\u{11bf0}-\u{11bf9}\u{11db0}-\u{11ddb}\u{11de0}-\u{11de9}\u{13460}-\u{143fa}\u{16100}-\u{1611d}\u{16130}-\u{16139}\u{16d40}-\u{16d6c}\u{16d70}-\u{16d79}\u{16ea0}-\u{16eb8}\u{16ebb}-\u{16ed3}\u{16ff2}-\u{16ff6}\u{187f8}-\u{187ff}\u{18cff}\u{18d09}-\u{18d1e}\u{18d80}-\u{18df2}\u{1ccf0}-\u{1ccf9}\u{1e5d0}-\u{1e5ed}\u{1e5f0}-\u{1e5fa}\u{1e6c0}-\u{1e6de}\u{1e6e0}-\u{1e6e2}\u{1e6e4}-\u{1e6e5}\u{1e6e7}-\u{1e6ed}\u{1e6f0}-\u{1e6f4}\u{1e6fe}-\u{1e6ff}\u{2b73a}-\u{2b73f}\u{2cea2}-\u{2cead}\u{2ebf0}-\u{2ee5d}\u{323b0}-\u{33479}]/u;

/**
 * Serialises entries, LF endings, final newline, no BOM, keys unchanged.
 * `compose`: `KEY="…"` escaping `\` `"` `$`, LF as `\n`, CR as `\r` — reads back byte-exact through compose.
 * `raw`: `KEY=VALUE` verbatim; throws COFFRE_RAW_VALUE_UNSUPPORTED (naming the key only) for a value the
 * kvfile cannot carry: a newline or CR, matching outer quotes (stripped by some docker/cli versions),
 * invalid UTF-8, a line over 64 KiB.
 */
export function serializeEnvFile(entries: Array<{ key: string; value: string }>, format: 'compose' | 'raw'): string {
  let out = '';
  for (const { key, value } of entries) {
    out += format === 'compose' ? composeLine(key, value) : rawLine(key, value);
  }
  return out;
}

function composeLine(key: string, value: string): string {
  if (!COMPOSE_KEY.test(key) || NEWER_THAN_COMPOSE_UNICODE.test(key)) {
    throw new CoffreError(
      'COFFRE_RENDER_MISMATCH',
      `key ${JSON.stringify(key)} cannot be written to a compose env_file (allowed: letters and digits of Unicode 15.0, _ . - [ ])`,
    );
  }
  if (hasLoneSurrogate(value)) {
    throw new CoffreError('COFFRE_RENDER_MISMATCH', `the value of ${key} is not valid Unicode (lone surrogate); it cannot be written as UTF-8`);
  }
  const escaped = value.replace(/[\\"$\n\r]/g, (c) => ESCAPED_FOR_COMPOSE[c]!);
  return `${key}="${escaped}"\n`;
}

const ESCAPED_FOR_COMPOSE: Record<string, string> = { '\\': '\\\\', '"': '\\"', $: '\\$', '\n': '\\n', '\r': '\\r' };

function rawLine(key: string, value: string): string {
  const unsupported = (why: string) =>
    new CoffreError('COFFRE_RAW_VALUE_UNSUPPORTED', `${JSON.stringify(key)}: ${why}`);
  if (key.length === 0 || key.startsWith('#') || key.includes('=') || hasLoneSurrogate(key) || [...key].some((c) => isUnicodeSpace(c.codePointAt(0)!))) {
    throw unsupported('this key cannot be written to a format: raw env_file (empty, starts with #, or holds = or whitespace)');
  }
  if (value.includes('\n') || value.includes('\r')) throw unsupported('format: raw cannot carry a value with a line break');
  if (isWrappedInMatchingQuotes(value)) {
    throw unsupported('format: raw cannot carry a value wrapped in matching quotes (some docker versions strip them)');
  }
  if (hasLoneSurrogate(value)) throw unsupported('the value is not valid Unicode (lone surrogate)');
  const line = `${key}=${value}`;
  if (utf8Length(line) > RAW_MAX_LINE_BYTES) throw unsupported('the line would exceed docker/cli\'s 64 KiB line limit');
  return `${line}\n`;
}
