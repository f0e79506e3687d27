// The sops YAML store's fast path: the exact layout `sops encrypt` writes for a flat file of encrypted
// values with age keys (one document, `KEY: ENC[…]` lines, then the `sops:` block with 4-space indents, an
// `age:` list of recipient + `enc: |` armor, and plain or simply quoted scalars). Parsing that layout line by
// line gives the very tree the general reader (yaml-store.ts, the `yaml` package) gives, at a fraction of
// its cost (a check reads thousands of these). Anything else (comments, nesting, other keys, quoting,
// escapes, CR, tabs, non-ASCII, duplicates…) returns undefined and is left to the general reader, which
// also owns every error message. No crypto here.
import { toPlain } from './metadata.js';
import type { SopsList, SopsMap, SopsMapEntry } from './tree.js';
import type { YamlStoreContent } from './yaml-store.js';

/** Plain scalars whose go-yaml reading is not a string: a key spelled so falls back to the general reader. */
const NOT_STRING_KEYS = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'null', 'Null', 'NULL', 'sops']);

function isKeyChar(c: number, first: boolean): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (!first && c >= 48 && c <= 57);
}

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61;
}

/** `ENC[AES256_GCM,data:B,iv:B,tag:B,type:t]` in text[start, end): a plain scalar go-yaml reads as this string. */
function isEncValue(text: string, start: number, end: number): boolean {
  if (!text.startsWith('ENC[AES256_GCM,data:', start) || text.charCodeAt(end - 1) !== 93) return false;
  let field = 0;
  const marks = [',iv:', ',tag:', ',type:'];
  let i = start + 20;
  let fieldStart = i;
  while (i < end - 1) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      if (field >= 3 || i === fieldStart || !text.startsWith(marks[field] as string, i)) return false;
      i += (marks[field] as string).length;
      field++;
      fieldStart = i;
      continue;
    }
    if (field < 3 ? !isBase64Char(c) : c < 97 || c > 122) return false;
    i++;
  }
  return field === 3 && i > fieldStart;
}

/** A metadata plain scalar coffre can take as is: letters, digits, `_`, `.`, `-`, not starting with `.` or `-`. */
function isSimplePlain(text: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || ((c === 46 || c === 45) && i > start);
    if (!ok) return false;
  }
  return true;
}

interface Line {
  start: number;
  end: number;
}

/**
 * The canonical sops YAML layout, or undefined (then the general reader decides). `resolvePlain` is the
 * general reader's go-yaml resolution of a plain scalar (passed in: yaml-store.ts imports this module).
 */
