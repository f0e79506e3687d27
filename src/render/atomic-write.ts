// The only code that writes rendered secrets: plans (create/update/unchanged, in memory) and swaps the
// targets of one service atomically — temp file (O_EXCL, mode set before the first byte), fsync, rename,
// directory fsync — under the service lock, restoring already-swapped targets if a later step fails.
// It never logs or puts content in an error; callers build the content (core/env-file) and check it first.
// Metadata calls and small reads/writes are synchronous (a few µs each, where fs/promises costs ~45 µs of CPU
// per call); only the fsyncs, which wait for the disk, go to libuv's thread pool, so those of the services
// rendering side by side overlap.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, fsync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { acquireRenderLock, DEFAULT_LOCK_TIMEOUT_MS, lockPathOf, type RenderLock } from './render-lock.js';
import { cleanStaleTemps, tempNameFor } from './stale-temps.js';
import { currentWriter, preflightTargets, resolveRoot, type CheckedTarget, type PreflightOptions, type PreflightResult, type TargetSpec } from './target-safety.js';

/** One target and the exact text to put in it. */
export interface TargetWrite extends TargetSpec {
  /** The whole new content (UTF-8); compared byte for byte with the current one. */
  content: string;
}

/** What writing did to one target. */
export type WriteOutcome = 'created' | 'updated' | 'unchanged';

/** What writing would do to one target (dry run). */
export type PlanAction = 'create' | 'update' | 'unchanged';

/** The plan of one target. */
export interface TargetPlan {
  targetRel: string;
  action: PlanAction;
  /**
   * The current content (null when the file does not exist), so the caller can diff key NAMES in memory.
   * It holds secret values: never log, print or return it over HTTP.
   */
  previous: string | null;
  /** The file exists but its mode, owner or group differs from the requested ones (fixed without rewriting). */
  permissionsDrift: boolean;
}

/** The result of writing one target. */
export interface TargetWriteResult {
  targetRel: string;
  outcome: WriteOutcome;
  /**
   * SHA-256 (hex) of the content now in the target, for audit lines. It is derived from secret values: fine
   * to compare, but a file holding one short guessable value could be brute-forced from it.
   */
  sha256: string;
  /** An `unchanged` target had its mode/owner/group corrected (chmod/chown, content and mtime untouched). */
  permissionsFixed: boolean;
}

/** Test seams: called at fixed points of {@link writeTargetsAtomically}; throwing aborts (and rolls back). */
export interface WriteHooks {
  /** Right after a temp file is created and its mode/owner set, before its first byte is written. */
  tempCreated?(tempFile: string, targetRel: string): void | Promise<void>;
  /** Before the `index`-th changed target (0-based) is renamed over its target. */
  beforeSwap?(targetRel: string, index: number): void | Promise<void>;
}

/** Options of {@link writeTargetsAtomically}. */
export interface WriteTargetsOptions {
  /** How long to wait for another render of the same service (default 10 000 ms), then COFFRE_LOCKED. */
  lockTimeoutMs?: number;
  hooks?: WriteHooks;
  /**
   * The service's render lock, already taken by the caller ({@link acquireServiceLock}) so that it could read
   * the sources under it; used as is and left for the caller to release. Without it, the lock is taken here.
   */
  heldLock?: RenderLock;
  /**
   * Skip the git questions under the lock because the caller asked them for these targets moments ago
   * (render asks once per run for all services). git itself takes no coffre lock, so asking again here
   * would only narrow a window, not close it; every non-git check still runs again under the lock.
   */
  skipGit?: boolean;
}

interface CurrentFile {
  bytes: Buffer;
  stats: Stats;
}

/**
 * Computes, without writing anything, what {@link writeTargetsAtomically} would do to each target:
 * `create` / `update` / `unchanged` by comparing bytes in memory. Runs the same safety checks first
 * (throws what {@link preflightTargets} throws). `previous` holds secret content: never log it.
 */
export async function planTargets(
  root: string,
  writes: readonly TargetWrite[],
  options: PreflightOptions & { checked?: PreflightResult } = {},
): Promise<TargetPlan[]> {
  // A plan only reads; the caller's own preflight of these very writes (same order) is reused when given.
  const { targets } = options.checked ?? (await preflightTargets(root, writes, options));
  if (targets.length !== writes.length) throw new Error('planTargets: the preflight result does not match the writes');
  const plans: TargetPlan[] = [];
  for (const [index, target] of targets.entries()) {
    const current = target.missingDirs.length > 0 ? null : await readCurrent(target);
    const bytes = Buffer.from(writes[index]!.content, 'utf8');
    plans.push({
      targetRel: target.targetRel,
      action: current === null ? 'create' : current.bytes.equals(bytes) ? 'unchanged' : 'update',
      previous: current === null ? null : current.bytes.toString('utf8'),
      permissionsDrift: current !== null && hasPermissionDrift(current.stats, target),
    });
  }
  return plans;
}

