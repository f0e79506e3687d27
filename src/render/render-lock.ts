// The per-service render lock and the per-file sops write lock: one O_EXCL lock file each under
// `<root>/.coffre/locks/`, holding the owner's pid, host, process start time and a random token; stale locks
// of dead processes are broken. They serialise writers of a service / of a sops file; they never touch either.
//
// Why inside the repo and not in $XDG_RUNTIME_DIR or /tmp: the lock must be shared by every process that
// writes this repo, whoever runs it (cron as root, a deploy user, the HTTP service); XDG_RUNTIME_DIR is per
// user and often unset for services, and a shared /tmp lets any user squat a lock name. The lock directory
// carries its own `.gitignore` (`*`), so it is invisible to git without editing the repo's rules.
//
// A lock file is a hard link to this process's *claim* in the lock directory (`~claim.<pid>-<hex>`, written
// once, holding the pid/host/start/token): link(2) fails with EEXIST like O_EXCL, no one ever sees a lock file
// empty, and taking a lock creates no file. A `render --all` of 2 000 services used to create (and delete) 2 000
// lock files, each a new inode: on ext4 every new inode is searched for past the recently deleted ones, so that
// churn made every file creation of the run slower. The claim is removed when the process holds no lock.
//
// The file operations of taking and releasing a lock are synchronous: each is a local metadata call of a few
// microseconds, while its fs/promises form costs ~45 µs of CPU, and `render --all` takes one lock per service.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { lstat, readFile, realpath, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoffreError } from '../errors.js';
import { describeId, describeIdSync } from './ownership.js';
import { isProcessAlive, processStartTime } from './process-liveness.js';

/** Default time a render waits for another render of the same service before COFFRE_LOCKED. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** A held render lock; `release()` removes the lock file if it is still ours (idempotent). */
export interface RenderLock {
  /** Absolute path of the lock file. */
  readonly path: string;
  release(): Promise<void>;
}

/** Options of {@link acquireRenderLock}. */
export interface AcquireRenderLockOptions {
  /** How long to wait for another holder, in ms (default {@link DEFAULT_LOCK_TIMEOUT_MS}; 0 = try once). */
  timeoutMs?: number;
}

interface LockContent {
  pid: number;
  host: string;
  start: string | null;
  token: string;
}

let ownStart: { value: string | null } | undefined;
/** This process's start time, recorded in every lock it takes: /proc is read once. */
const ownStartTime = (): string | null => (ownStart ??= { value: processStartTime(process.pid) }).value;

/**
 * Tokens of locks this process holds, with how many locks hold each (a claim's token is shared by the locks
 * linked to it): a lock naming our own pid but none of these is a previous incarnation's.
 */
const heldTokens = new Map<string, number>();

function holdToken(token: string): void {
  heldTokens.set(token, (heldTokens.get(token) ?? 0) + 1);
}

function dropToken(token: string): void {
  const count = (heldTokens.get(token) ?? 0) - 1;
  if (count > 0) heldTokens.set(token, count);
  else heldTokens.delete(token);
}

/** This process's claim in one lock directory: the file every lock it takes there is a hard link to. */
interface Claim {
  dir: string;
  file: string;
  token: string;
  /** Locks held through it; at 0 the claim file is removed. */
  holders: number;
}

const claims = new Map<string, Claim>();

/** A breaker guard older than this belongs to a process that died in the middle of breaking a lock. */
const STALE_GUARD_MS = 10_000;
/** A lock file still empty after this long was created by a process that died before writing its pid. */
const STALE_EMPTY_LOCK_MS = 5_000;

/**
 * Mode of lock files: they hold a pid, a host, a start time and a random token, no secret; other admins sharing
 * the lock directory must read them to wait for or break a lock. Never writable by anyone but their creator.
 */
const LOCK_FILE_MODE = 0o644;

/** `<root>/.coffre/locks`: where render locks live (`root` should be the real path of the repo root). */
export function lockDirectoryOf(root: string): string {
  return path.join(root, '.coffre', 'locks');
}

