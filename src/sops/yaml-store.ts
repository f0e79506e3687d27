// The sops YAML store, read side: multi-document YAML into ordered sops branches with comments, scalars
// resolved like go-yaml v3 (YAML 1.2 core plus its quirks), duplicate keys refused. Uses the `yaml`
// package's Document API with the failsafe schema so that resolution is ours. No crypto here.
import { Alias, isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode, type Scalar } from 'yaml';
import { CoffreError } from '../errors.js';
import { yamlTimestampAsTime } from './go-scalars.js';
import { toPlain, type PlainValue } from './metadata.js';
import { readCanonicalSopsYaml } from './yaml-fast.js';
import { YamlTimestamp, type SopsComment, type SopsList, type SopsMap, type SopsMapEntry, type SopsNode, type SopsScalar } from './tree.js';

/** What the YAML store hands to parseSopsFile. */
export interface YamlStoreContent {
  branches: SopsMap[];
  /** The `sops` mapping of the first document, removed from every branch (also kept as a tree). */
  metadata: PlainValue | undefined;
  metadataMap: SopsMap | undefined;
  metadataLine: number | undefined;
}

const RESOLVE_MAP = new Map<string, SopsScalar>([
  ['true', true], ['True', true], ['TRUE', true],
  ['false', false], ['False', false], ['FALSE', false],
  ['', null], ['~', null], ['null', null], ['Null', null], ['NULL', null],
  ['.nan', NaN], ['.NaN', NaN], ['.NAN', NaN],
  ['.inf', Infinity], ['.Inf', Infinity], ['.INF', Infinity],
  ['+.inf', Infinity], ['+.Inf', Infinity], ['+.INF', Infinity],
  ['-.inf', -Infinity], ['-.Inf', -Infinity], ['-.INF', -Infinity],
]);

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go `strconv.ParseInt(s, 0, 64)` / `ParseUint` on text without underscores: prefixes 0x, 0o, 0b and a leading 0 (octal). */
function parseGoBase0(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const body = m[2] as string;
  let magnitude: bigint;
  if (/^0[oO]/.test(body)) magnitude = BigInt(`0o${body.slice(2)}`);
  else if (/^0[0-7]+$/.test(body)) magnitude = BigInt(`0o${body.slice(1)}`);
  else magnitude = BigInt(body);
  const value = m[1] === '-' ? -magnitude : magnitude;
  // ParseInt covers int64; ParseUint (no sign allowed) extends positives to uint64.
  if (value < -(2n ** 63n) || value > UINT64_MAX) return undefined;
  if (value > INT64_MAX && m[1] !== '') return undefined;
  return value;
}

/** go-yaml v3 `resolve` for an untagged plain scalar (what `node.Decode(&interface{})` returns). */
export function resolveGoYamlPlain(text: string): SopsScalar {
  const known = RESOLVE_MAP.get(text);
  if (known !== undefined) return known;
  const first = text[0] ?? '';
  if (first === '.') {
    const value = Number(text);
    return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) && Number.isFinite(value) ? value : text;
  }
  if (/[0-9+-]/.test(first)) {
    const asTime = yamlTimestampAsTime(text);
    if (asTime !== undefined) return new YamlTimestamp(text, asTime);
    const plain = text.replaceAll('_', '');
    const int = parseGoBase0(plain);
    if (int !== undefined) return int;
    if (YAML_STYLE_FLOAT.test(plain)) {
      const value = Number(plain);
      if (Number.isFinite(value)) return value;
    }
  }
  return text;
}

interface Walker {
  doc: Document.Parsed;
  lines: LineCounter;
  file: string;
  aliasDepth: number;
}

function lineOf(w: Walker, offset: number | undefined): number {
  return offset === undefined ? 1 : w.lines.linePos(offset).line;
}

function commentItems(text: string | null | undefined, line?: number): SopsComment[] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (line === undefined ? { kind: 'comment', text: l } : { kind: 'comment', text: l, line }));
}

function scalarValue(node: Scalar): SopsScalar {
  const text = String(node.value ?? '');
  const tag = node.tag;
  if (tag === undefined || tag === '!') {
    return node.type === 'PLAIN' ? resolveGoYamlPlain(text) : text;
  }
  switch (tag) {
    case 'tag:yaml.org,2002:str':
      return text;
    case 'tag:yaml.org,2002:binary':
      return Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'tag:yaml.org,2002:int':
    case 'tag:yaml.org,2002:float':
    case 'tag:yaml.org,2002:bool':
    case 'tag:yaml.org,2002:null':
    case 'tag:yaml.org,2002:timestamp':
      return resolveGoYamlPlain(text);
    default:
      // go-yaml decodes a scalar with an unknown (custom) tag to its text.
      return text;
  }
}

function syntaxError(w: Walker, message: string, offset: number | undefined): CoffreError {
  const line = lineOf(w, offset);
  return new CoffreError('COFFRE_SOPS_SYNTAX', `${w.file}:${line}: ${message}`, { file: w.file, line });
}

