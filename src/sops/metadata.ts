// The `sops` metadata entry: unflattening (`__map_`/`__list_` keys of dotenv and INI) and validation into
// a typed SopsMetadata. Knows no store syntax and does no crypto.
import { CoffreError } from '../errors.js';
import { reformatRfc3339 } from './go-scalars.js';
import { isSopsComment, isSopsList, isSopsMap, JsonInteger, SopsTime, YamlTimestamp, type SopsNode } from './tree.js';

/** One age recipient and the data key (or Shamir part) wrapped for it, as an armored age file. */
export interface AgeKeyEntry {
  recipient: string;
  enc: string;
}

/** A key group: its age keys, plus value-free labels of the other master keys (pgp, kms…) coffre cannot use. */
export interface KeyGroup {
  age: AgeKeyEntry[];
  others: string[];
}

export type EncryptionRuleKind =
  | 'unencrypted_suffix'
  | 'encrypted_suffix'
  | 'unencrypted_regex'
  | 'encrypted_regex'
  | 'unencrypted_comment_regex'
  | 'encrypted_comment_regex';

/** Which leaves are encrypted; absent from the file means `unencrypted_suffix: _unencrypted`. */
export interface EncryptionRule {
  kind: EncryptionRuleKind;
  value: string;
}

/** The typed content of the `sops` metadata entry. */
export interface SopsMetadata {
  /** One group for the usual top-level key lists; several with `key_groups` (Shamir). */
  keyGroups: KeyGroup[];
  shamirThreshold: number;
  /** `lastmodified` as written. */
  lastModified: string;
  /** `lastmodified` re-formatted as Go RFC 3339: the AAD of the MAC. */
  macAad: string;
  /** The encrypted MAC (`ENC[…]`), or "" when the file has none. */
  mac: string;
  rule: EncryptionRule;
  macOnlyEncrypted: boolean;
  version: string;
}

const RULE_KINDS: EncryptionRuleKind[] = [
  'unencrypted_suffix',
  'encrypted_suffix',
  'unencrypted_regex',
  'encrypted_regex',
  'unencrypted_comment_regex',
  'encrypted_comment_regex',
];

const MASTER_KEY_KINDS = ['pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'hckms'] as const;

/** Plain metadata value: strings, numbers, booleans, null, arrays and string-keyed objects. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

/** A metadata subtree of the YAML/JSON stores as plain data (scalars as their text where sops reads a string). */
export function toPlain(node: SopsNode): PlainValue {
  if (isSopsMap(node)) {
    const out: { [key: string]: PlainValue } = {};
    for (const item of node.items) if (item.kind === 'entry') out[item.key] = toPlain(item.value);
    return out;
  }
  if (isSopsList(node)) return node.items.filter((i) => !isSopsComment(i)).map((i) => toPlain(i as SopsNode));
  if (node instanceof YamlTimestamp || node instanceof JsonInteger) return node.text;
  if (node instanceof SopsTime) return node.text;
  if (node instanceof Uint8Array) return Buffer.from(node).toString('utf8');
  if (typeof node === 'bigint') return Number(node);
  return node;
}

type Token = { kind: 'map'; key: string } | { kind: 'list'; index: number };

/**
 * Rebuilds nested metadata from flattened keys (`age__list_0__map_enc`). Lists must run 0…n-1 and no
 * node may be both a value and a container, as in sops' `stores/flatten.go`.
 */
export function unflattenMetadata(flat: Map<string, string>, file: string): { [key: string]: PlainValue } {
  const root: { [key: string]: PlainValue } = {};
  const fail = (key: string): never => {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: invalid flattened sops metadata key "${key}"`, { file });
  };
  for (const [flatKey, value] of flat) {
    const parts = flatKey.split(/__(map|list)_/);
    const tokens: Token[] = [{ kind: 'map', key: parts[0] ?? '' }];
    for (let i = 1; i + 1 < parts.length; i += 2) {
      const name = parts[i + 1] ?? '';
      if (parts[i] === 'map') tokens.push({ kind: 'map', key: name });
      else {
        if (!/^\d+$/.test(name)) fail(flatKey);
        tokens.push({ kind: 'list', index: Number(name) });
      }
    }
    let container: PlainValue = root;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as Token;
      const next = tokens[i + 1];
      const fresh: PlainValue = next === undefined ? value : next.kind === 'map' ? {} : [];
      if (token.kind === 'map') {
        if (typeof container !== 'object' || container === null || Array.isArray(container)) return fail(flatKey);
        const obj: { [key: string]: PlainValue } = container;
        if (!(token.key in obj)) obj[token.key] = fresh;
        else if (next === undefined || typeof obj[token.key] !== 'object') fail(flatKey);
        container = obj[token.key] as PlainValue;
      } else {
        if (!Array.isArray(container)) return fail(flatKey);
        const list: PlainValue[] = container;
        if (list[token.index] === undefined) list[token.index] = fresh;
        else if (next === undefined || typeof list[token.index] !== 'object') fail(flatKey);
        container = list[token.index] as PlainValue;
      }
    }
  }
  const checkLists = (v: PlainValue): void => {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: flattened sops metadata list has a gap at index ${i}`, { file });
        checkLists(v[i] as PlainValue);
      }
    } else if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) checkLists(child);
  };
  checkLists(root);
  return root;
}