/** The lock file of `service`: its name made file-safe, plus a short hash when that changed it. */
export function lockPathOf(root: string, service: string): string {
  const slug = service.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  const suffix = slug === service ? '' : `-${createHash('sha256').update(service).digest('hex').slice(0, 8)}`;
  return path.join(lockDirectoryOf(root), `${slug}${suffix}.lock`);
}

/**
 * Takes the render lock of `service` in the repo at `root` (an absolute real path), waiting up to
 * `timeoutMs` for the current holder; a lock left by a dead process on this host is broken.
 * Throws COFFRE_LOCKED (naming the holder's pid and host) on timeout, COFFRE_TARGET_UNSAFE when the lock
 * directory is a symlink or writable by others. Not re-entrant: a second acquire in the same process waits.
 */
export async function acquireRenderLock(
  root: string,
  service: string,
  options: AcquireRenderLockOptions = {},
): Promise<RenderLock> {
  if (service === '' || service.includes('\0')) {
    throw new CoffreError('COFFRE_USAGE', 'a render lock needs a service name');
  }
  return acquireLockFile(root, lockPathOf(root, service), `another render of service "${service}"`, options);
}

/**
 * The lock file of the sops file `realFile` (a real path): `sops~<path slug>-<hash>.lock`. `~` never occurs in
 * a service lock name, and the hash of the real path tells apart files whose slugs collide.
 */
export function sopsLockPathOf(realRoot: string, realFile: string): string {
  const relative = path.relative(realRoot, realFile);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? path.basename(realFile) : relative;
  const slug = shown.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return path.join(lockDirectoryOf(realRoot), `sops~${slug}-${createHash('sha256').update(realFile).digest('hex').slice(0, 16)}.lock`);
}

/**
 * Takes the write lock of the sops file `file` (repo at `root`), shared by every coffre process writing
 * this repo and by concurrent writes inside one process: the same waiting, stale-lock breaking and
 * COFFRE_LOCKED as {@link acquireRenderLock}. Symlinked paths of one file share its lock (real paths).
 */
export async function acquireSopsWriteLock(root: string, file: string, options: AcquireRenderLockOptions = {}): Promise<RenderLock> {
  const realRoot = await realpath(root);
  const realFile = await realpath(file).catch(() => path.resolve(file));
  const shown = path.relative(realRoot, realFile);
  return acquireLockFile(realRoot, sopsLockPathOf(realRoot, realFile), `another write of sops file ${shown}`, options);
}

/** Takes `lockPath` (inside the lock directory of `root`), waiting and breaking stale locks; `who` names the holder in errors. */
async function acquireLockFile(root: string, lockPath: string, who: string, options: AcquireRenderLockOptions): Promise<RenderLock> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  ensureLockDirectory(root);
  const lockDir = path.dirname(lockPath);
  const deadline = Date.now() + timeoutMs;
  let pause = 10;
  let holder: LockContent | null = null;
  let unreadable = false;
  for (;;) {
    const taken = takeLock(lockDir, lockPath);
    if (taken !== null) {
      let released = false;
      return {
        path: lockPath,
        release: async () => {
          if (released) return;
          released = true;
          releaseLock(lockPath, taken);
        },
      };
    }
    const observed = await readLock(lockPath);
    holder = observed?.content ?? holder;
    unreadable = observed?.unreadable ?? false;
    const broken = observed !== null && isStale(observed) && (await breakStaleFile(lockPath, observed.raw));
    if (broken || observed === null) continue;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await sleep(Math.min(remaining, pause + Math.floor(Math.random() * pause)));
    pause = Math.min(pause * 2, 200);
  }
  const owner = holder ? `pid ${holder.pid} on ${holder.host}` : unreadable ? 'another user: this user may not read that file' : 'another process';
  throw new CoffreError(
    'COFFRE_LOCKED',
    `${who} holds ${lockPath} (${owner}); gave up after ${timeoutMs} ms. ` +
      `If no coffre process is running there, remove that file`,
  );
}

/** What taking a lock holds: its token, and the claim it is linked to (none on a filesystem without hard links). */
interface Held {
  token: string;
  claim: Claim | null;
}

