// The sops writer for rotation: sets top-level values of an already decrypted file, re-encrypting with the
// same data key, and rewrites only what changes (the value lines, lastmodified, mac) in the store's own
// layout, so unchanged values keep their IVs and the diff stays minimal. Pure: returns the new text.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { parseEnvFile, parseEnvStatements, serializeEnvFile } from '../core/env-file.js';
import { CoffreError } from '../errors.js';
import { dataKeyOf, decryptSopsTree, envTextOf, sopsBinaryText, type DecryptedSops } from './decrypt.js';
import { encryptionDecider } from './encryption-rule.js';
import { formatLastModified } from './go-scalars.js';
import { envLevelEntries } from './key-listing.js';
import { INI_DEFAULT_SECTION, INI_METADATA_SECTION } from './ini-store.js';
import { computeSopsMac } from './mac.js';
import { parseSopsFile, type SopsFile } from './sops-file.js';
import { findEntry, isSopsList, isSopsMap, type SopsList, type SopsMap, type SopsMapEntry, type SopsNode } from './tree.js';
import { resolveGoYamlPlain } from './yaml-store.js';
import { encryptValue } from './value-cipher.js';

export interface SetSopsValuesOptions {
  /** The parsed encrypted file (its source text is edited in place). */
  sops: SopsFile;
  /** The same file decrypted by decryptSopsFile: it carries the data key, reused as sops does. */
  decrypted: DecryptedSops;
  /** Env key → new value. Existing top-level keys (INI: keys of any section) are replaced, others added. */
  changes: ReadonlyMap<string, string>;
  /** The new `lastmodified` (whole seconds, UTC). */
  now: Date;
  /** INI only: the section new keys go to (default: the section of the last env key, else DEFAULT). */
  iniSection?: string;
  /** Source of IV bytes (tests); node:crypto randomBytes by default. */
  randomBytes?: (size: number) => Uint8Array;
}

export interface SetSopsValuesResult {
  /** The new file text. */
  text: string;
  /** Keys whose value changed, and keys that were added, in `changes` order. */
  changed: string[];
  added: string[];
}

interface TextEdit {
  start: number;
  end: number;
  text: string;
}

interface EnvSlot {
  path: string[];
  encrypted: SopsMapEntry;
  plain: SopsMapEntry;
}

const YAML_OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'on', 'On', 'ON', 'off', 'Off', 'OFF']);

