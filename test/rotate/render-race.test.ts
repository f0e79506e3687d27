// A slow render racing `rotate --render` must not overwrite the newer render with the values it read before:
// sources are read under the service's render lock, so the last render to take the lock writes the newest
// data. The slow render talks to the real OpenBao through a loopback proxy that holds back its read's answer.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { parseEnvFile } from '../../src/core/env-file.js';
import { startDelayProxy } from '../support/delay-proxy.js';
import { makeRotateFixture } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);

async function renderedPass(): Promise<string | undefined> {
  const text = await readFile(path.join(fixture.dir, 'chat/secrets/db.secrets'), 'utf8');
  return new Map(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value] as const)).get('DB_PASS');
}

t.test('a render whose Vault read is slow does not overwrite a rotate --render that ran meanwhile', async (t) => {
  t.equal((await fixture.coffre(['set', 'chat', 'db', 'API_KEY', '--generate'])).code, 0, 'the example requires API_KEY');
  const initial = await fixture.coffre(['render', 'chat']);
  t.equal(initial.code, 0, initial.stderr);
  const oldPass = (await fixture.vaultData(fixture.chatPath)).data.DB_PASS!;
  t.equal(await renderedPass(), oldPass);

  const proxy = await startDelayProxy(fixture.bao.address);
  t.teardown(() => proxy.close());
  // The cron render reads through the proxy; its read of chat/db is answered by OpenBao (old value) at once,
  // but the answer is held back.
  proxy.hold(new RegExp(`^GET /v1/secret/data/${fixture.chatPath.replaceAll('/', '\\/')}(\\?| )`));
  const slow = fixture.coffre(['render', 'chat'], { env: { ...fixture.env, VAULT_ADDR: proxy.address } });
  const heldRequest = await Promise.race([proxy.held(), sleep(20_000).then(() => null)]);
  t.ok(heldRequest, 'the slow render read chat/db through the proxy');

  // Meanwhile an admin rotates DB_PASS and re-renders.
  const rotate = fixture.coffre(['rotate', fixture.dir, 'chat', 'db', 'DB_PASS', '--generate', '--render']);
  // The slow render gets its (old) answer once the rotation is done, or after 4 s if the rotation waits for it.
  await Promise.race([rotate, sleep(4_000)]);
  proxy.release();
  const [slowResult, rotateResult] = await Promise.all([slow, rotate]);
  const newPass = (await fixture.vaultData(fixture.chatPath)).data.DB_PASS!;
  t.not(newPass, oldPass, 'the rotation changed the stored value');
  t.equal(rotateResult.code, 0, rotateResult.stderr);
  t.match(rotateResult.stdout, '  render chat: written');
  t.equal(slowResult.code, 0, slowResult.stderr);
  t.ok((await renderedPass()) === newPass, 'the target holds the new value, not the one the slow render read first');
  t.notOk(/canary/.test(fixture.outputs()) || fixture.outputs().includes(newPass) || fixture.outputs().includes(oldPass), 'no value in any output');
});