/** Links `lockPath` to this process's claim in `lockDir`; null when the lock exists (held by someone). */
function takeLock(lockDir: string, lockPath: string): Held | null {
  for (let attempt = 0; ; attempt++) {
    let claim = claims.get(lockDir);
    if (claim === undefined) {
      // A process starting to take locks here first clears what dead ones left.
      removeDeadCreationTemps(lockDir);
      const token = randomBytes(12).toString('hex');
      // Written like a breaker guard (a private temp, then a link): never seen empty, even by a sweep.
      const file = path.join(lockDir, `~claim.${process.pid}-${randomBytes(6).toString('hex')}`);
      if (!createExclusive(file, lockContent(token))) throw new CoffreError('COFFRE_TARGET_WRITE', `cannot create ${file}: it exists`);
      claim = { dir: lockDir, file, token, holders: 0 };
      claims.set(lockDir, claim);
    }
    try {
      linkSync(claim.file, lockPath);
      claim.holders++;
      holdToken(claim.token);
      return { token: claim.token, claim };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        dropClaimIfUnused(claim);
        return null;
      }
      // The claim file itself is gone (removed by hand, or by a sweep on another host sharing the folder): its
      // locks still stand (hard links); write a new one.
      if (code === 'ENOENT' && attempt === 0) {
        claims.delete(lockDir);
        continue;
      }
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code ?? '')) throw error;
      dropClaimIfUnused(claim);
      return takeLockWithoutLink(lockPath);
    }
  }
}

/**
 * On a filesystem without hard links: O_EXCL, then the content. A reader may see the file empty meanwhile
 * (isStale waits for such a file before breaking it).
 */
function takeLockWithoutLink(lockPath: string): Held | null {
  const token = randomBytes(12).toString('hex');
  try {
    writeFileSync(lockPath, lockContent(token), { flag: 'wx', mode: LOCK_FILE_MODE });
    chmodSync(lockPath, LOCK_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw error;
  }
  holdToken(token);
  return { token, claim: null };
}

function lockContent(token: string): string {
  const content: LockContent = { pid: process.pid, host: hostname(), start: ownStartTime(), token };
  return `${JSON.stringify(content)}\n`;
}

/** Creates `file` (exclusively) with `content`, readable by the others who share the lock directory. */
function writeLockFile(file: string, content: string): void {
  try {
    writeFileSync(file, content, { flag: 'wx', mode: LOCK_FILE_MODE });
    // Readable by the other users who may share the lock directory (their renders read the holder), whatever the umask.
    chmodSync(file, LOCK_FILE_MODE);
  } catch (error) {
    unlinkQuietly(file);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw lockDirectoryAccessErrorSync(path.dirname(file), error);
    throw error;
  }
}

function dropClaimIfUnused(claim: Claim): void {
  if (claim.holders > 0) return;
  if (claims.get(claim.dir) === claim) claims.delete(claim.dir);
  unlinkQuietly(claim.file);
}

/**
 * Creates `file` with `content` only if it does not exist, and never lets anyone see it empty: the content is
 * written to a private temp file that is then hard-linked to `file` (link fails with EEXIST like O_EXCL).
 * Falls back to O_EXCL + write on filesystems without hard links. Returns false when `file` exists. (The
 * claims and the breaker guards, each written once.)
 */
function createExclusive(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  writeLockFile(temp, content);
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code ?? '')) throw error;
  } finally {
    unlinkQuietly(temp);
  }
  try {
    writeFileSync(file, content, { flag: 'wx', mode: LOCK_FILE_MODE });
    chmodSync(file, LOCK_FILE_MODE);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone, or not ours to remove: nothing to undo
  }
}

/**
 * Removes what dead processes of this host left in the lock directory: creation temps of locks and guards
 * (`<name>.<pid>-<hex>.tmp`) and claims (`~claim.<pid>-<hex>`). Before each claim this process writes.
 */
function removeDeadCreationTemps(lockDir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(lockDir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const temp = /\.(\d+)-[0-9a-f]{12}\.tmp$/.exec(entry);
    const claim = /^~claim\.(\d+)-[0-9a-f]{12}$/.exec(entry);
    const pid = Number((temp ?? claim)?.[1]);
    if ((temp === null && claim === null) || pid === process.pid || isProcessAlive(pid)) continue;
    // A claim names its host: one written on another host sharing the folder is not ours to judge.
    if (claim !== null && readLockSync(path.join(lockDir, entry))?.content?.host !== hostname()) continue;
    unlinkQuietly(path.join(lockDir, entry));
  }
}

