// Decides whether rendered secrets may be written at the given targets: inside the repo root, no "..",
// NUL or absolute name, no symlink on the way, no directory writable by others, writable by this process,
// another user's target only under the shared-checkout rule (render group), never tracked or unignored by git.
// It only inspects (lstat, access, read-only git); it never writes. The lstat/access calls are synchronous:
// local metadata calls of a few microseconds each, where their fs/promises forms cost ~45 µs of CPU apiece and
// `render --all` makes several per target.
import { accessSync, constants, lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { checkGitExposure, type GitExposure } from './git-exposure.js';
import { describeId, idName, isGroupMember } from './ownership.js';
import { lockDirectoryAccessError, lockDirectoryOf } from './render-lock.js';

/** Default mode of a rendered target: read/write for its owner only. */
export const DEFAULT_TARGET_MODE = 0o600;

/** One target to check or write, named relative to the infra repo root. */
export interface TargetSpec {
  /** Path relative to the repo root, `/`-separated (e.g. `chat/secrets/db.secrets`). */
  targetRel: string;
  /** Absolute path, as a cross-check only: when given it must equal `<root>/<targetRel>`. */
  target?: string;
  /** File mode (default 0o600). Any bit for "other" users is refused: a secret is never world-readable. */
  mode?: number;
  /** Numeric uid to give the file; null/undefined leaves it to the user running coffre. */
  owner?: number | null;
  /** Numeric gid to give the file (e.g. the `docker` group with mode 0o640); null/undefined: default group. */
  group?: number | null;
}

/** A target that passed every check, with everything the writer needs. Paths are under the real root. */
export interface CheckedTarget {
  targetRel: string;
  /** Absolute path of the target. */
  file: string;
  /** Absolute path of its directory. */
  dir: string;
  /** Its base name. */
  name: string;
  /** Directories to create, top-down (absolute), because they do not exist yet. */
  missingDirs: string[];
  /** The target existed (as a regular file) when it was checked. */
  exists: boolean;
  mode: number;
  owner: number | null;
  group: number | null;
}

/** Options of {@link preflightTargets}. */
export interface PreflightOptions {
  /**
   * Skip the git questions (two `git` processes) because the caller has just asked them for a superset of
   * these targets in one batch. The write itself always asks again under the lock.
   */
  skipGit?: boolean;
}

/** What {@link preflightTargets} established. */
export interface PreflightResult {
  /** The real path of the repo root. */
  root: string;
  /** `not-a-repository` when the root is in no git work tree (nothing can track the targets; see git-exposure). */
  git: GitExposure;
  targets: CheckedTarget[];
}

/**
 * Checks every target before any secret is read: name (no NUL, `..`, absolute path, `.git`/`.coffre`
 * component), no symlink in any component below the root nor as the target itself, no directory from the
 * root down writable by others, the nearest existing directory writable and the current target readable
 * by this process, owner/group settable, the lock directory usable, and git (tracked / not ignored).
 * A string is a name relative to `root`, or an absolute path inside it (shorthand for `{ targetRel, target }`);
 * a `targetRel` itself must be relative. Throws CoffreError: COFFRE_TARGET_UNSAFE, COFFRE_TARGET_TRACKED,
 * COFFRE_TARGET_NOT_IGNORED, COFFRE_TARGET_WRITE (no write access).
 */
export async function preflightTargets(
  root: string,
  targets: ReadonlyArray<string | TargetSpec>,
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const realRoot = await resolveRoot(root);
  const specs = targets.map((target) => (typeof target === 'string' ? specOfPath(root, realRoot, target) : target));
  const checked: CheckedTarget[] = [];
  const seen = new Set<string>();
  // Targets of one service share their directories: each is looked at once per preflight.
  const dirStats = new Map<string, Stats | null>();
  for (const spec of specs) {
    const target = await checkTargetPath(root, realRoot, spec, dirStats);
    if (seen.has(target.targetRel)) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `${target.targetRel} is named twice`, { file: target.targetRel });
    }
    seen.add(target.targetRel);
    checked.push(target);
  }
  await checkLockDirectory(realRoot);
  const git = options.skipGit ? 'checked' : await checkGitExposure(realRoot, checked.map((target) => target.targetRel));
  return { root: realRoot, git, targets: checked };
}

