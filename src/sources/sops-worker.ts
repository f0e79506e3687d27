// A worker thread of the sops source (sops-pool.ts): reads and decrypts the sops files it is sent, with
// identities rebuilt once from the pool's start data, and posts back each file's values (to the pool,
// which hands them to its caller only) or its error as plain data: a CoffreError's code, message and
// location (value-free by construction), an I/O error's code and message (a path), anything else by its
// name only (its message could hold anything). Runs from dist/src/sources and from the start-up bundle.
import { parentPort, workerData } from 'node:worker_threads';
import { CoffreError } from '../errors.js';
import { identitiesFromTransfer, type TransferableAgeIdentity } from '../sops/age-identity.js';
import type { SopsRef } from './secret-source.js';
import { readSopsSnapshot } from './sops-read.js';
import type { WorkerReply, WorkerRequest } from './sops-pool.js';

const identities = identitiesFromTransfer((workerData as { identities: TransferableAgeIdentity[] }).identities);
const port = parentPort;

function failure(error: unknown): Extract<WorkerReply, { error: unknown }>['error'] {
  if (error instanceof CoffreError) return { kind: 'coffre', code: error.code, message: error.message, location: { ...error.location } };
  const errno = error as NodeJS.ErrnoException | null;
  if (errno instanceof Error && typeof errno.code === 'string' && typeof errno.syscall === 'string') return { kind: 'system', code: errno.code, message: errno.message };
  return { kind: 'other', name: error instanceof Error ? error.name : typeof error };
}

// Requests come in batches (one message per batch); the batch's replies go back together.
port?.on('message', (requests: WorkerRequest[]) => {
  void Promise.all(
    requests.map((request) =>
      readSopsSnapshot({ kind: 'sops', file: request.file, format: request.format } satisfies SopsRef, identities).then(
        (snapshot): WorkerReply => ({
          id: request.id,
          snapshot: snapshot === null ? null : { values: [...snapshot.values], revision: snapshot.revision as string, ...(snapshot.opaqueNames ? { opaqueNames: true } : {}) },
        }),
        (error: unknown): WorkerReply => ({ id: request.id, error: failure(error) }),
      ),
    ),
  ).then((replies) => port.postMessage(replies));
});
