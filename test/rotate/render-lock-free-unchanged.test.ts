// A re-render that finds nothing to change reads the stores without the service's render lock (the lock only
// orders writers), so a deploy re-render never queues behind a slow render of the same service; as soon as
// something is to be written, the lock is taken and the sources are read again under it (see render-race).
// Real OpenBao, the real coffre process.
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parseEnvFile } from '../../src/core/env-file.js';
import { acquireRenderLock } from '../../src/render/render-lock.js';
import { makeRotateFixture } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);

async function renderedPass(): Promise<string | undefined> {
  const text = await readFile(path.join(fixture.dir, 'chat/secrets/db.secrets'), 'utf8');
  return new Map(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value] as const)).get('DB_PASS');
}

t.test('unchanged: no wait for a held lock; changed: waits for it, then writes what it reads under it', async (t) => {
  t.equal((await fixture.coffre(['set', 'chat', 'db', 'API_KEY', '--generate'])).code, 0, 'the example requires API_KEY');
  const first = await fixture.coffre(['render', 'chat']);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /created +chat\/secrets\/db\.secrets/);

  // Another render of chat holds the lock (this test process: alive, so never broken as stale).
  const lock = await acquireRenderLock(await realpath(fixture.dir), 'chat');
  try {
    const started = Date.now();
    const unchanged = await fixture.coffre(['render', 'chat']);
    t.equal(unchanged.code, 0, unchanged.stderr);
    t.match(unchanged.stdout, /unchanged +chat\/secrets\/db\.secrets/);
    // The lock wait is 10 s before COFFRE_LOCKED; an unchanged render does not wait at all.
    t.ok(Date.now() - started < 8_000, `an unchanged render did not wait for the lock (${Date.now() - started} ms)`);

    t.equal((await fixture.coffre(['rotate', 'chat', 'db', 'DB_PASS', '--generate'])).code, 0, 'rotated in OpenBao, not rendered');
    const newPass = (await fixture.vaultData(fixture.chatPath)).data.DB_PASS!;
    t.not(await renderedPass(), newPass, 'the target still holds the old value');
    const waiting = fixture.coffre(['render', 'chat']);
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        void lock.release().then(() => resolve(Date.now()));
      }, 1_500),
    );
    const changed = await waiting;
    const releasedAt = await released;
    t.equal(changed.code, 0, changed.stderr);
    t.match(changed.stdout, /updated +chat\/secrets\/db\.secrets/);
    t.ok(Date.now() >= releasedAt, 'the changed render ended after the lock was released');
    t.equal(await renderedPass(), newPass, 'the new value was written');
  } finally {
    await lock.release();
  }
  t.notOk(/canary/.test(fixture.outputs()), 'no value in any output');
});