/**
 * The spec of a string target: a name relative to the root as is, or an absolute path (as the compose
 * discovery gives them) turned into its name below the root. An absolute path outside the root, or one
 * with a `..` component, is refused.
 */
function specOfPath(root: string, realRoot: string, target: string): TargetSpec {
  if (!path.isAbsolute(target) || target.includes('\0')) return { targetRel: target };
  if (target.split('/').includes('..')) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${target} contains "..": it could point outside the repo root`, { file: target });
  }
  for (const base of [root, realRoot]) {
    const prefix = base.endsWith('/') ? base : `${base}/`;
    if (target.startsWith(prefix)) return { targetRel: target.slice(prefix.length), target };
  }
  throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${target} is outside the infra repo root ${root}`, { file: target });
}

/** The real path of `root`, which must be an absolute path to a directory not writable by others. */
export async function resolveRoot(root: string): Promise<string> {
  if (typeof root !== 'string' || root.includes('\0') || !path.isAbsolute(root)) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `the repo root must be an absolute path, got ${JSON.stringify(root)}`);
  }
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (error) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `the repo root ${root} cannot be resolved (${errorCode(error)})`, {}, { cause: error });
  }
  const stats = lstatSync(realRoot);
  if (!stats.isDirectory()) throw new CoffreError('COFFRE_TARGET_UNSAFE', `the repo root ${root} is not a directory`);
  assertNotWritableByOthers(stats.mode, realRoot, '.');
  return realRoot;
}

/** Splits a target name into path segments, refusing what could leave the root or hide in git/coffre's own dirs. */
export function targetSegments(targetRel: string): string[] {
  if (typeof targetRel !== 'string' || targetRel === '') {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', 'a target has an empty name');
  }
  const shown = JSON.stringify(targetRel);
  if (targetRel.includes('\0')) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target name ${shown} contains a NUL byte`);
  }
  if (path.isAbsolute(targetRel)) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} is an absolute path: name it relative to the repo root`, { file: targetRel });
  }
  if (targetRel.endsWith('/')) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} names a directory, not a file`, { file: targetRel });
  }
  const segments = targetRel.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} contains "..": it could point outside the repo root`, { file: targetRel });
  }
  const reserved = segments.find((segment) => ['.git', '.coffre'].includes(segment.toLowerCase()));
  if (reserved !== undefined) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} is inside ${reserved}/, which coffre never writes`, { file: targetRel });
  }
  if (segments.length === 0) throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${shown} names the repo root`);
  return segments;
}

