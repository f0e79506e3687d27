// The sops source's worker threads (src/sources/sops-pool.ts, sops-worker.ts) give what its own thread
// gives: the same values and revisions, and the same typed errors (class, code, message, file, line) for a
// tampered MAC, a wrong key, malformed YAML, an unreadable or missing file; no value in any error. Forced
// with a threshold of 0 on a handful of files made by the real sops binary. The start-up bundle's worker
// entry (dist/cli/sops-worker.js) answers too.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { CoffreError } from '../../src/errors.js';
import { transferableIdentities } from '../../src/sops/age-identity.js';
import type { SopsRef, ValueSnapshot } from '../../src/sources/secret-source.js';
import { SopsWorkerPool, type WorkerReply } from '../../src/sources/sops-pool.js';
import { createSopsSource, parseAgeIdentities } from '../../src/sources/sops.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';
import { projectRoot } from '../support/tools.js';

const SECRETS = ['worker-secret-alpha', 'worker-secret-beta', 'worker-secret-gamma', 'worker-secret-delta'];

type Outcome = { ok: true; snapshot: ValueSnapshot | null } | { ok: false; error: unknown };

async function outcome(promise: Promise<ValueSnapshot | null>): Promise<Outcome> {
  try {
    return { ok: true, snapshot: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function describe(o: Outcome): unknown {
  if (o.ok) return o.snapshot === null ? null : { values: [...o.snapshot.values], revision: o.snapshot.revision, opaqueNames: o.snapshot.opaqueNames };
  const e = o.error as CoffreError & { code?: string };
  return { coffre: e instanceof CoffreError, name: e.name, code: e.code, message: e.message, location: e.location };
}

t.test('worker threads give the same values and the same typed errors as the source’s own thread', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const other = await newAgeKey();
  const refs: Record<string, SopsRef> = {};
  const yaml = (name: string): SopsRef => (refs[name] = { kind: 'sops', file: path.join(dir, `${name}.sops.yaml`), format: 'yaml' });
  for (let i = 0; i < 3; i++) await writeSopsFile(yaml(`good${i}`).file, `A: ${SECRETS[0]}-${i}\nB: ${SECRETS[1]}\nN: 12\n`, key);
  await writeSopsFile(yaml('nested').file, `A: ${SECRETS[2]}\nn:\n    b: x\n`, key);
  await writeSopsFile(yaml('commented').file, `# c\nA: ${SECRETS[3]}\nE: ""\n`, key);
  await writeSopsFile(yaml('tampered').file, `A: ${SECRETS[0]}\nB: ${SECRETS[1]}\n`, key);
  // A value line removed: every remaining value still opens, only the MAC sees it.
  const tampered = readFileSync(refs.tampered!.file, 'utf8').split('\n');
  tampered.splice(tampered.findIndex((l) => l.startsWith('B: ')), 1);
  writeFileSync(refs.tampered!.file, tampered.join('\n'));
  await writeSopsFile(yaml('wrongkey').file, `A: ${SECRETS[2]}\n`, other);
  writeFileSync(yaml('malformed').file, `A: x\nA: duplicate\nsops:\n    version: 3\n`);
  yaml('missing'); // never written
  await writeSopsFile(yaml('unreadable').file, `A: ${SECRETS[3]}\n`, key);
  chmodSync(refs.unreadable!.file, 0o000);
  const binary: SopsRef = (refs.binary = { kind: 'sops', file: path.join(dir, 'env.bin'), format: 'binary' });
  await writeSopsFile(binary.file, `X=${SECRETS[1]}\nY=2\n`, key);
  const dotenv: SopsRef = (refs.dotenv = { kind: 'sops', file: path.join(dir, 'app.env'), format: 'dotenv' });
  await writeSopsFile(dotenv.file, `X=${SECRETS[2]}\n`, key);

  const identities = parseAgeIdentities(key.identity, 'SOPS_AGE_KEY');
  const single = createSopsSource({ identities, workers: false });
  const threaded = createSopsSource({ identities, workers: { threshold: 0, threads: 2 } });
  const pool = new SopsWorkerPool(identities, 2);
  t.teardown(() => pool.close());
  const names = Object.keys(refs);
  const [inThread, inWorkers, direct] = await Promise.all([
    Promise.all(names.map((n) => outcome(single.readValues(refs[n]!)))),
    Promise.all(names.map((n) => outcome(threaded.readValues(refs[n]!)))),
    Promise.all(names.map((n) => outcome(pool.read(refs[n]!)))),
  ]);
  const root = os.userInfo().uid === 0;
  names.forEach((name, i) => {
    const expected = describe(inThread[i]!);
    t.same(describe(inWorkers[i]!), expected, `${name}: the source with workers gives the same`);
    t.same(describe(direct[i]!), expected, `${name}: a pool read gives the same`);
    const o = inWorkers[i]!;
    if (!o.ok) {
      t.ok(o.error instanceof CoffreError, `${name}: a CoffreError`);
      const text = `${(o.error as Error).message}\n${String((o.error as Error).stack)}\n${JSON.stringify(o.error)}`;
      for (const secret of SECRETS) t.notOk(text.includes(secret), `${name}: no value in the error`);
    }
  });
  const byName = (list: Outcome[], name: string): Outcome => list[names.indexOf(name)]!;
  t.match(describe(byName(inWorkers, 'good1')), { values: [['A', `${SECRETS[0]}-1`], ['B', SECRETS[1]], ['N', '12']] }, 'values of a good file');
  t.match(describe(byName(inWorkers, 'tampered')), { coffre: true, code: 'COFFRE_SOPS_MAC_MISMATCH', location: { file: refs.tampered!.file } }, 'tampered: MAC mismatch');
  t.match(describe(byName(inWorkers, 'wrongkey')), { coffre: true, code: 'COFFRE_SOPS_NO_KEY', location: { file: refs.wrongkey!.file } }, 'wrong key: no key');
  t.match(describe(byName(inWorkers, 'malformed')), { coffre: true, code: 'COFFRE_SOPS_SYNTAX', location: { file: refs.malformed!.file, line: 2 } }, 'malformed YAML: file and line');
  t.match(describe(byName(inWorkers, 'nested')), { coffre: true, code: 'COFFRE_SOURCE_NOT_FLAT', location: { line: 2 } }, 'nested: not flat, with its line');
  t.same(describe(byName(inWorkers, 'missing')), null, 'missing file: null');
  if (!root) t.match(describe(byName(inWorkers, 'unreadable')), { coffre: true, code: 'COFFRE_SOURCE_DENIED' }, 'unreadable: denied');
  t.match(describe(byName(inWorkers, 'binary')), { values: [['X', SECRETS[1]], ['Y', '2']], opaqueNames: true }, 'binary store');
});

t.test('the start-up bundle has the worker entry, and it answers', async (t) => {
  const meta = JSON.parse(readFileSync(path.join(projectRoot, 'dist', 'cli', 'meta.json'), 'utf8')) as Record<string, { entryPoint?: string }>;
  t.equal(meta['dist/cli/sops-worker.js']?.entryPoint, 'dist/src/sources/sops-worker.js', 'dist/cli/sops-worker.js is built from the worker module');
  const dir = t.testdir({});
  const key = await newAgeKey();
  const file = path.join(dir, 's.sops.yaml');
  await writeSopsFile(file, `A: ${SECRETS[0]}\n`, key);
  const worker = new Worker(path.join(projectRoot, 'dist', 'cli', 'sops-worker.js'), { workerData: { identities: transferableIdentities(parseAgeIdentities(key.identity, 'k')) } });
  t.teardown(() => worker.terminate());
  const replies = await new Promise<WorkerReply[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.postMessage([{ id: 7, file, format: 'yaml' }, { id: 8, file: `${file}.missing`, format: 'yaml' }]);
  });
  t.match(replies, [{ id: 7, snapshot: { values: [['A', SECRETS[0]]] } }, { id: 8, snapshot: null }], 'the bundled worker decrypts a batch');
});
