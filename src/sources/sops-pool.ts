// The sops source's worker threads: decrypting a file (X25519, HKDF, AES-GCM per value, the SHA-512 MAC,
// the YAML parse) is CPU-bound, so a run that reads many sops files spreads them over a few threads
// (sops-worker.ts), each with the identities parsed once. Values come back only as the answer to the
// caller's request; errors come back as the same typed CoffreError the source's own thread gives. The
// threads hold the event loop only while they have work, and stop after a short idle time (coffre serve).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CoffreError, type ErrorCode, type ErrorLocation } from '../errors.js';
import { transferableIdentities, type AgeIdentity, type TransferableAgeIdentity } from '../sops/age-identity.js';
import type { SopsRef, SopsStoreFormat, ValueSnapshot } from './secret-source.js';

export interface WorkerRequest {
  id: number;
  file: string;
  format: SopsStoreFormat;
}

export type WorkerReply =
  | { id: number; snapshot: { values: Array<[string, string]>; revision: string; opaqueNames?: true } | null }
  | {
      id: number;
      error:
        | { kind: 'coffre'; code: ErrorCode; message: string; location: ErrorLocation }
        | { kind: 'system'; code: string; message: string }
        | { kind: 'other'; name: string };
    };

/**
 * How many threads a pool starts by default: one per core beyond the main thread's, but 2 on 2 cores (the
 * main thread mostly waits once discovery is done: with one worker, one core would idle), at most 4.
 */
export function defaultSopsThreads(): number {
  const cores = os.availableParallelism();
  return cores <= 1 ? 1 : Math.min(4, Math.max(2, cores - 1));
}

interface Pending {
  resolve(snapshot: ValueSnapshot | null): void;
  reject(error: unknown): void;
  thread: Thread;
}

interface Thread {
  worker: Worker;
  inFlight: number;
  /** Requests not posted yet: sent together (one message per batch, not per file). */
  queue: WorkerRequest[];
}

const IDLE_STOP_MS = 500;

/**
 * The V8 limits of each thread. Its garbage is almost all short-lived (a file's text, ciphertexts, its parsed
 * tree), and V8's default young generation would grow to 48 MB per thread: 2 000 sops services measured ~25 MB of
 * heap per thread. 6 MB (2 MB semi-spaces) measured the same CPU time (3 MB: ~0.5 s more per thread, 6 000 files).
 */
export const SOPS_THREAD_LIMITS = { maxYoungGenerationSizeMb: 6 } as const;

/**
 * bin/coffre.js's cap on this process's young generation (a V8 flag it sets after each collection): V8 resets
 * that flag whenever it creates an isolate, so each new thread has it applied again once started.
 */
const CAP_YOUNG_GENERATION = Symbol.for('coffre.capYoungGeneration');

/** The worker entry beside this module: dist/src/sources/sops-worker.js, or dist/cli/sops-worker.js in the bundle. */
const WORKER_URL = new URL('./sops-worker.js', import.meta.url);

export class SopsWorkerPool {
  readonly #identities: TransferableAgeIdentity[];
  readonly #size: number;
  #threads: Thread[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(identities: readonly AgeIdentity[], threads: number) {
    this.#identities = transferableIdentities(identities);
    this.#size = Math.max(1, Math.floor(threads));
  }

  /** Reads and decrypts `ref` on a worker thread: the same snapshot, or the same typed error, as readSopsSnapshot. */
  read(ref: SopsRef): Promise<ValueSnapshot | null> {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (this.#threads.length === 0) this.#start();
    const thread = this.#threads.reduce((best, t) => (t.inFlight < best.inFlight ? t : best));
    const id = this.#nextId++;
    return new Promise<ValueSnapshot | null>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, thread });
      if (thread.inFlight++ === 0) thread.worker.ref();
      thread.queue.push({ id, file: ref.file, format: ref.format });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flushScheduled = false;

  #flush(): void {
    this.#flushScheduled = false;
    for (const thread of this.#threads) {
      if (thread.queue.length === 0) continue;
      thread.worker.postMessage(thread.queue);
      thread.queue = [];
    }
  }

  /** Stops the threads now (pending reads fail); a later read starts new ones. */
  async close(): Promise<void> {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const threads = this.#threads;
    this.#threads = [];
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(new CoffreError('COFFRE_INTERNAL', 'the sops decryption threads were stopped before this file was read'));
    }
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** The V8 limits each running thread was given (empty when none runs). */
  threadLimits(): Array<Worker['resourceLimits']> {
    return this.#threads.map((t) => t.worker.resourceLimits);
  }

  #start(): void {
    for (let i = 0; i < this.#size; i++) {
      const worker = new Worker(WORKER_URL, { workerData: { identities: this.#identities }, resourceLimits: { ...SOPS_THREAD_LIMITS } });
      const thread: Thread = { worker, inFlight: 0, queue: [] };
      worker.unref();
      const cap = (globalThis as Record<symbol, unknown>)[CAP_YOUNG_GENERATION];
      if (typeof cap === 'function') worker.once('online', () => void cap());
      worker.on('message', (replies: WorkerReply[]) => {
        for (const reply of replies) this.#settle(reply);
      });
      const fail = (why: string): void => this.#lost(thread, why);
      worker.on('error', (error: Error) => fail(`failed (${error.name})`));
      worker.on('exit', (code) => fail(`exited (${code})`));
      this.#threads.push(thread);
    }
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    const thread = pending.thread;
    if (--thread.inFlight === 0) thread.worker.unref();
    if (this.#pending.size === 0) {
      this.#idleTimer = setTimeout(() => void this.close(), IDLE_STOP_MS);
      this.#idleTimer.unref();
    }
    if ('snapshot' in reply) {
      const s = reply.snapshot;
      pending.resolve(s === null ? null : { values: new Map(s.values), revision: s.revision, ...(s.opaqueNames ? { opaqueNames: true } : {}) });
      return;
    }
    pending.reject(errorOf(reply.error));
  }

  /** A thread died: its reads fail (internal error), the others go on; the next read restarts the pool if it is empty. */
  #lost(thread: Thread, why: string): void {
    const index = this.#threads.indexOf(thread);
    if (index < 0) return;
    this.#threads.splice(index, 1);
    for (const [id, pending] of this.#pending) {
      if (pending.thread !== thread) continue;
      this.#pending.delete(id);
      pending.reject(new CoffreError('COFFRE_INTERNAL', `a sops decryption thread ${why}`));
    }
  }
}

function errorOf(error: Extract<WorkerReply, { error: unknown }>['error']): Error {
  if (error.kind === 'coffre') return new CoffreError(error.code, error.message, error.location);
  if (error.kind === 'system') return Object.assign(new Error(error.message), { code: error.code });
  return new CoffreError('COFFRE_INTERNAL', `a sops decryption thread failed (${error.name}); its message is not shown`);
}