async function checkTargetPath(root: string, realRoot: string, spec: TargetSpec, dirStats: Map<string, Stats | null>): Promise<CheckedTarget> {
  const segments = targetSegments(spec.targetRel);
  const targetRel = segments.join('/');
  if (spec.target !== undefined) {
    const expected = [path.join(root, ...segments), path.join(realRoot, ...segments)];
    if (typeof spec.target !== 'string' || !path.isAbsolute(spec.target) || !expected.includes(path.resolve(spec.target))) {
      throw new CoffreError(
        'COFFRE_TARGET_UNSAFE',
        `target ${String(spec.target)} is outside the repo root ${root} or is not ${targetRel} in it`,
        { file: targetRel },
      );
    }
  }
  const mode = checkMode(spec.mode ?? DEFAULT_TARGET_MODE, targetRel);
  const owner = checkId(spec.owner, 'owner', targetRel);
  const group = checkId(spec.group, 'group', targetRel);

  let dir = realRoot;
  let nearestExisting = realRoot;
  const missingDirs: string[] = [];
  // Every existing directory from the root down to the target's: whoever can write one of them can swap the target.
  const lstatDir = (dir: string): Stats | null => {
    if (!dirStats.has(dir)) dirStats.set(dir, lstatOrNull(dir));
    return dirStats.get(dir) ?? null;
  };
  const existingDirs: ExistingDir[] = [{ dir: realRoot, shown: '.', stats: lstatDir(realRoot) ?? lstatSync(realRoot) }];
  for (const [index, segment] of segments.slice(0, -1).entries()) {
    dir = path.join(dir, segment);
    const shownDir = segments.slice(0, index + 1).join('/');
    if (missingDirs.length > 0) {
      missingDirs.push(dir);
      continue;
    }
    const stats = lstatDir(dir);
    if (stats === null) {
      missingDirs.push(dir);
      continue;
    }
    if (stats.isSymbolicLink()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} is reached through a symlink (${shownDir})`, { file: targetRel });
    }
    if (!stats.isDirectory()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel}: ${shownDir} is not a directory`, { file: targetRel });
    }
    assertNotWritableByOthers(stats.mode, dir, shownDir);
    nearestExisting = dir;
    existingDirs.push({ dir, shown: shownDir, stats });
  }
  const name = segments[segments.length - 1]!;
  const file = path.join(dir, name);
  const existing = missingDirs.length > 0 ? null : lstatOrNull(file);
  if (existing?.isSymbolicLink()) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} is a symlink: coffre writes only regular files`, { file: targetRel });
  }
  if (existing && !existing.isFile()) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${targetRel} exists and is not a regular file`, { file: targetRel });
  }

  // Write access is checked now, before any secret is read, rather than discovered after.
  await assertAccess(nearestExisting, constants.W_OK | constants.X_OK, `cannot create files in ${path.relative(realRoot, nearestExisting) || '.'} (target ${targetRel})`, targetRel);
  const euid = process.geteuid?.() ?? 0;
  if (existing) {
    await assertAccess(file, constants.R_OK, `cannot read the current ${targetRel} to compare it`, targetRel);
    if (euid !== 0 && existing.uid !== euid) await assertMayReplaceOthersTarget(targetRel, existing, group, existingDirs, euid);
  }
  if (euid !== 0 && owner !== null && owner !== euid) {
    throw new CoffreError('COFFRE_TARGET_WRITE', `only root can give ${targetRel} to uid ${owner} (coffre runs as uid ${euid})`, { file: targetRel });
  }
  if (euid !== 0 && group !== null && group !== process.getegid?.() && !(process.getgroups?.() ?? []).includes(group)) {
    throw new CoffreError('COFFRE_TARGET_WRITE', `cannot give ${targetRel} to gid ${group}: coffre (uid ${euid}) is not in that group`, { file: targetRel });
  }
  return { targetRel, file, dir, name, missingDirs, exists: existing !== null, mode, owner, group };
}

/** Who this process writes as: its effective uid, and the gids it may give a file (effective + supplementary). */
export function currentWriter(): { uid: number; groups: number[] } {
  return { uid: process.geteuid?.() ?? 0, groups: [process.getegid?.() ?? 0, ...(process.getgroups?.() ?? [])] };
}

interface ExistingDir {
  dir: string;
  /** Relative to the root (`.` for the root). */
  shown: string;
  stats: Stats;
}

/**
 * The shared-checkout rule: a target owned by another user is replaced (by rename, never written in place) only
 * when a render group is configured, the target's owner is root or a member of it, and every directory from the
 * root down to the target's is owned by the writer, root or a member, and writable by no group but the render
 * group (by no other user: checked for every target). Then only that group's members, who may read the rendered
 * secrets anyway, could have touched the target or can swap the new one; anything else is refused, saying why.
 */