/**
 * Writes every target of `service` as one unit, under the service's render lock:
 * 1. under the lock, the {@link preflightTargets} checks again (the caller's may be stale), and removal of
 *    temp files a crashed run left;
 * 2. missing directories created (0700, 0750 with a group, 2770 under a folder writable by the render group),
 *    one component at a time, never via symlinks;
 * 3. each changed target written to `.<name>.coffre-tmp-<pid>-<hex>` beside it (O_EXCL|O_NOFOLLOW, created
 *    0600, then owner/group and final mode set before the first byte), fsynced; drifted modes/owners of
 *    unchanged targets fixed through a file descriptor;
 * 4. each current target hard-linked to a backup temp name, the temp renamed over it; directories fsynced;
 * 5. backups removed.
 * If a step of 3–4 fails, swapped targets get their backup renamed back (created ones are removed), temps
 * are removed, and COFFRE_TARGET_WRITE is thrown. A crash at any instant leaves each target entirely old
 * or entirely new; leftover temps are removed by the next run. Unchanged targets keep their mtime.
 */
export async function writeTargetsAtomically(
  root: string,
  service: string,
  writes: readonly TargetWrite[],
  options: WriteTargetsOptions = {},
): Promise<TargetWriteResult[]> {
  if (writes.length === 0) return [];
  const realRoot = await resolveRoot(root);
  const held = options.heldLock;
  if (held !== undefined && held.path !== lockPathOf(realRoot, service)) {
    throw new CoffreError('COFFRE_INTERNAL', `the lock given for service "${service}" is not its render lock`);
  }
  const lock = held ?? (await acquireRenderLock(realRoot, service, { timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS }));
  try {
    // Checked again under the lock even though callers ran preflightTargets before reading the sources:
    // this module must never write an unsafe target, whoever calls it.
    const { targets } = await preflightTargets(root, writes, { skipGit: options.skipGit ?? false });
    return await swapTargets(service, targets, writes, options.hooks ?? {});
  } finally {
    if (held === undefined) await lock.release();
  }
}

/**
 * Takes the render lock of `service` in the repo at `root` for a caller that reads the sources under it and
 * then passes it to {@link writeTargetsAtomically} as `heldLock` (the caller releases it). Waits up to
 * `timeoutMs` (default 10 000 ms), then COFFRE_LOCKED.
 */
export async function acquireServiceLock(root: string, service: string, options: { timeoutMs?: number } = {}): Promise<RenderLock> {
  return acquireRenderLock(await resolveRoot(root), service, { timeoutMs: options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS });
}

interface PendingSwap {
  target: CheckedTarget;
  temp: string | null;
  /** The temp's descriptor, open until its fsync is done. */
  unsyncedFd: number | null;
  /** Hard link to the replaced file; null for a created target or where hard links are unsupported. */
  backup: string | null;
  /** The replaced file as read, for a rollback by rewriting when there is no hard-link backup. */
  previous: CurrentFile | null;
  swapped: boolean;
}

