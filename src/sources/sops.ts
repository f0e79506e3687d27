// The SecretSource for sops files: reads the encrypted file from disk, lists key names without a key,
// decrypts with the age identities it was given (MAC verified). The only file I/O of the sops codec;
// it never looks for keys on its own. `writeValues` is the atomic, locked, check-and-set writer used by rotate.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { CoffreError } from '../errors.js';
import { parseAgeIdentities, type AgeIdentity } from '../sops/age-identity.js';
import { decryptSopsFile, sopsEnvValues, type DecryptedSops } from '../sops/decrypt.js';
import { listSopsKeys } from '../sops/key-listing.js';
import { setSopsValues } from '../sops/set-values.js';
import { encryptionDecider } from '../sops/encryption-rule.js';
import { parseSopsFile, sopsFormatForPath, type SopsFile } from '../sops/sops-file.js';
import { entriesOf, isSopsComment, isSopsList, isSopsMap, type SopsNode } from '../sops/tree.js';
import type { KeyListing, KeyPresence, SecretSource, SopsRef, SopsStoreFormat, ValueSnapshot } from './secret-source.js';
import { defaultSopsThreads, SopsWorkerPool } from './sops-pool.js';
import { binaryEnvValues, denied, isDenied, isMissingFile, readSopsSnapshot, readSopsText, revisionOf, snapshotOf } from './sops-read.js';

/** Age identities are parsed by the codec; use-cases reach it through this source module only. */
export { parseAgeIdentities, type AgeIdentity };

/** What {@link SopsSource.writeValues} did: key names and the `lastmodified` before and after (never values). */
export interface SopsWriteResult {
  changed: string[];
  added: string[];
  previousLastModified: string;
  /** Unchanged (= previous) when nothing had to be written. */
  lastModified: string;
}

/** The sops source plus the writer used by rotate and the file's metadata for `versions`. */
export type SopsSource = SecretSource<SopsRef> & {
  /**
   * Sets values (existing keys replaced, new ones added) with the file's own data key, under the file's
   * write lock ({@link SopsSourceOptions.lockForWrite}) and atomically: a temp file beside it (O_EXCL, same
   * mode, fsync), parsed back and decrypted with MAC verification, then renamed over the file.
   * Check-and-set: COFFRE_CONFLICT, nothing written, when the file on disk (read under the lock) is no longer
   * the text of `expectedRevision` (the `revision` of the snapshot the caller decided on).
   */
  writeValues(ref: SopsRef, changes: ReadonlyMap<string, string>, options: { now?: Date; expectedRevision: string }): Promise<SopsWriteResult>;
  /**
   * Creates a NEW sops YAML file holding `values`, its data key wrapped for `recipients` (age), under the
   * file's write lock: written to a temp file (O_EXCL, fsync), then linked to its name only if nothing is
   * there (COFFRE_CONFLICT otherwise, nothing written). Returns its `lastmodified`.
   */
  createFile(ref: SopsRef, values: ReadonlyMap<string, string>, options: { recipients: readonly string[]; now?: Date }): Promise<{ lastModified: string }>;
  /** The file's `lastmodified` as written, or null when the file does not exist. */
  readMetadata(ref: SopsRef): Promise<{ lastModified: string } | null>;
  /**
   * Decrypts `text`, a past version of the file `ref` names (read from git history by `render --as-of`), with
   * the same identities and MAC verification as the file itself; `label` names it in errors (`file@commit`).
   */
  readValuesOfText(ref: SopsRef, text: string, label: string): Promise<ValueSnapshot>;
};

export interface SopsSourceOptions {
  /** The age identities to decrypt with, passed explicitly (coffre never searches ~/.ssh or runs commands). */
  identities: AgeIdentity[];
  /**
   * Takes the write lock of a sops file (shared by every process writing the repo, and by concurrent writes
   * in this one), held while `writeValues` checks and replaces the file. Without it, `writeValues` refuses.
   */
  lockForWrite?: (file: string) => Promise<{ release(): Promise<void> }>;
  /**
   * Worker threads for `readValues` (sops-pool.ts): once `threshold` files have been asked for in this
   * source's life, further files are decrypted on `threads` threads (default: cores − 1, at least 1); below it
   * (a small repo), all on this thread, with no thread start to pay. `false`: never. Same values, same errors.
   */
  workers?: { threshold?: number; threads?: number } | false;
}