function convert(w: Walker, node: YamlNode | null | undefined): SopsNode {
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    if (w.aliasDepth > 64) throw syntaxError(w, 'YAML aliases nest too deeply', node.range?.[0]);
    const target = (node as Alias).resolve(w.doc);
    if (target === undefined) throw syntaxError(w, 'YAML alias to an unknown anchor', node.range?.[0]);
    w.aliasDepth++;
    try {
      return convert(w, target as YamlNode);
    } finally {
      w.aliasDepth--;
    }
  }
  if (isScalar(node)) return scalarValue(node);
  if (isMap(node)) {
    const map: SopsMap = { kind: 'map', items: [], line: lineOf(w, node.range?.[0]) };
    map.items.push(...commentItems(node.commentBefore));
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyOffset = keyNode?.range?.[0];
      const key = keyNode === null ? null : convert(w, keyNode);
      const keyText = key instanceof YamlTimestamp ? key.text : key;
      if (typeof keyText !== 'string') throw syntaxError(w, 'only string keys are supported in sops files', keyOffset);
      if (keyNode !== null && !isAlias(keyNode)) map.items.push(...commentItems(keyNode.commentBefore));
      const valueNode = pair.value as YamlNode | null;
      const entry: SopsMapEntry = { kind: 'entry', key: keyText, value: convert(w, valueNode), line: lineOf(w, keyOffset) };
      if (valueNode !== null && isScalar(valueNode) && valueNode.range) {
        entry.span = { start: valueNode.range[0], end: valueNode.range[1] };
      }
      map.items.push(entry);
      if (valueNode !== null && isScalar(valueNode)) map.items.push(...commentItems(valueNode.comment));
    }
    map.items.push(...commentItems(node.comment));
    return map;
  }
  if (isSeq(node)) {
    const list: SopsList = { kind: 'list', items: [], line: lineOf(w, node.range?.[0]) };
    list.items.push(...commentItems(node.commentBefore));
    for (const item of node.items) {
      const child = item as YamlNode | null;
      if (child !== null && !isAlias(child) && !isMap(child) && !isSeq(child)) list.items.push(...commentItems(child.commentBefore));
      list.items.push(convert(w, child));
      if (child !== null && isScalar(child)) list.items.push(...commentItems(child.comment));
    }
    list.items.push(...commentItems(node.comment));
    return list;
  }
  throw syntaxError(w, 'unsupported YAML node', undefined);
}

/** Parses a sops YAML file (all documents). Syntax errors name file:line, never the offending text. */
export function readYamlStore(text: string, file: string): YamlStoreContent {
  // The layout `sops encrypt` writes for flat age-keyed files, read line by line (the same tree); else the general reader.
  return readCanonicalSopsYaml(text, resolveGoYamlPlain) ?? readYamlStoreGeneral(text, file);
}

/** The general reader (the `yaml` package): every YAML a sops file may hold. */
export function readYamlStoreGeneral(text: string, file: string): YamlStoreContent {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, schema: 'failsafe', version: '1.2', uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) return { branches: [], metadata: undefined, metadataMap: undefined, metadataLine: undefined };
  const branches: SopsMap[] = [];
  let metadata: PlainValue | undefined;
  let metadataMap: SopsMap | undefined;
  let metadataLine: number | undefined;
  docs.forEach((doc, index) => {
    const w: Walker = { doc, lines, file, aliasDepth: 0 };
    const error = doc.errors[0];
    if (error) {
      // The yaml package quotes source text after the first line of its message: keep only that line.
      const summary = (error.message.split('\n')[0] ?? 'syntax error').replace(/ at line \d+, column \d+:?$/, '');
      throw syntaxError(w, `YAML ${summary}`, error.pos[0]);
    }
    const contents = doc.contents as YamlNode | null;
    let branch: SopsMap;
    if (contents === null || (isScalar(contents) && contents.value === null && contents.type === 'PLAIN' && contents.source === '')) {
      branch = { kind: 'map', items: [] };
    } else if (isMap(contents)) {
      branch = convert(w, contents) as SopsMap;
    } else {
      throw syntaxError(w, 'a sops YAML document must be a mapping', contents.range?.[0]);
    }
    branch.items.unshift(...commentItems(doc.commentBefore));
    branch.items.push(...commentItems(doc.comment));
    const sopsIndex = branch.items.findIndex((item) => item.kind === 'entry' && item.key === 'sops');
    if (sopsIndex >= 0) {
      const entry = branch.items[sopsIndex] as SopsMapEntry;
      if (index === 0) {
        metadata = toPlain(entry.value);
        metadataMap = entry.value !== null && typeof entry.value === 'object' && 'kind' in entry.value && entry.value.kind === 'map' ? entry.value : undefined;
        metadataLine = entry.line;
      }
      branch.items.splice(sopsIndex, 1);
    }
    branches.push(branch);
  });
  return { branches, metadata, metadataMap, metadataLine };
}