export function readCanonicalSopsYaml(text: string, resolvePlain: (text: string) => unknown): YamlStoreContent | undefined {
  if (text.length === 0 || text.charCodeAt(text.length - 1) !== 10) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 126 || (c < 32 && c !== 10)) return undefined;
  }
  const lines: Line[] = [];
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start);
    lines.push({ start, end });
    start = end + 1;
  }
  // `KEY: ENC[…]` lines.
  const branch: SopsMap = { kind: 'map', items: [], line: 1 };
  const seen = new Set<string>();
  let n = 0;
  for (; n < lines.length; n++) {
    const { start, end } = lines[n] as Line;
    let i = start;
    while (i < end && isKeyChar(text.charCodeAt(i), i === start)) i++;
    if (i === start || text.charCodeAt(i) !== 58) return undefined;
    const key = text.slice(start, i);
    if (key === 'sops' && i + 1 === end) break;
    if (NOT_STRING_KEYS.has(key) || seen.has(key) || text.charCodeAt(i + 1) !== 32 || !isEncValue(text, i + 2, end)) return undefined;
    seen.add(key);
    branch.items.push({ kind: 'entry', key, value: text.slice(i + 2, end), line: n + 1, span: { start: i + 2, end } });
  }
  if (n >= lines.length) return undefined;
  const metadataLine = n + 1;
  n++;
  const metadataMap: SopsMap = { kind: 'map', items: [], line: n + 1 };
  const metaKeys = new Set<string>();
  while (n < lines.length) {
    const { start, end } = lines[n] as Line;
    if (!text.startsWith('    ', start) || text.charCodeAt(start + 4) === 32) return undefined;
    let i = start + 4;
    while (i < end && isKeyChar(text.charCodeAt(i), i === start + 4)) i++;
    if (i === start + 4 || text.charCodeAt(i) !== 58) return undefined;
    const key = text.slice(start + 4, i);
    if (NOT_STRING_KEYS.has(key) || metaKeys.has(key)) return undefined;
    metaKeys.add(key);
    if (key === 'age' && i + 1 === end) {
      const list = readAgeList(text, lines, n + 1);
      if (list === undefined) return undefined;
      metadataMap.items.push({ kind: 'entry', key, value: list.list, line: n + 1 });
      n = list.next;
      continue;
    }
    if (text.charCodeAt(i + 1) !== 32) return undefined;
    const valueStart = i + 2;
    let entry: SopsMapEntry;
    if (text.charCodeAt(valueStart) === 34) {
      // "…" with no escape and no quote inside: the text between the quotes.
      if (end - valueStart < 2 || text.charCodeAt(end - 1) !== 34) return undefined;
      const inner = text.slice(valueStart + 1, end - 1);
      if (inner.includes('"') || inner.includes('\\')) return undefined;
      entry = { kind: 'entry', key, value: inner, line: n + 1, span: { start: valueStart, end } };
    } else if (isEncValue(text, valueStart, end)) {
      entry = { kind: 'entry', key, value: text.slice(valueStart, end), line: n + 1, span: { start: valueStart, end } };
    } else if (isSimplePlain(text, valueStart, end)) {
      const value = resolvePlain(text.slice(valueStart, end));
      if (!(typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint')) return undefined;
      entry = { kind: 'entry', key, value, line: n + 1, span: { start: valueStart, end } };
    } else {
      return undefined;
    }
    metadataMap.items.push(entry);
    n++;
  }
  if (metadataMap.items.length === 0) return undefined;
  return { branches: [branch], metadata: toPlain(metadataMap), metadataMap, metadataLine };
}

/**
 * `        - recipient: age1…` / `          enc: |` / armor lines indented 12, repeated; from line index `n`.
 * Returns the list and the index of the first line after it.
 */
function readAgeList(text: string, lines: Line[], n: number): { list: SopsList; next: number } | undefined {
  const list: SopsList = { kind: 'list', items: [], line: n + 1 };
  while (n < lines.length && text.startsWith('        - ', (lines[n] as Line).start)) {
    const first = lines[n] as Line;
    const recipientStart = first.start + 10;
    if (!text.startsWith('recipient: ', recipientStart)) return undefined;
    const valueStart = recipientStart + 11;
    if (!isSimplePlain(text, valueStart, first.end) || !text.startsWith('age1', valueStart)) return undefined;
    const recipient: SopsMapEntry = { kind: 'entry', key: 'recipient', value: text.slice(valueStart, first.end), line: n + 1, span: { start: valueStart, end: first.end } };
    const encLine = lines[n + 1];
    if (encLine === undefined || text.slice(encLine.start, encLine.end) !== '          enc: |') return undefined;
    const blockStart = encLine.end - 1;
    const content: string[] = [];
    let k = n + 2;
    for (; k < lines.length; k++) {
      const { start, end } = lines[k] as Line;
      if (!text.startsWith('            ', start)) break;
      if (end === start + 12 || text.charCodeAt(start + 12) === 32) return undefined;
      content.push(text.slice(start + 12, end));
    }
    if (content.length === 0) return undefined;
    const blockEnd = (lines[k - 1] as Line).end + 1;
    const enc: SopsMapEntry = { kind: 'entry', key: 'enc', value: `${content.join('\n')}\n`, line: n + 2, span: { start: blockStart, end: blockEnd } };
    list.items.push({ kind: 'map', items: [recipient, enc], line: n + 1 });
    n = k;
  }
  if (list.items.length === 0) return undefined;
  return { list, next: n };
}
