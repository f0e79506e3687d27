// Where the infra repo is. `-C DIR` (or COFFRE_REPO) means "act as if started in DIR", like `git -C`: the
// repo is then found upwards from DIR as from the working directory — the nearest folder holding coffre.yaml,
// else the git work tree's top, else the folder itself — and a service folder DIR is in still counts as "here".
// The old `coffre <cmd> REPO_DIR …` form is still read when it cannot be a service (see locateRepo).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { CONFIG_FILE_NAMES, defaultConfig, loadConfig } from '../repo/config.js';
import { discoverRepo } from '../repo/discover.js';
import type { CliIo } from './io.js';

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The repo root for `explicit` (a REPO_DIR argument, resolved against cwd) or, without one, found upwards. */
export async function resolveRepoRoot(cwd: string, explicit: string | undefined): Promise<string> {
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  const start = path.resolve(cwd);
  let gitTop: string | null = null;
  for (let dir = start; ; dir = path.dirname(dir)) {
    for (const name of CONFIG_FILE_NAMES) if (await exists(path.join(dir, name))) return dir;
    if (gitTop === null && (await exists(path.join(dir, '.git')))) gitTop = dir;
    if (path.dirname(dir) === dir) break;
  }
  return gitTop ?? start;
}

/** The service the working directory is in (its folder path relative to the root), if cwd is below the root. */
export function serviceOfCwd(root: string, cwd: string, serviceNames: readonly string[]): string | null {
  const rel = path.relative(root, path.resolve(cwd)).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  // The deepest service folder containing cwd (services may nest).
  const matches = serviceNames.filter((name) => name !== '.' && (rel === name || rel.startsWith(`${name}/`)));
  return matches.sort((a, b) => b.length - a.length)[0] ?? null;
}

/** Where a command acts. */
export interface RepoLocation {
  /** Absolute repo root. */
  root: string;
  /** The working directory the command acts from: `-C DIR` (or COFFRE_REPO), else the real one. */
  cwd: string;
  /** The positionals left once an old-style REPO_DIR was taken off. */
  positionals: string[];
}

/** How the old REPO_DIR positional may be recognised for one command. */
export interface LegacyRepoDir {
  /** `always`: the first positional is REPO_DIR (serve); a number: only with exactly that many positionals. */
  positionals: 'always' | 'any' | number;
}

/**
 * The repo and working directory of a command: from `-C` (chained like git's), else COFFRE_REPO, else cwd.
 * Without either, a first positional that is a folder holding coffre.yaml or .git and is not a service of the
 * repo found from cwd is taken as the deprecated REPO_DIR (a note goes to stderr); every other positional
 * is a service (or file / key) name.
 */
export async function locateRepo(io: CliIo, repoFlags: readonly string[], positionals: readonly string[], legacy: LegacyRepoDir): Promise<RepoLocation> {
  const fromEnv = io.env.COFFRE_REPO !== undefined && io.env.COFFRE_REPO !== '' ? io.env.COFFRE_REPO : undefined;
  if (repoFlags.length > 0 || fromEnv !== undefined) {
    let cwd = path.resolve(io.cwd);
    for (const dir of repoFlags.length > 0 ? repoFlags : [fromEnv as string]) {
      cwd = path.resolve(cwd, dir);
      const stats = await stat(cwd).catch(() => null);
      const what = repoFlags.length > 0 ? `-C ${dir}` : `COFFRE_REPO=${dir}`;
      if (stats === null) throw new CoffreError('COFFRE_USAGE', `${what}: no such directory (${cwd})`);
      if (!stats.isDirectory()) throw new CoffreError('COFFRE_USAGE', `${what}: not a directory (${cwd})`);
    }
    return { root: await resolveRepoRoot(cwd, undefined), cwd, positionals: [...positionals] };
  }
  const found = { root: await resolveRepoRoot(io.cwd, undefined), cwd: path.resolve(io.cwd), positionals: [...positionals] };
  const [first, ...rest] = positionals;
  if (first === undefined) return found;
  if (typeof legacy.positionals === 'number' && positionals.length !== legacy.positionals) return found;
  if (legacy.positionals !== 'always' && !(await isLegacyRepoDir(io.cwd, found.root, first))) return found;
  io.stderr.write(`coffre: note: "coffre <command> REPO_DIR" is deprecated; use -C: coffre -C ${quote(first)} … (or COFFRE_REPO)\n`);
  return { root: path.resolve(io.cwd, first), cwd: path.resolve(io.cwd), positionals: rest };
}

/** A service name as the user may type it: `./mattermost/` is `mattermost`. */
export function normalizeServiceName(name: string): string {
  const trimmed = name.replace(/\/+$/, '').replace(/^(\.\/)+/, '');
  return trimmed === '' ? '.' : trimmed;
}

/** A folder holding coffre.yaml or .git that is not also a service of the repo found from cwd. */
async function isLegacyRepoDir(cwd: string, root: string, name: string): Promise<boolean> {
  const dir = path.resolve(cwd, name);
  const markers = [...CONFIG_FILE_NAMES, '.git'];
  let marked = false;
  for (const marker of markers) if (await exists(path.join(dir, marker))) marked = true;
  if (!marked) return false;
  const config = await loadConfig(root).then(
    (loaded) => loaded.config,
    () => defaultConfig(),
  );
  const service = normalizeServiceName(name);
  const repo = await discoverRepo({ root, config, vaultEnabled: false, services: [service] }).catch(() => null);
  return !(repo?.services.some((s) => s.name === service) ?? false);
}

/** `-C ROOT ` for a command line printed as a hint (relative to cwd), empty when the root is cwd. */
export function repoFlagFor(cwd: string, root: string): string {
  const rel = path.relative(path.resolve(cwd), root);
  return rel === '' ? '' : `-C ${quote(rel)} `;
}

function quote(text: string): string {
  return /^[A-Za-z0-9_./@:+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
