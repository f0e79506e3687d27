// The sops INI store, read side: gopkg.in/ini.v1 parsing rules (as sops loads it: non-unique sections,
// implicit DEFAULT section), each section a top-level map of strings, `[sops]` as flattened metadata.
// No crypto here.
import { CoffreError } from '../errors.js';
import { unflattenMetadata, type PlainValue } from './metadata.js';
import type { SopsComment, SopsMap, SopsMapEntry } from './tree.js';

/** What the INI store hands to parseSopsFile. */
export interface IniStoreContent {
  branches: SopsMap[];
  metadata: PlainValue | undefined;
  /** The `[sops]` section's flattened entries, with their spans. */
  metadataMap: SopsMap | undefined;
  metadataLine: number | undefined;
}

/** The name go-ini gives keys written before any section header. */
export const INI_DEFAULT_SECTION = 'DEFAULT';
/** The section holding sops metadata. */
export const INI_METADATA_SECTION = 'sops';

interface RawLine {
  text: string;
  start: number;
  number: number;
}

/** sops' `stripCommentChar`: drops the leading `;`/`#` and the spaces that follow. */
function stripCommentChar(comment: string): string {
  if (comment.startsWith(';')) return comment.replace(/^[; ]+/, '');
  if (comment.startsWith('#')) return comment.replace(/^[# ]+/, '');
  return comment;
}

function hasSurroundedQuote(text: string, quote: string): boolean {
  return text.length >= 2 && text.startsWith(quote) && text.endsWith(quote) && text.split(quote).length - 1 === 2;
}

class IniReader {
  private readonly lines: RawLine[] = [];
  private index = 0;
  /** go-ini's pending comment buffer: comment lines (and inline comments) wait for the next key or section. */
  private comment = '';

  constructor(
    text: string,
    private readonly file: string,
  ) {
    let start = 0;
    let number = 1;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      const end = nl < 0 ? text.length : nl + 1;
      this.lines.push({ text: text.slice(start, end), start, number });
      start = end;
      number++;
    }
  }

  fail(line: number, message: string): never {
    throw new CoffreError('COFFRE_SOPS_SYNTAX', `${this.file}:${line}: INI ${message}`, { file: this.file, line });
  }

  parse(): Array<{ name: string; line: number; comment: string; entries: Array<SopsMapEntry & { comment: string }> }> {
    const sections: Array<{ name: string; line: number; comment: string; entries: Array<SopsMapEntry & { comment: string }> }> = [
      { name: INI_DEFAULT_SECTION, line: 1, comment: '', entries: [] },
    ];
    let section = sections[0] as (typeof sections)[number];
    while (this.index < this.lines.length) {
      const raw = this.lines[this.index++] as RawLine;
      const leading = raw.text.length - raw.text.replace(/^\s+/, '').length;
      const line = raw.text.slice(leading);
      if (line.length === 0) continue;
      if (line[0] === '#' || line[0] === ';') {
        this.comment += line;
        continue;
      }
      if (line[0] === '[') {
        const close = line.lastIndexOf(']');
        if (close < 0) this.fail(raw.number, 'unclosed section header');
        const name = line.slice(1, close);
        if (name.length === 0) this.fail(raw.number, 'empty section name');
        const after = line.slice(close + 1);
        const inline = after.search(/[#;]/);
        if (inline >= 0) this.comment += after.slice(inline);
        section = { name, line: raw.number, comment: this.comment.trim(), entries: [] };
        sections.push(section);
        this.comment = '';
        continue;
      }
      const { key, valueOffset } = this.readKeyName(line, raw.number);
      const valueStart = raw.start + leading + valueOffset;
      const value = this.readValue(line.slice(valueOffset), raw.number);
      const comment = this.comment.trim();
      this.comment = '';
      const existing = section.entries.find((e) => e.key === key);
      const lineEnd = raw.start + raw.text.replace(/\s+$/, '').length;
      const span = { start: valueStart + (line.slice(valueOffset).length - line.slice(valueOffset).replace(/^\s+/, '').length), end: Math.max(lineEnd, valueStart) };
      if (existing) {
        // go-ini keeps the first position of a repeated key and the last value.
        existing.value = value;
        existing.comment = comment;
        existing.span = span;
        existing.line = raw.number;
      } else {
        section.entries.push({ kind: 'entry', key, value, line: raw.number, span, comment });
      }
    }
    return sections;
  }

  private readKeyName(line: string, lineNo: number): { key: string; valueOffset: number } {
    let quote = '';
    if (line[0] === '"') quote = line.length > 6 && line.startsWith('"""') ? '"""' : '"';
    else if (line[0] === '`') quote = '`';
    if (quote !== '') {
      const close = line.indexOf(quote, quote.length);
      if (close < 0) this.fail(lineNo, 'missing closing key quote');
      const rest = line.slice(close + quote.length);
      const delim = rest.search(/[=:]/);
      if (delim < 0) this.fail(lineNo, 'key-value delimiter not found');
      return { key: line.slice(quote.length, close).trim(), valueOffset: close + quote.length + delim + 1 };
    }
    const delim = line.search(/[=:]/);
    if (delim < 0) this.fail(lineNo, 'key-value delimiter not found');
    if (delim === 0) this.fail(lineNo, 'empty key name');
    return { key: line.slice(0, delim).trim(), valueOffset: delim + 1 };
  }

  private readValue(input: string, lineNo: number): string {
    let line = input.replace(/^\s+/, '');
    if (line.length === 0) return '';
    let quote = '';
    if (line.length > 3 && line.startsWith('"""')) quote = '"""';
    else if (line[0] === '`') quote = '`';
    if (quote !== '') {
      const body = line.slice(quote.length);
      const close = body.lastIndexOf(quote);
      if (close >= 0) return body.slice(0, close);
      return this.readMultilines(body, quote, lineNo);
    }
    line = line.trim();
    if (line.endsWith('\\')) return this.readContinuationLines(line.slice(0, -1));
    const inline = line.search(/[#;]/);
    if (inline >= 0) {
      this.comment += line.slice(inline);
      line = line.slice(0, inline).trim();
    }
    if (hasSurroundedQuote(line, "'") || hasSurroundedQuote(line, '"')) line = line.slice(1, -1);
    return line;
  }

  private readMultilines(first: string, quote: string, lineNo: number): string {
    let value = first;
    for (;;) {
      const raw = this.lines[this.index++];
      if (raw === undefined) this.fail(lineNo, 'missing closing value quote');
      const close = raw.text.lastIndexOf(quote);
      if (close >= 0) {
        value += raw.text.slice(0, close);
        const after = raw.text.slice(close);
        const inline = after.search(/[#;]/);
        if (inline >= 0) this.comment += after.slice(inline).trim();
        return value;
      }
      value += raw.text;
    }
  }

  private readContinuationLines(first: string): string {
    let value = first;
    for (;;) {
      const raw = this.lines[this.index++];
      if (raw === undefined) return value;
      const next = raw.text.trim();
      if (next.length === 0) return value;
      value += next;
      if (!value.endsWith('\\')) return value;
      value = value.slice(0, -1);
    }
  }
}

/** Parses a sops INI file. Syntax errors name file:line, never the line's text. */
export function readIniStore(text: string, file: string): IniStoreContent {
  const sections = new IniReader(text.replace(/^\uFEFF/, ''), file).parse();
  const branch: SopsMap = { kind: 'map', items: [] };
  let metadataMap: SopsMap | undefined;
  let metadataLine: number | undefined;
  let flat: Map<string, string> | undefined;
  for (const section of sections) {
    if (section.name === INI_METADATA_SECTION) {
      metadataLine = section.line;
      flat = new Map();
      metadataMap = { kind: 'map', items: [], line: section.line };
      for (const entry of section.entries) {
        const value = String(entry.value).replaceAll('\\n', '\n');
        flat.set(entry.key, value);
        metadataMap.items.push({ kind: 'entry', key: entry.key, value, line: entry.line, ...(entry.span ? { span: entry.span } : {}) });
      }
      continue;
    }
    const map: SopsMap = { kind: 'map', items: [], line: section.line };
    if (section.comment !== '') map.items.push({ kind: 'comment', text: stripCommentChar(section.comment), line: section.line });
    for (const { comment, ...entry } of section.entries) {
      map.items.push(entry);
      if (comment !== '') map.items.push({ kind: 'comment', text: stripCommentChar(comment), line: entry.line } satisfies SopsComment);
    }
    branch.items.push({ kind: 'entry', key: section.name, value: map, line: section.line });
  }
  return {
    branches: [branch],
    metadata: flat === undefined ? undefined : unflattenMetadata(flat, file),
    metadataMap,
    metadataLine,
  };
}
