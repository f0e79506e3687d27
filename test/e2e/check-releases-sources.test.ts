// Memory of a large check (issue 12, goal 4): once the last file reading a source is checked, the run lets the
// source forget that answer (values included) instead of holding every answer of thousands of files until
// it ends; files sharing a source still share its one read. Against the real OpenBao.
import path from 'node:path';
import t, { type Test } from 'tap';
import type { SourceRef, VaultRef } from '../../src/sources/secret-source.js';
import { runCheck } from '../../src/use-cases/check.js';
import { runRender } from '../../src/use-cases/render.js';
import { releaseAfterLastUse, type SourceSet } from '../../src/use-cases/source-set.js';
import { openWorkspace } from '../../src/use-cases/workspace.js';
import { sharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

/** A workspace on the real OpenBao that counts its KV data reads (the test's root token, closed at teardown). */
async function countingWorkspace(t: Test, bao: Awaited<ReturnType<typeof sharedOpenBao>>, root: string) {
  let reads = 0;
  const workspace = await openWorkspace({
    root,
    env: { BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken },
    vaultObserver: { requestSettled: (event) => void (event.operation === 'kv-data' && reads++) },
  });
  t.teardown(() => workspace.close());
  return { workspace, dataReads: () => reads };
}

t.test('after check, the Vault answers it read are released: reading again asks OpenBao again', async (t) => {
  const bao = await sharedOpenBao(t);
  for (const name of ['a', 'b']) {
    t.equal((await bao.vaultHttp('POST', `secret/data/${bao.prefix}/app/${name}`, { data: { PASS: `p-${name}` } })).status, 200);
  }
  const root = t.testdir({
    'coffre.yaml': `vault:\n  prefix: ${bao.prefix}\n`,
    app: {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: [a.secrets, b.secrets]\n',
      'a.secrets.example': 'PASS=\n',
      'b.secrets.example': 'PASS=\n',
    },
  });
  const { workspace, dataReads } = await countingWorkspace(t, bao, root);
  const report = await runCheck(workspace, {});
  t.equal(report.complete, true, 'both files complete');
  t.same(report.services[0]?.files.map((f) => f.status), ['complete', 'complete']);
  t.equal(dataReads(), 2, 'one read per secret');
  const ref: VaultRef = { kind: 'vault', mount: 'secret', path: `${bao.prefix}/app/a` };
  const again = await workspace.sources.vault!.readValues(ref);
  t.equal(again?.values.get('PASS'), 'p-a');
  t.equal(dataReads(), 3, 'the answer was not kept after the run: read again from OpenBao');
});

t.test('after render, the Vault answers it read are released too', async (t) => {
  const bao = await sharedOpenBao(t);
  t.equal((await bao.vaultHttp('POST', `secret/data/${bao.prefix}/app/a`, { data: { PASS: 'p-a' } })).status, 200);
  const root = t.testdir({
    'coffre.yaml': `vault:\n  prefix: ${bao.prefix}\n`,
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: a.secrets\n', 'a.secrets.example': 'PASS=\n' },
  });
  const { workspace, dataReads } = await countingWorkspace(t, bao, root);
  const report = await runRender(workspace, { services: [], all: true, dryRun: true });
  t.equal(report.services[0]?.status, 'planned', JSON.stringify(report.services[0]?.problems));
  const after = dataReads();
  t.ok(after >= 1, 'read from OpenBao');
  await workspace.sources.vault!.readValues({ kind: 'vault', mount: 'secret', path: `${bao.prefix}/app/a` });
  t.equal(dataReads(), after + 1, 'the answer was not kept after the run: read again from OpenBao');
});

t.test('after check, a sops file it decrypted is released: reading again reads the file again', async (t) => {
  const key = await newAgeKey();
  const root = t.testdir({
    app: { 'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: app.secrets\n', 'app.secrets.example': 'PASS=\n' },
  });
  const file = path.join(root, 'app', 'app.secrets.sops.env');
  await writeSopsFile(file, 'PASS=first\n', key);
  const workspace = await openWorkspace({ root, env: { SOPS_AGE_KEY: key.identity } });
  t.teardown(() => workspace.close());
  const report = await runCheck(workspace, {});
  t.same(report.services[0]?.files.map((f) => [f.source.kind, f.status]), [['sops', 'complete']]);
  await writeSopsFile(file, 'PASS=second\n', key);
  const again = await workspace.sources.sops!.readValues({ kind: 'sops', file, format: 'dotenv' });
  t.equal(again?.values.get('PASS'), 'second', 'not the answer the run read: the file was read again');
});

t.test('a shared source is released only after its last file, once', (t) => {
  const released: string[] = [];
  const record = (ref: SourceRef) => released.push(ref.kind === 'vault' ? ref.path : ref.file);
  const sources = {
    vault: { kind: 'vault', listKeys: async () => null, readValues: async () => null, release: record },
    sops: { kind: 'sops', listKeys: async () => null, readValues: async () => null, release: record },
  } as unknown as SourceSet;
  const shared: VaultRef = { kind: 'vault', mount: 'secret', path: 'shared' };
  const own: VaultRef = { kind: 'vault', mount: 'secret', path: 'own' };
  const sops: SourceRef = { kind: 'sops', file: '/repo/app.sops.env', format: 'dotenv' };
  const done = releaseAfterLastUse(sources, [shared, own, { ...shared }, null, sops]);
  done(shared);
  t.same(released, [], 'another file still reads the shared secret');
  done(own);
  done(null);
  t.same(released, ['own']);
  done({ ...shared });
  done(sops);
  t.same(released, ['own', 'shared', '/repo/app.sops.env'], 'the shared secret after its last file');
  t.end();
});