async function assertMayReplaceOthersTarget(
  targetRel: string,
  existing: Stats,
  group: number | null,
  dirs: readonly ExistingDir[],
  euid: number,
): Promise<void> {
  const owner = await describeId('uid', existing.uid);
  const me = await describeId('uid', euid);
  if (group === null) {
    throw new CoffreError(
      'COFFRE_TARGET_WRITE',
      `${targetRel} is owned by ${owner}, not by the user running coffre (${me}); coffre replaces another user's target only ` +
        `when both are in the configured render group: set render.group (with render.mode 0640) for a checkout shared by a group, or remove the file`,
      { file: targetRel },
    );
  }
  const renderGroup = await describeId('gid', group);
  if (!(await isGroupMember(existing.uid, group))) {
    throw new CoffreError(
      'COFFRE_TARGET_WRITE',
      `${targetRel} is owned by ${owner}, who is not in the render group ${renderGroup}: coffre replaces only targets of render-group members ` +
        `(remove the file, or add that user to the group if it should share the checkout)`,
      { file: targetRel },
    );
  }
  for (const { dir, shown, stats } of dirs) {
    const where = shown === '.' ? `the repo root ${dir}` : `directory ${shown}`;
    if ((stats.mode & 0o020) !== 0 && stats.gid !== group) {
      throw new CoffreError(
        'COFFRE_TARGET_UNSAFE',
        `${targetRel} is owned by ${owner}; ${where} is writable by group ${await describeId('gid', stats.gid)}, which is not the render group ` +
          `${renderGroup}: its members could swap the rendered secrets (chgrp ${await idName('gid', group)} ${dir}, or chmod g-w ${dir})`,
        { file: targetRel },
      );
    }
    if (stats.uid !== euid && !(await isGroupMember(stats.uid, group))) {
      throw new CoffreError(
        'COFFRE_TARGET_UNSAFE',
        `${targetRel} is owned by ${owner}; ${where} is owned by ${await describeId('uid', stats.uid)}, who is not in the render group ` +
          `${renderGroup} and could swap the rendered secrets (chown it to root or a member of the group)`,
        { file: targetRel },
      );
    }
  }
}

/** The lock directory (`.coffre/locks`) must not be a symlink and must be creatable/writable. */
async function checkLockDirectory(realRoot: string): Promise<void> {
  const lockDir = lockDirectoryOf(realRoot);
  let nearestExisting = realRoot;
  for (const dir of [path.dirname(lockDir), lockDir]) {
    // EACCES: a parent this user may not search (e.g. `.coffre` left 0700 by another admin's older coffre).
    let stats: Stats | null;
    try {
      stats = lstatOrNull(dir);
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'EACCES' ? await lockDirectoryAccessError(path.dirname(dir), error) : error;
    }
    if (stats === null) break;
    if (stats.isSymbolicLink() || !stats.isDirectory()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `${dir} must be a real directory (it holds render locks)`);
    }
    assertNotWritableByOthers(stats.mode, dir, path.relative(realRoot, dir));
    nearestExisting = dir;
  }
  try {
    accessSync(nearestExisting, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw await lockDirectoryAccessError(nearestExisting, error);
  }
}


function checkMode(mode: number, targetRel: string): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `mode ${String(mode)} of ${targetRel} is not a permission mode (0 to 0o777)`, { file: targetRel });
  }
  if ((mode & 0o007) !== 0) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `mode 0${mode.toString(8)} of ${targetRel} lets every user of the host access the secrets; use 0600 or 0640`, { file: targetRel });
  }
  return mode;
}

function checkId(id: number | null | undefined, what: 'owner' | 'group', targetRel: string): number | null {
  if (id === undefined || id === null) return null;
  if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) {
    throw new CoffreError('COFFRE_TARGET_UNSAFE', `${what} ${String(id)} of ${targetRel} is not a numeric id`, { file: targetRel });
  }
  return id;
}

function assertNotWritableByOthers(mode: number, dir: string, shown: string): void {
  if ((mode & 0o002) !== 0) {
    throw new CoffreError(
      'COFFRE_TARGET_UNSAFE',
      `directory ${shown === '.' ? dir : shown} is writable by other users: any of them could swap a rendered secret (chmod o-w ${dir})`,
      { file: shown },
    );
  }
}

async function assertAccess(file: string, mode: number, message: string, targetRel?: string): Promise<void> {
  try {
    accessSync(file, mode);
  } catch (error) {
    throw new CoffreError('COFFRE_TARGET_WRITE', `${message} (${errorCode(error)})`, targetRel ? { file: targetRel } : {}, { cause: error });
  }
}

function lstatOrNull(file: string): Stats | null {
  try {
    // Absent (a target not rendered yet, `.coffre`): null without an exception built for it.
    return lstatSync(file, { throwIfNoEntry: false }) ?? null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new CoffreError('COFFRE_TARGET_UNSAFE', `${file}: a component of the path is not a directory`);
    throw error;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}
