// The sops JSON and binary stores, read side: an order-preserving JSON reader (JSON.parse would reorder
// integer-like keys and lose int64 precision) into sops branches with value spans. No crypto here.
import { CoffreError } from '../errors.js';
import { fitsInt64 } from './go-scalars.js';
import { toPlain, type PlainValue } from './metadata.js';
import { findEntry, JsonInteger, type SopsList, type SopsMap, type SopsMapEntry, type SopsNode } from './tree.js';

/** What the JSON and binary stores hand to parseSopsFile. */
export interface JsonStoreContent {
  branches: SopsMap[];
  metadata: PlainValue | undefined;
  metadataMap: SopsMap | undefined;
  metadataLine: number | undefined;
}

class JsonReader {
  private pos = 0;
  private lineStarts: number[] = [0];

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  lineAt(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  fail(message: string, offset = this.pos): never {
    const line = this.lineAt(Math.min(offset, this.text.length));
    throw new CoffreError('COFFRE_SOPS_SYNTAX', `${this.file}:${line}: JSON ${message}`, { file: this.file, line });
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else break;
    }
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  readValue(): SopsNode {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.readObject();
    if (c === '[') return this.readArray();
    if (c === '"') return this.readString();
    if (c === 't' && this.text.startsWith('true', this.pos)) return (this.pos += 4), true;
    if (c === 'f' && this.text.startsWith('false', this.pos)) return (this.pos += 5), false;
    if (c === 'n' && this.text.startsWith('null', this.pos)) return (this.pos += 4), null;
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.readNumber();
    return this.fail(c === undefined ? 'unexpected end of input' : 'unexpected character');
  }

  private readObject(): SopsMap {
    const map: SopsMap = { kind: 'map', items: [], line: this.lineAt(this.pos) };
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return map;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const line = this.lineAt(this.pos);
      const key = this.readString();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':' after an object key");
      this.pos++;
      this.skipSpace();
      const start = this.pos;
      const value = this.readValue();
      const entry: SopsMapEntry = { kind: 'entry', key, value, line };
      if (value === null || typeof value !== 'object' || value instanceof JsonInteger) entry.span = { start, end: this.pos };
      map.items.push(entry);
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === '}') return map;
      if (next !== ',') this.fail("expected ',' or '}' in an object", this.pos - 1);
    }
  }

  private readArray(): SopsList {
    const list: SopsList = { kind: 'list', items: [], line: this.lineAt(this.pos) };
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return list;
    }
    for (;;) {
      list.items.push(this.readValue());
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === ']') return list;
      if (next !== ',') this.fail("expected ',' or ']' in an array", this.pos - 1);
    }
  }

  private readString(): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string', start);
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c < ' ') this.fail('control character in a string');
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const e = this.text[this.pos + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) {
        out += simple[e];
        this.pos += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.pos + 2, this.pos + 6), 16));
        this.pos += 6;
      } else {
        this.fail('invalid escape in a string');
      }
    }
  }

  private readNumber(): SopsNode {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!m || m[0] === '-') this.fail('invalid number');
    const text = m[0];
    this.pos += text.length;
    if (m[2] === undefined && m[3] === undefined) {
      const value = BigInt(text);
      if (fitsInt64(value)) return new JsonInteger(text, value);
    }
    return Number(text);
  }
}

/** Parses a sops JSON file: one top-level object, `sops` as metadata. */
export function readJsonStore(text: string, file: string): JsonStoreContent {
  const reader = new JsonReader(text.replace(/^\uFEFF/, ''), file);
  const root = reader.readValue();
  if (!reader.atEnd()) reader.fail('unexpected content after the top-level value');
  if (root === null || typeof root !== 'object' || !('kind' in root) || root.kind !== 'map') {
    return reader.fail('a sops JSON file must hold an object', 0);
  }
  const sopsEntry = findEntry(root, 'sops');
  const branch: SopsMap = { ...root, items: root.items.filter((item) => !(item.kind === 'entry' && item.key === 'sops')) };
  const metadataMap = sopsEntry && typeof sopsEntry.value === 'object' && sopsEntry.value !== null && 'kind' in sopsEntry.value && sopsEntry.value.kind === 'map' ? sopsEntry.value : undefined;
  return {
    branches: [branch],
    metadata: sopsEntry ? toPlain(sopsEntry.value) : undefined,
    metadataMap,
    metadataLine: sopsEntry?.line,
  };
}

/** Parses a sops binary file: the JSON envelope `{"data": "ENC[…]", "sops": {…}}`. */
export function readBinaryStore(text: string, file: string): JsonStoreContent {
  const content = readJsonStore(text, file);
  const branch = content.branches[0] as SopsMap;
  const data = findEntry(branch, 'data');
  if (data === undefined || typeof data.value !== 'string') {
    throw new CoffreError('COFFRE_SOPS_SYNTAX', `${file}: a sops binary file must be a JSON envelope with a string "data"`, { file, line: data?.line ?? 1 });
  }
  return content;
}
