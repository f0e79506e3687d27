// The creation rules of a repo's `.sops.yaml` (what `sops encrypt` uses to pick recipients for a NEW file):
// the first rule whose `path_regex` matches the file's path relative to the `.sops.yaml` folder. Only age
// recipients are followed; a matching rule asking for anything else (pgp, kms, key_groups, custom encryption
// rules) is refused by name, so a file coffre creates is what `sops encrypt` would have made.
import path from 'node:path';
import { parse } from 'yaml';
import { CoffreError } from '../errors.js';
import { re2ToRegExp } from '../sops/encryption-rule.js';
import { open } from 'node:fs/promises';

export interface SopsCreationRule {
  /** The `.sops.yaml` read, relative to the repo root (posix). */
  configRel: string;
  /** 1-based index of the matching rule. */
  index: number;
  recipients: string[];
}

const FOLLOWED = new Set(['path_regex', 'age']);

/** A `.sops.yaml` is a small config: more than this is refused. */
const MAX_SOPS_CONFIG_BYTES = 1024 * 1024;

async function readSmallText(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_SOPS_CONFIG_BYTES) throw new CoffreError('COFFRE_SOPS_METADATA', `${file}: larger than ${MAX_SOPS_CONFIG_BYTES} bytes, refused`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * The age recipients for a new sops file `file` (absolute): the nearest `.sops.yaml` from the file's folder up
 * to `root`, its first creation rule matching. Null when there is no `.sops.yaml` or no rule matches.
 */
export async function findSopsCreationRule(root: string, file: string): Promise<SopsCreationRule | null> {
  let dir = path.dirname(file);
  // Only .sops.yaml files inside the repo count (a file outside it has none to follow).
  const inside = (d: string): boolean => !path.relative(root, d).startsWith('..') && !path.isAbsolute(path.relative(root, d));
  for (;;) {
    if (!inside(dir)) return null;
    for (const name of ['.sops.yaml', '.sops.yml']) {
      const config = path.join(dir, name);
      let text: string;
      try {
        text = await readSmallText(config);
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code === 'ENOENT') continue;
        throw error;
      }
      return ruleFor(text, path.relative(root, config).split(path.sep).join('/'), path.relative(dir, file).split(path.sep).join('/'));
    }
    if (path.resolve(dir) === path.resolve(root) || path.dirname(dir) === dir) return null;
    dir = path.dirname(dir);
  }
}

/** The first rule of `.sops.yaml` text matching `relFile` (posix, relative to the config's folder). */
export function ruleFor(text: string, configRel: string, relFile: string): SopsCreationRule | null {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch {
    throw new CoffreError('COFFRE_SOPS_METADATA', `${configRel}: not valid YAML`, { file: configRel });
  }
  const rules = (doc as { creation_rules?: unknown } | null)?.creation_rules;
  if (rules === undefined || rules === null) return null;
  if (!Array.isArray(rules)) throw new CoffreError('COFFRE_SOPS_METADATA', `${configRel}: creation_rules must be a list`, { file: configRel });
  for (const [i, rule] of rules.entries()) {
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) throw new CoffreError('COFFRE_SOPS_METADATA', `${configRel}: creation rule ${i + 1} is not a map`, { file: configRel });
    const fields = rule as Record<string, unknown>;
    const regex = fields.path_regex;
    if (regex !== undefined && typeof regex !== 'string') throw new CoffreError('COFFRE_SOPS_METADATA', `${configRel}: creation rule ${i + 1}: path_regex must be a string`, { file: configRel });
    if (regex !== undefined && regex !== '' && !re2ToRegExp(regex, configRel).test(relFile)) continue;
    const others = Object.keys(fields).filter((k) => !FOLLOWED.has(k) && fields[k] !== null && fields[k] !== '');
    if (others.length > 0) {
      throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${configRel}: creation rule ${i + 1} (matching ${relFile}) uses ${others.join(', ')}; coffre creates sops files for age recipients only: create this one with \`sops encrypt\``, { file: configRel });
    }
    const age = fields.age;
    const list = typeof age === 'string' ? age.split(',') : Array.isArray(age) ? age : [];
    const recipients = list.map((r) => (typeof r === 'string' ? r.trim() : '')).filter((r) => r !== '');
    if (recipients.length === 0 || recipients.some((r) => !/^age1[0-9a-z]+$/.test(r))) {
      throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${configRel}: creation rule ${i + 1} (matching ${relFile}) has no usable age recipients (age: age1…[,age1…])`, { file: configRel });
    }
    return { configRel, index: i + 1, recipients };
  }
  return null;
}
