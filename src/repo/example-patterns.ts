// Where the example of an env_file target may be: `examples.patterns` of coffre.yaml (placeholders filled from
// the target), and, when none exists, the nearest example-looking file to suggest. Path arithmetic only: the
// caller probes the disk and keeps every candidate inside the repo.
import path from 'node:path';
import { secretFileName } from './secret-naming.js';

/**
 * Placeholders of an example pattern, filled from the target `T` of a service:
 * - `{dir}`: T's folder relative to the service folder (`.` for the service folder itself, `../..` above it);
 * - `{base}`: T's file name (`pdns.env`, `.env`, `.env.n8n`);
 * - `{stem}`: T's file name without its leading dots (`.env` → `env`, `.env.n8n` → `env.n8n`);
 * - `{name}`: T's logical name, as in Vault paths (`db.secrets` → `db`, `pdns.env` → `pdns`, `.env` → `env`);
 * - `{suffix}`: each of `examples.suffixes` in turn (one pattern with it stands for one per suffix).
 */
export const EXAMPLE_PATTERN_PLACEHOLDERS = ['dir', 'base', 'stem', 'name', 'suffix'] as const;

/**
 * Tried after `T<suffix>`: `env.example` beside `.env`; `.env.<svc>.example` in the service folder for a target
 * elsewhere (`../../.env.<svc>`); `conf-sample/<file>.sample` beside an `env/<file>` folder.
 */
export const DEFAULT_EXAMPLE_PATTERNS = ['{dir}/{stem}{suffix}', '{base}{suffix}', '{dir}/../conf-sample/{base}{suffix}'] as const;

/** The placeholder values of a target but `{suffix}` (absolute paths in). */
function placeholderValues(serviceDir: string, target: string): Record<string, string> {
  const base = path.basename(target);
  return {
    dir: toPosix(path.relative(serviceDir, path.dirname(target))) || '.',
    base,
    stem: stemOf(base),
    name: secretFileName(target),
  };
}

const PLACEHOLDER = /\{([a-z]+)\}/g;

/** Fills one pattern for a target (a path relative to the service folder out). */
function fillPattern(pattern: string, values: Readonly<Record<string, string>>, suffix: string): string {
  return pattern.replace(PLACEHOLDER, (match, name: string) => (name === 'suffix' ? suffix : (values[name] ?? match)));
}

/**
 * The example candidates of `target`, absolute, in the order they are tried, without repeats: `T<suffix>` for
 * each suffix, then each pattern (a `{suffix}` pattern once per suffix, suffixes in order). A candidate must be
 * inside the service folder or the target's own folder (the caller also keeps it inside the repo).
 */
export function exampleCandidates(serviceDir: string, target: string, suffixes: readonly string[], patterns: readonly string[]): string[] {
  const out: string[] = [];
  const add = (candidate: string) => {
    if (candidate !== target && !out.includes(candidate)) out.push(candidate);
  };
  for (const suffix of suffixes) add(target + suffix);
  if (patterns.length === 0) return out;
  const targetDir = path.dirname(target);
  const values = placeholderValues(serviceDir, target);
  for (const pattern of patterns) {
    for (const suffix of pattern.includes('{suffix}') ? suffixes : ['']) {
      const candidate = path.resolve(serviceDir, fillPattern(pattern, values, suffix));
      if (isWithin(serviceDir, candidate) || path.dirname(candidate) === targetDir) add(candidate);
    }
  }
  return out;
}

/** An example-looking file found near a target. */
export interface NearbyExample {
  /** Absolute path. */
  file: string;
  /** The file name without its example suffix. */
  stem: string;
}

/**
 * The nearest example-looking file to a target that has none, or null. Similarity: the edit distance
 * (Levenshtein, case-insensitive, leading dots ignored) between the file's name without its example suffix and
 * the target's file name; only files within max(1, ⌊length/3⌋) edits count. Ties: fewer folder steps from the
 * target's folder, then path order.
 */
export function nearestExample(target: string, files: readonly NearbyExample[]): NearbyExample | null {
  const wanted = stemOf(path.basename(target)).toLowerCase();
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  let best: { file: NearbyExample; distance: number; steps: number } | null = null;
  for (const file of [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const distance = editDistance(stemOf(file.stem).toLowerCase(), wanted);
    if (distance > limit) continue;
    const rel = path.relative(path.dirname(target), path.dirname(file.file));
    const steps = rel === '' ? 0 : rel.split(path.sep).length;
    if (best === null || distance < best.distance || (distance === best.distance && steps < best.steps)) best = { file, distance, steps };
  }
  return best?.file ?? null;
}

/**
 * An `examples.patterns` entry that would find `example` for `target`, or null when the file's name cannot be
 * written from the target's (`{base}`, `{stem}` or `{name}` plus a fixed ending).
 */
export function suggestPattern(serviceDir: string, target: string, example: string): string | null {
  const base = path.basename(target);
  const name = path.basename(example);
  const forms: Array<[string, string]> = [
    ['{base}', base],
    ['{stem}', stemOf(base)],
    ['{name}', secretFileName(target)],
  ];
  const form = forms.find(([, value]) => value !== '' && name.startsWith(value) && name.length > value.length);
  if (form === undefined) return null;
  const ending = name.slice(form[1].length);
  const fromTarget = toPosix(path.relative(path.dirname(target), path.dirname(example)));
  const fromService = toPosix(path.relative(serviceDir, path.dirname(example)));
  if (fromService.startsWith('..') && fromTarget !== '') return null;
  // Beside the target or below it: relative to {dir}; elsewhere in the service folder: from the service folder.
  const folder = fromTarget === '' ? '{dir}/' : !fromTarget.startsWith('..') ? `{dir}/${fromTarget}/` : fromService === '' ? '' : `${fromService}/`;
  const pattern = `${folder}${form[0]}${ending}`;
  // Only a pattern that really finds the file is worth suggesting (it must stay in the service or target folder).
  return exampleCandidates(serviceDir, target, [], [pattern]).includes(example) ? pattern : null;
}

/** A file name without its leading dots (`.env` → `env`); a name of dots only stays as it is. */
export function stemOf(base: string): string {
  return base.replace(/^\.+/, '') || base;
}

function isWithin(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** Levenshtein distance (insert, delete, substitute: 1 each). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = current;
  }
  return previous[b.length]!;
}