async function swapTargets(
  service: string,
  targets: CheckedTarget[],
  writes: readonly TargetWrite[],
  hooks: WriteHooks,
): Promise<TargetWriteResult[]> {
  const namesByDir = new Map<string, string[]>();
  for (const target of targets) namesByDir.set(target.dir, [...(namesByDir.get(target.dir) ?? []), target.name]);
  for (const [dir, targetNames] of namesByDir) await cleanStaleTemps(dir, { targetNames });

  const results: TargetWriteResult[] = [];
  const pending: PendingSwap[] = [];
  let step = targets[0]!.targetRel;
  try {
    for (const [index, target] of targets.entries()) {
      step = target.targetRel;
      await createMissingDirs(target);
      const bytes = Buffer.from(writes[index]!.content, 'utf8');
      const current = await readCurrent(target, bytes);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const unchanged = current !== null && current.bytes.equals(bytes);
      if (unchanged && !current.driftNeedsRewrite) {
        results.push({ targetRel: target.targetRel, outcome: 'unchanged', sha256, permissionsFixed: current.permissionsFixed });
        continue;
      }
      const swap: PendingSwap = { target, temp: null, unsyncedFd: null, backup: null, previous: current, swapped: false };
      pending.push(swap);
      const written = await writeTemp(target, bytes, hooks, { sync: false });
      swap.temp = written.temp;
      swap.unsyncedFd = written.fd;
      // An unchanged target of another user with drifted permissions cannot be chmod-ed: the same bytes replace it.
      results.push(
        unchanged
          ? { targetRel: target.targetRel, outcome: 'unchanged', sha256, permissionsFixed: true }
          : { targetRel: target.targetRel, outcome: current === null ? 'created' : 'updated', sha256, permissionsFixed: false },
      );
    }
    // The temps of the service reach the disk together: their fsyncs overlap on the thread pool.
    // All settled before any descriptor is closed: none is closed (and its number reused) under a pending fsync.
    const synced = await Promise.allSettled(pending.map((swap) => (swap.unsyncedFd === null ? undefined : fsyncOnThreadPool(swap.unsyncedFd))));
    closeUnsynced(pending);
    const failed = synced.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const [index, swap] of pending.entries()) {
      step = swap.target.targetRel;
      await hooks.beforeSwap?.(swap.target.targetRel, index);
      if (swap.previous !== null) swap.backup = await linkBackup(swap.target);
      renameSync(swap.temp!, swap.target.file);
      swap.temp = null;
      swap.swapped = true;
    }
    await fsyncDirs(pending);
  } catch (error) {
    closeUnsynced(pending);
    const unrestored = await rollBack(pending);
    // A refusal found while preparing (nothing swapped yet) keeps its own code.
    if (error instanceof CoffreError && !pending.some((swap) => swap.swapped)) throw error;
    const restored = pending.filter((swap) => swap.swapped).length - unrestored.length;
    throw new CoffreError(
      'COFFRE_TARGET_WRITE',
      `writing ${step} of service "${service}" failed (${errorCode(error)}); ` +
        (unrestored.length === 0
          ? `${restored} target(s) already replaced were restored`
          : `could NOT restore ${unrestored.join(', ')}: check them by hand`),
      { file: step },
      { cause: error },
    );
  }
  for (const swap of pending) {
    if (swap.backup !== null) unlinkQuietly(swap.backup);
  }
  return results;
}

/**
 * Undoes swapped targets (newest first) and removes temps; returns the targets it could not restore (their
 * hard-link backup, if any, is kept and named).
 */
async function rollBack(pending: PendingSwap[]): Promise<string[]> {
  const unrestored: string[] = [];
  for (const swap of [...pending].reverse()) {
    try {
      if (swap.swapped) {
        if (swap.backup !== null) {
          renameSync(swap.backup, swap.target.file);
          swap.backup = null;
        } else if (swap.previous !== null) {
          await restoreByRewriting(swap.target, swap.previous);
        } else {
          unlinkSync(swap.target.file);
        }
      }
    } catch {
      unrestored.push(swap.backup === null ? swap.target.targetRel : `${swap.target.targetRel} (previous content kept in ${swap.backup})`);
      swap.backup = null;
    }
    for (const leftover of [swap.temp, swap.backup]) {
      if (leftover !== null) unlinkQuietly(leftover);
    }
  }
  await fsyncDirs(pending).catch(() => undefined);
  return unrestored;
}

/**
 * A hard link to the current target under a temp name: it keeps the old inode (content, mode, owner, mtime)
 * for a rollback by one rename, which needs no disk space. Null where the filesystem has no hard links.
 */
