// Per-key settings from coffre.yaml (`files.<glob>.keys`) applied over an example's own annotations, so an
// upstream example need not be edited. Pure: takes the parsed example, returns a new one.
import type { ExampleModel } from './example.js';
import type { GenerateSpec } from './generate.js';

/** One `keys` entry: a key name or glob (case-sensitive) and the settings it gives. */
export interface KeyRule {
  key: string;
  policy: { optional?: boolean | undefined; allowEmpty?: boolean | undefined; generate?: GenerateSpec | undefined };
}

/**
 * The example with each key's `optional`, `allowEmpty` and `generate` replaced by the rules that match its
 * name, in order (a later rule wins for the settings it gives). Keys are never added or removed. `compileGlob`
 * turns a key glob into a matcher (picomatch, loaded by the caller only when a policy exists).
 */
export function applyKeyPolicy(example: ExampleModel, rules: readonly KeyRule[] | undefined, compileGlob: (glob: string) => (name: string) => boolean): ExampleModel {
  if (!rules || rules.length === 0) return example;
  const matchers = rules.map((rule) => ({ rule, test: compileGlob(rule.key) }));
  const keys = example.keys.map((key) => {
    const out = { ...key };
    for (const { rule, test } of matchers) {
      if (rule.key !== key.name && !test(key.name)) continue;
      if (rule.policy.optional !== undefined) out.optional = rule.policy.optional;
      if (rule.policy.allowEmpty !== undefined) out.allowEmpty = rule.policy.allowEmpty;
      if (rule.policy.generate !== undefined) out.generate = rule.policy.generate;
    }
    return out;
  });
  return { ...example, keys };
}
