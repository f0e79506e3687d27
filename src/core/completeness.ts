// The completeness diff: which keys an example declares are missing, empty or placeholders in a source,
// and which stored keys the example does not know. A pure function of the example and what the store told.
import type { KeyListing, ValueSnapshot } from './source-ref.js';
import type { ExampleModel } from './example.js';
import { looksLikePlaceholder } from './placeholder.js';

export type KeyStatus = 'ok' | 'missing' | 'empty' | 'placeholder' | 'extra';

/** The verdict on one key. `line` is the example line, null for `extra` keys. */
export interface KeyReport {
  name: string;
  status: KeyStatus;
  line: number | null;
  /** The example marks the key optional (`@optional` or commented out): it never makes a file incomplete. */
  optional: boolean;
}

function isSnapshot(stored: KeyListing | ValueSnapshot): stored is ValueSnapshot {
  return 'values' in stored;
}

/**
 * One report per example key, in example order, then one `extra` per stored key the example does not
 * declare (in store order; none when the store's names are opaque). With values: "" is `empty` (`ok` under `@allow-empty`); a value that looks
 * like a placeholder, or equals a placeholder-looking example value, is `placeholder`. With a key listing:
 * presence `empty` is `empty`, `set` and `unknown` are `ok` (values are not seen).
 */
export function diffCompleteness(example: ExampleModel, stored: KeyListing | ValueSnapshot): KeyReport[] {
  const reports: KeyReport[] = [];
  const declared = new Set<string>();
  for (const key of example.keys) {
    declared.add(key.name);
    reports.push({ name: key.name, status: statusOf(key, stored), line: key.line, optional: key.optional });
  }
  // Names read out of decrypted content (sops binary) are shown only when the example declares them.
  const storedNames = stored.opaqueNames ? [] : isSnapshot(stored) ? stored.values.keys() : stored.keys.keys();
  for (const name of storedNames) {
    if (!declared.has(name)) reports.push({ name, status: 'extra', line: null, optional: false });
  }
  return reports;
}

function statusOf(key: ExampleModel['keys'][number], stored: KeyListing | ValueSnapshot): KeyStatus {
  if (isSnapshot(stored)) {
    const value = stored.values.get(key.name);
    if (value === undefined) return 'missing';
    if (value === '') return key.allowEmpty ? 'ok' : 'empty';
    if (value === key.exampleValue && key.looksLikePlaceholder) return 'placeholder';
    return looksLikePlaceholder(value) ? 'placeholder' : 'ok';
  }
  const presence = stored.keys.get(key.name);
  if (presence === undefined) return 'missing';
  if (presence === 'empty') return key.allowEmpty ? 'ok' : 'empty';
  return 'ok';
}

/** `complete` when every non-optional key is `ok` (extra keys do not count against a file). */
export function fileStatusOf(keys: KeyReport[]): 'complete' | 'incomplete' {
  return keys.every((k) => k.optional || k.status === 'ok' || k.status === 'extra') ? 'complete' : 'incomplete';
}
