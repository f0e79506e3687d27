// Maps YAML nodes and parse errors back to 1-based source lines, for `file:line` messages about coffre.yaml
// and compose files. Pure: it reads no file and never returns scalar values, only positions.
import { CoffreError } from '../errors.js';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLError } from 'yaml';

/** A parsed YAML text with what is needed to name lines. */
export interface LocatedDocument {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/**
 * Parses one YAML document keeping positions. Merge keys (`<<: *anchor`) are enabled because compose files
 * use them; errors are left in `doc.errors` for the caller to report with {@link lineOfError}.
 */
export function parseLocatedYaml(text: string): LocatedDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  return { doc, lineCounter };
}

/** Alias expansions allowed in a coffre-owned YAML file (yaml's default): more is a billion-laughs attempt. */
const MAX_CONFIG_ALIAS_COUNT = 100;

/**
 * Parses a coffre-owned YAML file (coffre.yaml, a tokens file) for zod validation: a syntax error throws
 * COFFRE_CONFIG_INVALID at `file:line`; an empty document (or only comments) gives `{}`.
 */
export function parseConfigYaml(text: string, file: string): { located: LocatedDocument; data: unknown } {
  const located = parseLocatedYaml(text);
  const [syntaxError] = located.doc.errors;
  if (syntaxError) {
    const line = lineOfError(syntaxError, located.lineCounter);
    throw new CoffreError('COFFRE_CONFIG_INVALID', `${file}:${line}: ${describeYamlError(syntaxError)}`, { file, line });
  }
  if (located.doc.contents === null) return { located, data: {} };
  try {
    return { located, data: located.doc.toJS({ maxAliasCount: MAX_CONFIG_ALIAS_COUNT }) };
  } catch (error) {
    // yaml throws ReferenceError for an alias bomb or an unresolved alias, RangeError when nested too deep.
    if (!(error instanceof ReferenceError || error instanceof RangeError)) throw error;
    const reason = /excessive alias/i.test(error.message) ? `YAML aliases expand to too many nodes (more than ${MAX_CONFIG_ALIAS_COUNT}): refused as an alias bomb` : `cannot be read: ${error.message}`;
    throw new CoffreError('COFFRE_CONFIG_INVALID', `${file}: ${reason}`, { file });
  }
}

/** The 1-based line where `node` starts, or `null` when the node carries no position. */
export function lineOfNode(node: unknown, lineCounter: LineCounter): number | null {
  if (!isNode(node) || !node.range) return null;
  return lineCounter.linePos(node.range[0]).line;
}

/** The 1-based line of a YAML parse error. */
export function lineOfError(error: YAMLError, lineCounter: LineCounter): number {
  return lineCounter.linePos(error.pos[0]).line;
}

/** The first line of a YAML error message, without the "at line N, column M" tail the caller restates. */
export function describeYamlError(error: YAMLError): string {
  const first = error.message.split('\n')[0] ?? error.message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * The line of the deepest node that exists along `path` (a zod issue path), so a missing field points at
 * its parent map. With `key`, the line of that key inside the map at `path` (used for unknown keys).
 */
export function lineOfPath(located: LocatedDocument, path: ReadonlyArray<PropertyKey>, key?: string): number | null {
  let node: unknown = located.doc.contents;
  let line = lineOfNode(node, located.lineCounter);
  for (const segment of path) {
    const next = childOf(node, segment);
    if (next === undefined) return line;
    node = next.value;
    line = lineOfNode(next.keyNode ?? next.value, located.lineCounter) ?? line;
    // A value's own line is better than its key's when the value is a scalar on the same line; a block
    // map or list starts on the following line, so its key's line reads better.
    if (isScalar(node)) line = lineOfNode(node, located.lineCounter) ?? line;
  }
  if (key !== undefined) {
    const child = childOf(node, key);
    if (child) return lineOfNode(child.keyNode ?? child.value, located.lineCounter) ?? line;
  }
  return line;
}

function childOf(node: unknown, segment: PropertyKey): { keyNode: Node | null; value: unknown } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyValue = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(keyValue) === String(segment)) return { keyNode: isNode(pair.key) ? pair.key : null, value: pair.value };
    }
    return undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { keyNode: null, value: item };
  }
  return undefined;
}