/** Files read before a source starts its threads: under it, the thread start (~0.1 s) costs more than it saves. */
export const SOPS_WORKER_THRESHOLD = 96;

interface LoadedSops {
  sops: SopsFile;
  /** sha256 (hex) of the text parsed. */
  revision: string;
}

/**
 * A sops SecretSource. `listKeys` needs no identity (names and emptiness are clear text), except for the
 * binary store whose names are encrypted: there it decrypts. The binary store's plaintext is read as a
 * docker compose env file (last value per key), its names marked `opaqueNames` (shown only where an example
 * declares them). Each file is read, and decrypted, at most once per
 * source instance (one instance per run).
 */
export function createSopsSource(options: SopsSourceOptions): SopsSource {
  const parsed = new Map<string, Promise<LoadedSops | null>>();
  const decrypted = new Map<string, Promise<ValueSnapshot | null>>();
  const cacheKey = (ref: SopsRef): string => `${ref.format}\0${ref.file}`;

  const loaded = (ref: SopsRef): Promise<LoadedSops | null> => {
    let promise = parsed.get(cacheKey(ref));
    if (promise === undefined) {
      promise = new Promise<string | null>((resolve) => resolve(readSopsText(ref))).then((text) =>
        text === null ? null : { sops: parseSopsFile(text, ref.format, ref.file), revision: revisionOf(text) },
      );
      parsed.set(cacheKey(ref), promise);
    }
    return promise;
  };
  const load = async (ref: SopsRef): Promise<SopsFile | null> => (await loaded(ref))?.sops ?? null;

  const workers = options.workers === false ? null : { threshold: options.workers?.threshold ?? SOPS_WORKER_THRESHOLD, threads: options.workers?.threads ?? defaultSopsThreads() };
  let pool: SopsWorkerPool | null = null;
  let asked = 0;

  const readValues = (ref: SopsRef): Promise<ValueSnapshot | null> => {
    let promise = decrypted.get(cacheKey(ref));
    if (promise === undefined) {
      const parsedAlready = parsed.get(cacheKey(ref));
      asked++;
      if (parsedAlready !== undefined) {
        // Read (and parsed) already, e.g. by listKeys: decrypt that very text.
        promise = parsedAlready.then((file) => (file === null ? null : snapshotOf(file.sops, options.identities, file.revision, ref.file)));
      } else if (workers !== null && asked > workers.threshold) {
        pool ??= new SopsWorkerPool(options.identities, workers.threads);
        promise = pool.read(ref);
      } else {
        // Not kept parsed: the values are all a run needs, the tree and text would only hold memory.
        promise = new Promise<ValueSnapshot | null>((resolve) => resolve(readSopsSnapshot(ref, options.identities)));
      }
      decrypted.set(cacheKey(ref), promise);
    }
    return promise;
  };

  return {
    kind: 'sops',
    async listKeys(ref: SopsRef): Promise<KeyListing | null> {
      const sops = await load(ref);
      if (sops === null) return null;
      if (sops.format !== 'binary') return listSopsKeys(sops);
      const snapshot = await readValues(ref);
      if (snapshot === null) return null;
      const keys = new Map<string, KeyPresence>();
      for (const [key, value] of snapshot.values) keys.set(key, value === '' ? 'empty' : 'set');
      return { keys, opaqueNames: true };
    },
    readValues,
    release(ref: SopsRef): void {
      parsed.delete(cacheKey(ref));
      decrypted.delete(cacheKey(ref));
    },
    async readValuesOfText(ref: SopsRef, text: string, label: string): Promise<ValueSnapshot> {
      return snapshotOf(parseSopsFile(text, ref.format, label), options.identities, revisionOf(text), label);
    },
    async readMetadata(ref: SopsRef) {
      const sops = await load(ref);
      return sops === null ? null : { lastModified: sops.metadata.lastModified };
    },
    async createFile(ref: SopsRef, values: ReadonlyMap<string, string>, createOptions: { recipients: readonly string[]; now?: Date }) {
      if (options.lockForWrite === undefined) throw new CoffreError('COFFRE_INTERNAL', `${ref.file}: this sops source has no write lock; refusing an unserialised write`, { file: ref.file });
      if (ref.format !== 'yaml') throw new CoffreError('COFFRE_SOPS_UNSUPPORTED', `${ref.file}: coffre creates sops files in the YAML store only (name it *.sops.yaml)`, { file: ref.file });
      const lock = await options.lockForWrite(ref.file);
      try {
        // Imported here: creating a file (age-encryption's Encrypter) is rare; check and render never need it.
        const { createSopsYaml } = await import('../sops/create.js');
        const text = await createSopsYaml({ recipients: createOptions.recipients, values, now: createOptions.now ?? new Date(), file: ref.file });
        const dir = path.dirname(ref.file);
        const temp = path.join(dir, `.${path.basename(ref.file)}.coffre-${randomBytes(6).toString('hex')}.tmp`);
        try {
          const handle = await open(temp, 'wx', 0o644);
          try {
            await handle.writeFile(text, 'utf8');
            await handle.sync();
          } finally {
            await handle.close();
          }
          try {
            await link(temp, ref.file);
          } catch (error) {
            if ((error as { code?: unknown }).code === 'EEXIST') throw conflict(ref, 'the file appeared since it was looked for');
            throw error;
          }
        } finally {
          await unlink(temp).catch(() => undefined);
        }
        await syncDirectory(dir);
        return { lastModified: parseSopsFile(text, 'yaml', ref.file).metadata.lastModified };
      } finally {
        parsed.delete(cacheKey(ref));
        decrypted.delete(cacheKey(ref));
        await lock.release();
      }
    },
    async writeValues(ref: SopsRef, changes: ReadonlyMap<string, string>, writeOptions: { now?: Date; expectedRevision: string }): Promise<SopsWriteResult> {
      if (options.lockForWrite === undefined) throw new CoffreError('COFFRE_INTERNAL', `${ref.file}: this sops source has no write lock; refusing an unserialised write`, { file: ref.file });
      const lock = await options.lockForWrite(ref.file);
      try {
        return await writeSopsFileAtomically(ref, changes, options.identities, writeOptions.now ?? new Date(), writeOptions.expectedRevision);
      } finally {
        // Later reads of this run must see the new file.
        parsed.delete(cacheKey(ref));
        decrypted.delete(cacheKey(ref));
        await lock.release();
      }
    },
  };
}

