// The ordered sops tree shared by every store: maps as ordered entry lists, lists, typed scalars and
// comments, plus the per-entry source spans the writer needs. Pure data; no parsing, no crypto here.

/** A `time.Time` value: its text is canonical Go RFC 3339 with nanoseconds (as sops' `ToBytes`). */
export class SopsTime {
  constructor(readonly text: string) {}
}

/**
 * A plain YAML scalar that go-yaml recognises as a timestamp. go-yaml v3 hands it to sops as its source text
 * (sops 3.13), while sops 3.11 turns it into a `time.Time`: the MAC check accepts either reading.
 */
export class YamlTimestamp {
  constructor(
    readonly text: string,
    /** The same instant as canonical RFC 3339 nanoseconds text. */
    readonly asTime: string,
  ) {}
}

/**
 * A JSON number written as an integer literal. sops ≥ 3.13.2 reads it as an int, older releases as a
 * float64; `text` is the literal, `value` the BigInt when it fits int64 (else the number is a float).
 */
export class JsonInteger {
  constructor(
    readonly text: string,
    readonly value: bigint,
  ) {}
}

/**
 * A scalar leaf. string → `str`, bigint → `int` (int64, BigInt-safe), number → `float`, boolean → `bool`,
 * SopsTime → `time`, Uint8Array → `bytes`, null → left alone (neither encrypted nor in the MAC).
 */
export type SopsScalar = string | bigint | number | boolean | null | SopsTime | YamlTimestamp | JsonInteger | Uint8Array;

/** A comment line (its text without the comment character). Comments are encrypted but never in the MAC. */
export interface SopsComment {
  kind: 'comment';
  text: string;
  /** 1-based line in the source file, when known. */
  line?: number;
}

/** Where an entry's value is written in the source text (character offsets), so a writer can edit in place. */
export interface SourceSpan {
  start: number;
  end: number;
}

export interface SopsMapEntry {
  kind: 'entry';
  key: string;
  value: SopsNode;
  /** 1-based line of the key in the source file. */
  line: number;
  /** Span of the value's raw text, for scalar values the store can rewrite in place. */
  span?: SourceSpan;
}

/** An ordered map (sops `TreeBranch`). */
export interface SopsMap {
  kind: 'map';
  items: Array<SopsMapEntry | SopsComment>;
  line?: number;
}

/** A list; its elements share the list's AAD path. */
export interface SopsList {
  kind: 'list';
  items: Array<SopsNode | SopsComment>;
  line?: number;
}

export type SopsNode = SopsMap | SopsList | SopsScalar;

export function isSopsMap(node: unknown): node is SopsMap {
  return typeof node === 'object' && node !== null && (node as { kind?: unknown }).kind === 'map';
}

export function isSopsList(node: unknown): node is SopsList {
  return typeof node === 'object' && node !== null && (node as { kind?: unknown }).kind === 'list';
}

export function isSopsComment(node: unknown): node is SopsComment {
  return typeof node === 'object' && node !== null && (node as { kind?: unknown }).kind === 'comment';
}

/** Map entries of a branch, without its comments. */
export function entriesOf(map: SopsMap): SopsMapEntry[] {
  return map.items.filter((item): item is SopsMapEntry => item.kind === 'entry');
}

/** The last entry with that key (sops and compose both let the last duplicate win). */
export function findEntry(map: SopsMap, key: string): SopsMapEntry | undefined {
  let found: SopsMapEntry | undefined;
  for (const item of map.items) if (item.kind === 'entry' && item.key === key) found = item;
  return found;
}