/** Lock directories verified by this process, with the identity they had then. */
const verifiedLockDirectories = new Map<string, { dev: number; ino: number }>();

/**
 * Creates the lock directory (and `.coffre`) when missing, and checks it is a real directory no other user may
 * write. Once verified, a later call checks only that the same directory is still there, as safe as it was.
 */
function ensureLockDirectory(root: string): void {
  const coffreDir = path.join(root, '.coffre');
  const lockDir = lockDirectoryOf(root);
  const verified = verifiedLockDirectories.get(lockDir);
  if (verified !== undefined) {
    const now = lstatSync(lockDir, { throwIfNoEntry: false });
    if (now !== undefined && now.isDirectory() && now.dev === verified.dev && now.ino === verified.ino && (now.mode & 0o002) === 0) return;
    verifiedLockDirectories.delete(lockDir);
  }
  let parent = lstatSync(root);
  for (const dir of [coffreDir, lockDir]) {
    try {
      mkdirSync(dir, { mode: 0o700 });
      shareLikeParent(dir, parent);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw lockDirectoryAccessErrorSync(path.dirname(dir), error);
      if (code !== 'EEXIST') throw error;
    }
    let stats: Stats;
    try {
      stats = lstatSync(dir);
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'EACCES' ? lockDirectoryAccessErrorSync(path.dirname(dir), error) : error;
    }
    if (!stats.isDirectory() || stats.isSymbolicLink()) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `${dir} must be a real directory (it holds render locks)`);
    }
    if ((stats.mode & 0o002) !== 0) {
      throw new CoffreError('COFFRE_TARGET_UNSAFE', `${dir} is writable by other users (it holds render locks): chmod o-w ${dir}`);
    }
    parent = stats;
  }
  try {
    writeFileSync(path.join(lockDir, '.gitignore'), '# render locks of coffre: never commit\n*\n', { flag: 'wx', mode: 0o644 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw lockDirectoryAccessErrorSync(lockDir, error);
    if (code !== 'EEXIST') throw error;
  }
  verifiedLockDirectories.set(lockDir, { dev: parent.dev, ino: parent.ino });
}

/**
 * Gives a lock directory just created the sharing of its parent: under a group-writable parent (a checkout
 * shared by a group), group-writable for the parent's group and setgid, so that every admin of that group can
 * take and break locks in it; otherwise owner-only. Never any bit for other users.
 */
function shareLikeParent(dir: string, parent: Stats): void {
  if ((parent.mode & 0o020) !== 0) {
    try {
      chownSync(dir, -1, parent.gid);
      chmodSync(dir, 0o2770);
      return;
    } catch (error) {
      // Not a member of the parent's group (it can only be writable to us as its owner): keep it private.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }
  chmodSync(dir, 0o700);
}

interface ObservedLock {
  raw: string;
  content: LockContent | null;
  mtimeMs: number;
  /** The file exists but this user may not read it (a 0600 lock of another user, from an older coffre). */
  unreadable?: boolean;
}

async function readLock(lockPath: string): Promise<ObservedLock | null> {
  return readLockSync(lockPath);
}

function readLockSync(lockPath: string): ObservedLock | null {
  try {
    const raw = readFileSync(lockPath, 'utf8');
    return { raw, content: parseLock(raw), mtimeMs: statSync(lockPath).mtimeMs };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    // Nothing proves its holder dead: it is waited for, never broken.
    if (code === 'EACCES') return { raw: '', content: null, mtimeMs: Date.now(), unreadable: true };
    throw error;
  }
}

function parseLock(raw: string): LockContent | null {
  try {
    const value = JSON.parse(raw) as Partial<LockContent>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string' || typeof value.token !== 'string') return null;
    return { pid: value.pid, host: value.host, start: typeof value.start === 'string' ? value.start : null, token: value.token };
  } catch {
    return null;
  }
}

function isStale(observed: ObservedLock): boolean {
  const { content } = observed;
  if (observed.unreadable) return false;
  // Only the no-hard-link fallback can show an empty file (between O_EXCL create and write): only old ones are stale.
  if (content === null) return Date.now() - observed.mtimeMs > STALE_EMPTY_LOCK_MS;
  // A pid means nothing on another host (shared filesystem): such a lock is only ever waited for.
  if (content.host !== hostname()) return false;
  if (content.pid === process.pid) return !heldTokens.has(content.token);
  return !isProcessAlive(content.pid, content.start);
}

/**
 * Removes the stale file `file` if its content is still `staleRaw`, under a short exclusive guard
 * (`<file>.break`) so that two waiters breaking the same stale lock cannot remove the fresh lock one of them
 * took meanwhile. Content (with its random token) is compared rather than the inode, because a new lock may
 * reuse the old inode number. A guard left by a dead breaker is itself broken the same way (one level).
 * Returns true when the stale file is gone.
 */
async function breakStaleFile(file: string, staleRaw: string, depth = 0): Promise<boolean> {
  const guardPath = `${file}.break`;
  const guard: LockContent = { pid: process.pid, host: hostname(), start: ownStartTime(), token: randomBytes(12).toString('hex') };
  if (!createExclusive(guardPath, `${JSON.stringify(guard)}\n`)) {
    const observed = await readLock(guardPath);
    if (observed !== null) {
      if (depth === 0 && isStale(observed)) await breakStaleFile(guardPath, observed.raw, depth + 1);
      // Last resort for a guard nobody can prove dead (another host, or a dead breaker of a guard).
      else if (Date.now() - observed.mtimeMs > STALE_GUARD_MS) await unlink(guardPath).catch(() => undefined);
    }
    await sleep(2);
    return false;
  }
  try {
    const current = await readFile(file, 'utf8').catch(() => null);
    if (current === staleRaw) await unlink(file).catch(() => undefined);
    return current === null || current === staleRaw;
  } finally {
    await unlink(guardPath).catch(() => undefined);
  }
}

/** Removes `lockPath` if it is still the one `held` took (same token), then lets go of its claim. */
function releaseLock(lockPath: string, held: Held): void {
  dropToken(held.token);
  let current: string | null = null;
  try {
    current = readFileSync(lockPath, 'utf8');
  } catch {
    // already gone: nothing to remove
  }
  if (current !== null && parseLock(current)?.token === held.token) unlinkQuietly(lockPath);
  if (held.claim !== null) {
    held.claim.holders--;
    dropClaimIfUnused(held.claim);
  }
}

/**
 * COFFRE_TARGET_WRITE for a lock directory (or its parent) this user cannot write: its owner and mode, and how
 * a checkout shared by a group makes it usable (older coffre versions created it 0700 for its first user).
 */
export async function lockDirectoryAccessError(dir: string, error: unknown): Promise<CoffreError> {
  const stats = await lstat(dir).catch(() => null);
  const shown = stats === null ? '' : `: it is owned by ${await describeId('uid', stats.uid)}, group ${await describeId('gid', stats.gid)}, mode 0${(stats.mode & 0o7777).toString(8)}`;
  return accessError(dir, error, shown);
}

/** {@link lockDirectoryAccessError} for the synchronous lock operations. */
function lockDirectoryAccessErrorSync(dir: string, error: unknown): CoffreError {
  let shown = '';
  try {
    const stats = lstatSync(dir);
    shown = `: it is owned by ${describeIdSync('uid', stats.uid)}, group ${describeIdSync('gid', stats.gid)}, mode 0${(stats.mode & 0o7777).toString(8)}`;
  } catch {
    // unreadable: the message names the directory and the error code only
  }
  return accessError(dir, error, shown);
}

function accessError(dir: string, error: unknown, shown: string): CoffreError {
  return new CoffreError(
    'COFFRE_TARGET_WRITE',
    `cannot create render locks in ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})${shown}. On a checkout shared by a group, make it group-writable ` +
      `by that group and setgid (chgrp GROUP ${dir} && chmod 2770 ${dir}); never writable by others`,
    {},
    { cause: error },
  );
}