/** Called with the file's write lock held: everything from the check-and-set read to the rename is serialised. */
async function writeSopsFileAtomically(ref: SopsRef, changes: ReadonlyMap<string, string>, identities: AgeIdentity[], now: Date, expectedRevision: string): Promise<SopsWriteResult> {
  const before = await readFile(ref.file, 'utf8').catch((error: unknown) => {
    if (isMissingFile(error)) throw conflict(ref, 'the file was removed since it was read');
    if (isDenied(error)) throw denied(ref, error, 'read');
    throw error;
  });
  if (revisionOf(before) !== expectedRevision) throw conflict(ref, 'the file changed since it was read (another write, e.g. a concurrent rotation)');
  const { mode, gid } = await stat(ref.file);
  const sops = parseSopsFile(before, ref.format, ref.file);
  const plain = await decryptSopsFile(sops, identities);
  const result = setSopsValues({ sops, decrypted: plain, changes, now });
  const previousLastModified = sops.metadata.lastModified;
  if (result.changed.length + result.added.length === 0) return { changed: [], added: [], previousLastModified, lastModified: previousLastModified };

  const dir = path.dirname(ref.file);
  const temp = path.join(dir, `.${path.basename(ref.file)}.coffre-${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, 'wx', mode & 0o777).catch((error: unknown) => {
      throw isDenied(error) ? denied(ref, error, 'write') : error;
    });
    try {
      await handle.writeFile(result.text, 'utf8');
      // Keep the group too (a checkout shared by a group): possible when this user is in it; else the directory's rules apply.
      await handle.chown(-1, gid).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
      });
      // The umask may have narrowed the mode given to open(); chown may have cleared a setgid bit.
      await handle.chmod(mode & 0o7777);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const written = parseSopsFile(await readFile(temp, 'utf8'), ref.format, ref.file);
    verifyRewritten(await decryptSopsFile(written, identities), ref, changes);
    // Writers outside coffre (sops, an editor) take no lock: a last look narrows their window.
    if ((await readFile(ref.file, 'utf8')) !== before) throw conflict(ref, 'the file changed while it was being rewritten');
    await rename(temp, ref.file);
    renamed = true;
    await syncDirectory(dir);
    return { changed: result.changed, added: result.added, previousLastModified, lastModified: written.metadata.lastModified };
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

function conflict(ref: SopsRef, why: string): CoffreError {
  return new CoffreError('COFFRE_CONFLICT', `${ref.file}: ${why}; nothing written, read it again`, { file: ref.file });
}

/** The temp file, decrypted with the identities (MAC verified), must hold exactly the intended values. */
function verifyRewritten(plain: DecryptedSops, ref: SopsRef, changes: ReadonlyMap<string, string>): void {
  let values: Map<string, string>;
  if (ref.format === 'binary') {
    values = binaryEnvValues(plain, ref.file);
  } else {
    values = sopsEnvValues(plain);
  }
  const wrong = [...changes].filter(([key, value]) => values.get(key) !== value).map(([key]) => key);
  if (wrong.length > 0) {
    throw new CoffreError('COFFRE_INTERNAL', `${ref.file}: the rewritten file does not read back (keys: ${wrong.join(', ')}); nothing written`, { file: ref.file });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is already atomic.
  } finally {
    await handle.close();
  }
}

/** What `coffre guard` sees in a file named like a sops file, without any key: is every value encrypted? */
export type SopsInspection =
  | { kind: 'encrypted' }
  /** No (valid) sops metadata: a decrypted copy, or a file never encrypted. `code` is the parse error's. */
  | { kind: 'no-metadata'; code: string; line?: number }
  /** sops metadata, but values its rules say are encrypted are clear text (names and lines, never values). */
  | { kind: 'plaintext'; keys: Array<{ name: string; line: number }> };

const SOPS_CIPHERTEXT = /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]$/;

/**
 * Parses `text` as the sops store `format` (default: the one its name selects) and lists the leaves its encryption rule wants encrypted
 * that are not `ENC[AES256_GCM,…]` (sops never encrypts "" or null). Needs no key, decrypts nothing; `file`
 * names it in messages. A rule coffre cannot evaluate counts as "every value encrypted".
 */
export function inspectSopsText(text: string, file: string, format: SopsStoreFormat = sopsFormatForPath(file)): SopsInspection {
  let sops: SopsFile;
  try {
    sops = parseSopsFile(text, format, file);
  } catch (error) {
    const coffre = error instanceof CoffreError ? error : null;
    return { kind: 'no-metadata', code: coffre?.code ?? 'COFFRE_SOPS_SYNTAX', ...(coffre?.location.line !== undefined ? { line: coffre.location.line } : {}) };
  }
  let decide: (path: readonly string[]) => boolean;
  try {
    decide = encryptionDecider(sops.metadata.rule, file);
  } catch {
    decide = () => true;
  }
  const keys: Array<{ name: string; line: number }> = [];
  const visit = (node: SopsNode, keyPath: string[], line: number): void => {
    if (isSopsMap(node)) {
      for (const entry of entriesOf(node)) visit(entry.value, [...keyPath, entry.key], entry.line);
      return;
    }
    if (isSopsList(node)) {
      for (const item of node.items) if (!isSopsComment(item)) visit(item as SopsNode, keyPath, line);
      return;
    }
    if (node === null || node === '') return;
    if (!decide(keyPath)) return;
    if (typeof node === 'string' && SOPS_CIPHERTEXT.test(node)) return;
    if (!keys.some((k) => k.name === keyPath.join('.') && k.line === line)) keys.push({ name: keyPath.join('.'), line });
  };
  for (const branch of sops.branches) visit(branch, [], branch.line ?? 1);
  return keys.length === 0 ? { kind: 'encrypted' } : { kind: 'plaintext', keys };
}