function asString(value: PlainValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function describeMasterKey(kind: string, entry: PlainValue): string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return kind;
  const id = ['fp', 'arn', 'resource_id', 'vault_url', 'vaultUrl', 'vault_address', 'key_id']
    .map((field) => asString(entry[field]))
    .find((v) => v !== undefined && v !== '');
  return id === undefined ? kind : `${kind} ${id}`;
}

function readGroup(source: { [key: string]: PlainValue }, file: string, line: number | undefined): KeyGroup {
  const group: KeyGroup = { age: [], others: [] };
  const age = source.age;
  if (age !== undefined && age !== null) {
    if (!Array.isArray(age)) throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: sops.age is not a list`, { file, line });
    for (const entry of age) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: a sops.age entry is not a map`, { file, line });
      }
      const recipient = asString(entry.recipient);
      const enc = asString(entry.enc);
      if (recipient === undefined || enc === undefined) {
        throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: a sops.age entry lacks recipient or enc`, { file, line });
      }
      group.age.push({ recipient, enc });
    }
  }
  for (const kind of MASTER_KEY_KINDS) {
    const list = source[kind];
    if (Array.isArray(list)) for (const entry of list) group.others.push(describeMasterKey(kind, entry));
  }
  return group;
}

/** Validates the metadata map of a sops file (already unflattened) into SopsMetadata. */
export function readMetadata(raw: PlainValue | undefined, file: string, line?: number): SopsMetadata {
  if (raw === undefined || raw === null) {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: not a sops file (no sops metadata)`, { file, line });
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: the sops metadata is not a map`, { file, line });
  }
  const lastModified = asString(raw.lastmodified);
  if (lastModified === undefined) {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: sops metadata has no lastmodified`, { file, line });
  }
  const macAad = reformatRfc3339(lastModified);
  if (macAad === undefined) {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: sops lastmodified is not an RFC 3339 time`, { file, line });
  }
  const rules = RULE_KINDS.filter((kind) => asString(raw[kind]) !== undefined && asString(raw[kind]) !== '');
  if (rules.length > 1) {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: sops metadata sets more than one encryption rule (${rules.join(', ')})`, { file, line });
  }
  const ruleKind = rules[0];
  const rule: EncryptionRule =
    ruleKind === undefined ? { kind: 'unencrypted_suffix', value: '_unencrypted' } : { kind: ruleKind, value: asString(raw[ruleKind]) as string };

  let keyGroups: KeyGroup[];
  const groups = raw.key_groups;
  if (Array.isArray(groups) && groups.length > 0) {
    keyGroups = groups.map((g) => {
      if (typeof g !== 'object' || g === null || Array.isArray(g)) {
        throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: a sops key group is not a map`, { file, line });
      }
      return readGroup(g, file, line);
    });
  } else {
    keyGroups = [readGroup(raw, file, line)];
  }
  const thresholdText = asString(raw.shamir_threshold);
  let shamirThreshold = keyGroups.length;
  if (thresholdText !== undefined && thresholdText !== '' && thresholdText !== '0') {
    if (!/^\d+$/.test(thresholdText)) {
      throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: sops shamir_threshold is not an integer`, { file, line });
    }
    shamirThreshold = Number(thresholdText);
  }
  const macOnly = raw.mac_only_encrypted;
  return {
    keyGroups,
    shamirThreshold,
    lastModified,
    macAad,
    mac: asString(raw.mac) ?? '',
    rule,
    macOnlyEncrypted: macOnly === true || macOnly === 'true' || macOnly === 'True' || macOnly === '1',
    version: asString(raw.version) ?? '',
  };
}