/** A string scalar as go-yaml v3 would emit it (plain when it reads back as the same string). */
export function yamlStringText(value: string): string {
  const reservedStart = /^[-?:,[\]{}#&*!|>'"%@`\s]/;
  const needsDouble = /[\u0000-\u0008\u000b-\u001f\u007f\n\u2028\u2029\ufeff]/.test(value) || value.includes('\t');
  if (needsDouble) return JSON.stringify(value);
  const resolvesToString = typeof resolveGoYamlPlain(value) === 'string' && !YAML_OLD_BOOLS.has(value);
  if (!resolvesToString) return JSON.stringify(value);
  const plainSafe = value !== '' && !reservedStart.test(value) && !/\s$/.test(value) && !value.includes(': ') && !value.includes(' #') && !value.endsWith(':');
  if (plainSafe) return value;
  return `'${value.replaceAll("'", "''")}'`;
}

/** A string as Go's json.Marshal writes it (HTML characters and U+2028/9 escaped). */
export function goJsonString(value: string): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An INI value as go-ini writes it. */
function iniValueText(value: string): string {
  if (/[\n`]/.test(value)) return `"""${value}"""`;
  if (/[#;]/.test(value)) return `\`${value}\``;
  if (value.trim() !== value) return `"${value}"`;
  return value;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function endOfLine(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl < 0 ? text.length : nl + 1;
}

function cloneNode(node: SopsNode): SopsNode {
  if (isSopsMap(node)) return { ...node, items: node.items.map((i) => (i.kind === 'entry' ? { ...i, value: cloneNode(i.value) } : { ...i })) };
  if (isSopsList(node)) return { ...node, items: node.items.map((i) => cloneNode(i as SopsNode)) } as SopsList;
  return node;
}

function applyEdits(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

function unsupported(file: string, message: string): CoffreError {
  return new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${file}: ${message}`, { file });
}

/** The env-level entries of the encrypted and plaintext trees side by side (last duplicate wins). */
function envSlots(sops: SopsFile, plainBranches: SopsMap[]): Map<string, EnvSlot> {
  const slots = new Map<string, EnvSlot>();
  sops.branches.forEach((branch, b) => {
    branch.items.forEach((item, i) => {
      if (item.kind !== 'entry') return;
      const plainItem = (plainBranches[b] as SopsMap).items[i] as SopsMapEntry;
      if (sops.format !== 'ini') {
        slots.set(item.key, { path: [item.key], encrypted: item, plain: plainItem });
        return;
      }
      if (!isSopsMap(item.value) || !isSopsMap(plainItem.value)) return;
      const plainSection = plainItem.value;
      item.value.items.forEach((inner, j) => {
        if (inner.kind === 'entry') slots.set(inner.key, { path: [item.key, inner.key], encrypted: inner, plain: plainSection.items[j] as SopsMapEntry });
      });
    });
  });
  return slots;
}

/** The store text of a value written at an entry's span. */
function valueText(format: SopsFile['format'], value: string): string {
  switch (format) {
    case 'yaml':
      return yamlStringText(value);
    case 'json':
    case 'binary':
      return goJsonString(value);
    case 'dotenv':
      return value.replaceAll('\n', '\\n');
    case 'ini':
      return iniValueText(value);
  }
}

function keyText(format: SopsFile['format'], key: string): string {
  if (format === 'yaml') return yamlStringText(key);
  if (format === 'json') return goJsonString(key);
  return key;
}

/**
 * Sets values in a decrypted sops file and returns the re-encrypted text: the same data key, a new random
 * 32-byte IV for each changed value only, the MAC recomputed, `lastmodified` = `now`, every other
 * metadata entry and every other line kept byte for byte. New keys are added in the store's layout.
 * A nested value cannot be set (COFFRE_SOURCE_NOT_FLAT). The result is re-read and checked before it is
 * returned (COFFRE_INTERNAL if it would not decrypt to the intended values).
 */
export function setSopsValues(options: SetSopsValuesOptions): SetSopsValuesResult {
  const { sops, decrypted, changes, now } = options;
  const { file, format, metadata, source } = sops;
  const random = options.randomBytes ?? ((n: number) => nodeRandomBytes(n));
  const key = dataKeyOf(decrypted);
  const decide = encryptionDecider(metadata.rule, file);
  const plainBranches = decrypted.branches.map((b) => cloneNode(b) as SopsMap);
  const edits: TextEdit[] = [];
  const changed: string[] = [];
  const added: string[] = [];
  const seal = (value: string, path: string[]): string =>
    decide(path) ? encryptValue(value, key, `${path.join(':')}:`, { iv: random(32) }) : value;

  if (format === 'binary') {
    const text = setBinaryText(sopsBinaryText(decrypted), changes, file, changed, added);
    const dataEntry = findEntry(sops.branches[0] as SopsMap, 'data');
    const plainData = findEntry(plainBranches[0] as SopsMap, 'data');
    if (!dataEntry?.span || !plainData) throw unsupported(file, 'the binary envelope has no rewritable "data" value');
    if (changed.length + added.length > 0) {
      plainData.value = text;
      edits.push({ ...dataEntry.span, text: goJsonString(seal(text, ['data'])) });
    }
  } else {
    const slots = envSlots(sops, plainBranches);
    const additions: Array<{ key: string; value: string }> = [];
    for (const [name, value] of changes) {
      const slot = slots.get(name);
      if (slot === undefined) {
        additions.push({ key: name, value });
        continue;
      }
      const current = slot.plain.value;
      if (isSopsMap(current) || isSopsList(current)) {
        throw new CoffreError('COFFRE_SOURCE_NOT_FLAT', `${file}:${slot.encrypted.line}: "${name}" holds a nested value; it cannot be set as an env value`, {
          file,
          line: slot.encrypted.line,
        });
      }
      if (typeof current === 'string' && current === value) continue;
      const span = slot.encrypted.span;
      if (span === undefined) throw unsupported(file, `the value of "${name}" cannot be rewritten in place`);
      slot.plain.value = value;
      const text = valueText(format, seal(value, slot.path));
      // A YAML key written as `KEY:` with no value has an empty span right after the colon.
      edits.push({ ...span, text: format === 'yaml' && span.start === span.end ? ` ${text}` : text });
      changed.push(name);
    }
    if (additions.length > 0) addEntries(options, plainBranches, additions, seal, edits);
    added.push(...additions.map((a) => a.key));
  }

  if (changed.length + added.length === 0) return { text: source, changed, added };

  const macReading = decrypted.macReading;
  const mac = computeSopsMac(plainBranches, { decide, macOnlyEncrypted: metadata.macOnlyEncrypted })[macReading];
  const lastModified = formatLastModified(now);
  const macText = encryptValue(mac, key, lastModified, { iv: random(32) });
  const lastModifiedEntry = sops.metadataMap && findEntry(sops.metadataMap, 'lastmodified');
  const macEntry = sops.metadataMap && findEntry(sops.metadataMap, 'mac');
  if (!lastModifiedEntry?.span || !macEntry?.span) throw unsupported(file, 'the sops metadata has no rewritable lastmodified/mac entries');
  const original = source.slice(lastModifiedEntry.span.start, lastModifiedEntry.span.end);
  const quote = format === 'yaml' && (original.startsWith('"') || original.startsWith("'")) ? (original[0] as string) : '';
  edits.push({ ...lastModifiedEntry.span, text: format === 'json' || format === 'binary' ? goJsonString(lastModified) : `${quote}${lastModified}${quote}` });
  edits.push({ ...macEntry.span, text: format === 'json' || format === 'binary' ? goJsonString(macText) : macText });

  const text = applyEdits(source, edits);
  verifyWritten(text, options, key);
  return { text, changed, added };
}

/** Compose env text with the changed keys rewritten on their (last) statement and new keys appended. */
function setBinaryText(text: string, changes: ReadonlyMap<string, string>, file: string, changed: string[], added: string[]): string {
  let lines = text.split('\n');
  for (const [name, value] of changes) {
    const statements = parseEnvStatements(lines.join('\n'), { file, missingRequired: 'empty' });
    const last = statements.filter((s) => s.kind === 'assignment' && s.key === name).at(-1);
    const line = serializeEnvFile([{ key: name, value }], 'compose').replace(/\n$/, '');
    if (last === undefined) {
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.splice(lines.length - 1, 0, line);
      else lines.push(line, '');
      added.push(name);
    } else {
      if (last.value === value && !last.interpolated) continue;
      lines = [...lines.slice(0, last.line - 1), line, ...lines.slice(last.endLine)];
      changed.push(name);
    }
  }
  return lines.join('\n');
}

/** Adds new keys in the store's layout: before the metadata (YAML, JSON), after the data lines (dotenv), in a section (INI). */
function addEntries(
  options: SetSopsValuesOptions,
  plainBranches: SopsMap[],
  additions: Array<{ key: string; value: string }>,
  seal: (value: string, path: string[]) => string,
  edits: TextEdit[],
): void {
  const { sops } = options;
  const { file, format, source } = sops;
  const starts = lineStarts(source);
  const offsetOfLine = (line: number): number => starts[line - 1] ?? source.length;
  const firstPlain = plainBranches[0] as SopsMap;

  if (format === 'yaml' || format === 'json') {
    if (sops.metadataLine === undefined) throw unsupported(file, 'cannot find the sops metadata to add keys before it');
    const at = offsetOfLine(sops.metadataLine);
    const lineText = source.slice(at, endOfLine(source, at));
    const indent = /^\s*/.exec(lineText)?.[0] ?? '';
    if (format === 'yaml' && !lineText.startsWith('sops:')) throw unsupported(file, 'the sops metadata is not a top-level block: keys cannot be added');
    if (format === 'json' && !lineText.trimStart().startsWith('"sops"')) throw unsupported(file, 'the JSON is not indented one key per line: keys cannot be added');
    let text = '';
    for (const { key, value } of additions) {
      const sealed = seal(value, [key]);
      text += format === 'yaml' ? `${keyText('yaml', key)}: ${valueText('yaml', sealed)}\n` : `${indent}${keyText('json', key)}: ${valueText('json', sealed)},\n`;
      firstPlain.items.push({ kind: 'entry', key, value, line: 0 });
    }
    edits.push({ start: at, end: at, text });
    return;
  }

  if (format === 'dotenv') {
    for (const { key } of additions) {
      if (key.includes('=') || key.includes('\n') || key.startsWith('sops_') || key.startsWith('#') || key === '') {
        throw new CoffreError('COFFRE_USAGE', `${file}: "${key.replace(/\n/g, '\\n')}" cannot be a sops dotenv key`, { file });
      }
    }
    const dataEntries = (sops.branches[0] as SopsMap).items.filter((i): i is SopsMapEntry => i.kind === 'entry');
    const lastData = dataEntries.at(-1);
    const at = lastData?.span ? endOfLine(source, lastData.span.end) : 0;
    const prefix = at > 0 && source[at - 1] !== '\n' ? '\n' : '';
    let text = prefix;
    for (const { key, value } of additions) {
      text += `${key}=${valueText('dotenv', seal(value, [key]))}\n`;
      firstPlain.items.push({ kind: 'entry', key, value, line: 0 });
    }
    edits.push({ start: at, end: at, text });
    return;
  }

  // INI: new keys join one section, whose `=` column is re-aligned as go-ini writes it.
  const sections = (sops.branches[0] as SopsMap).items.filter((i): i is SopsMapEntry => i.kind === 'entry' && isSopsMap(i.value));
  const withKeys = sections.filter((s) => isSopsMap(s.value) && s.value.items.some((i) => i.kind === 'entry'));
  const targetName = options.iniSection ?? withKeys.at(-1)?.key ?? INI_DEFAULT_SECTION;
  if (targetName === INI_METADATA_SECTION) throw new CoffreError('COFFRE_USAGE', `${file}: keys cannot be added to the [sops] section`, { file });
  const topItems = (sops.branches[0] as SopsMap).items;
  let sectionIndex = -1;
  topItems.forEach((item, index) => {
    if (item.kind === 'entry' && item.key === targetName) sectionIndex = index;
  });
  if (sectionIndex < 0) throw new CoffreError('COFFRE_USAGE', `${file}: no [${targetName}] section to add keys to`, { file });
  const section = (sops.branches[0] as SopsMap).items[sectionIndex] as SopsMapEntry;
  const plainSection = firstPlain.items[sectionIndex] as SopsMapEntry;
  const entries = (section.value as SopsMap).items.filter((i): i is SopsMapEntry => i.kind === 'entry');
  for (const { key } of additions) {
    if (/[=:\n]/.test(key) || key.trim() !== key || key === '' || /^[#;[`"]/.test(key)) {
      throw new CoffreError('COFFRE_USAGE', `${file}: "${key.replace(/\n/g, '\\n')}" cannot be an INI key written as is`, { file });
    }
  }
  const width = Math.max(...entries.map((e) => e.key.length), ...additions.map((a) => a.key.length));
  for (const entry of entries) {
    const at = offsetOfLine(entry.line);
    const eq = source.indexOf('=', at);
    const current = source.slice(at, eq);
    const wanted = `${entry.key.padEnd(width)} `;
    if (eq > at && current.trimEnd() === entry.key && current !== wanted) edits.push({ start: at, end: eq, text: wanted });
  }
  const last = entries.at(-1);
  let at: number;
  if (last?.span) at = endOfLine(source, last.span.end);
  else if (targetName === INI_DEFAULT_SECTION && section.line === 1 && entries.length === 0) at = 0;
  else at = endOfLine(source, offsetOfLine(section.line));
  let text = at > 0 && source[at - 1] !== '\n' ? '\n' : '';
  for (const { key, value } of additions) {
    text += `${key.padEnd(width)} = ${valueText('ini', seal(value, [targetName, key]))}\n`;
    (plainSection.value as SopsMap).items.push({ kind: 'entry', key, value, line: 0 });
  }
  edits.push({ start: at, end: at, text });
}

/** Re-reads the written text with the data key: it must verify and hold exactly the intended values. */
function verifyWritten(text: string, options: SetSopsValuesOptions, key: Uint8Array): void {
  const { sops, changes } = options;
  const fail = (why: string): never => {
    throw new CoffreError('COFFRE_INTERNAL', `${sops.file}: the rewritten sops file does not read back (${why}); nothing was written`, { file: sops.file });
  };
  let reread: DecryptedSops;
  try {
    reread = decryptSopsTree(parseSopsFile(text, sops.format, sops.file), key);
  } catch (error) {
    return fail(error instanceof CoffreError ? error.code : 'parse error');
  }
  const values = new Map<string, string>();
  if (sops.format === 'binary') {
    for (const entry of parseEnvFile(sopsBinaryText(reread), { file: sops.file, missingRequired: 'empty' }).entries) values.set(entry.key, entry.value);
  } else {
    for (const entry of envLevelEntries(reread)) if (!isSopsMap(entry.value) && !isSopsList(entry.value)) values.set(entry.key, envTextOf(entry.value));
  }
  for (const [name, value] of changes) if (values.get(name) !== value) fail(`the value of "${name}" differs`);
}