async function linkBackup(target: CheckedTarget): Promise<string | null> {
  const backup = path.join(target.dir, tempNameFor(target.name));
  try {
    linkSync(target.file, backup);
    return backup;
  } catch (error) {
    if (['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS'].includes((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
}

/** Rollback without a hard-link backup: the previous bytes, mode and owner written back atomically. */
async function restoreByRewriting(target: CheckedTarget, previous: CurrentFile): Promise<void> {
  const { mode, uid, gid } = previous.stats;
  // Only root can give a file to another user (a shared checkout's target of another group member): the bytes and mode matter.
  const writer = currentWriter();
  const owner = writer.uid === 0 || uid === writer.uid ? uid : null;
  const group = writer.uid === 0 || writer.groups.includes(gid) ? gid : target.group;
  const { temp } = await writeTemp({ ...target, mode: mode & 0o777, owner, group }, previous.bytes, {}, { sync: true });
  try {
    renameSync(temp, target.file);
  } catch (error) {
    unlinkQuietly(temp);
    throw error;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone: nothing to remove
  }
}

/**
 * Creates the temp file of `target` with `bytes`. With `sync`, it is fsynced and closed; without, its descriptor
 * is returned open for the caller to fsync (with the other temps of the service) and close.
 */
async function writeTemp(target: CheckedTarget, bytes: Buffer, hooks: WriteHooks, options: { sync: boolean }): Promise<{ temp: string; fd: number | null }> {
  const temp = path.join(target.dir, tempNameFor(target.name));
  // 0600 at creation: whatever the umask, the file is never more open than owner-only while it is empty.
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    if (target.owner !== null || target.group !== null) fchownSync(fd, target.owner ?? -1, target.group ?? -1);
    // Never widen to "other" bits, even when restoring a file that had them.
    fchmodSync(fd, target.mode & 0o770);
    await hooks.tempCreated?.(temp, target.targetRel);
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
    if (options.sync) await fsyncOnThreadPool(fd);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw error;
  }
  if (!options.sync) return { temp, fd };
  closeSync(fd);
  return { temp, fd: null };
}

function closeUnsynced(pending: PendingSwap[]): void {
  for (const swap of pending) {
    if (swap.unsyncedFd === null) continue;
    try {
      closeSync(swap.unsyncedFd);
    } catch {
      // closing can only fail for a descriptor already closed
    }
    swap.unsyncedFd = null;
  }
}

/** fsync(2) of `fd` on libuv's thread pool: it waits for the disk, so it must not hold the event loop. */
function fsyncOnThreadPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/**
 * Reads the current target through O_NOFOLLOW (a symlink swapped in since the checks is refused). When its
 * bytes equal `unchangedIf` and its mode/owner/group drifted, the drift is fixed through the same descriptor,
 * so no file swapped in between the read and the fix can be chmod-ed or chown-ed.
 */
async function readCurrent(
  target: CheckedTarget,
  unchangedIf?: Buffer,
): Promise<(CurrentFile & { permissionsFixed: boolean; driftNeedsRewrite: boolean }) | null> {
  let fd: number;
  try {
    // A target not rendered yet: known without an exception built for the failed open (as if opened a moment earlier).
    if (lstatSync(target.file, { throwIfNoEntry: false }) === undefined) return null;
    // O_NONBLOCK: a FIFO swapped in since the checks cannot hold the open (fstat refuses it next).
    fd = openSync(target.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${target.targetRel} is a symlink: coffre writes only regular files`, { file: target.targetRel });
    }
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${target.targetRel} exists and is not a regular file`, { file: target.targetRel });
    }
    const bytes = readFileSync(fd);
    const drifted = unchangedIf !== undefined && bytes.equals(unchangedIf) && hasPermissionDrift(stats, target);
    const euid = currentWriter().uid;
    // Only the owner (or root) may chmod/chown; another group member's target is rewritten instead (see swapTargets).
    if (drifted && euid !== 0 && stats.uid !== euid) return { bytes, stats, permissionsFixed: false, driftNeedsRewrite: true };
    if (drifted) {
      if (target.owner !== null || target.group !== null) fchownSync(fd, target.owner ?? -1, target.group ?? -1);
      fchmodSync(fd, target.mode);
    }
    return { bytes, stats, permissionsFixed: drifted, driftNeedsRewrite: false };
  } finally {
    closeSync(fd);
  }
}

function hasPermissionDrift(stats: Stats, target: CheckedTarget): boolean {
  return (
    (stats.mode & 0o7777) !== target.mode ||
    (target.owner !== null && stats.uid !== target.owner) ||
    (target.group !== null && stats.gid !== target.group)
  );
}

async function createMissingDirs(target: CheckedTarget): Promise<void> {
  if (target.missingDirs.length === 0) return;
  // Group members need to traverse the directory to read a 0640 target; in a checkout shared by the render
  // group (group-writable parent), they also render into it: group-writable and setgid, like its parent.
  const parent = lstatSync(path.dirname(target.missingDirs[0]!));
  const shared = target.group !== null && (parent.mode & 0o020) !== 0 && parent.gid === target.group;
  const dirMode = shared ? 0o2770 : target.group !== null && (target.mode & 0o070) !== 0 ? 0o750 : 0o700;
  for (const dir of target.missingDirs) {
    try {
      mkdirSync(dir, { mode: dirMode });
      if (target.group !== null) chownSync(dir, -1, target.group);
      chmodSync(dir, dirMode);
    } catch (error) {
      // Created meanwhile (e.g. by an earlier target of the same service): fine if it is a real directory.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stats = lstatSync(dir);
    if (stats.isSymbolicLink() || !stats.isDirectory()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `target ${target.targetRel} is reached through a symlink or non-directory (${dir})`, { file: target.targetRel });
    }
  }
}

async function fsyncDirs(pending: PendingSwap[]): Promise<void> {
  for (const dir of new Set(pending.map((swap) => swap.target.dir))) {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fsyncOnThreadPool(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function errorCode(error: unknown): string {
  if (error instanceof CoffreError) return error.code;
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}
