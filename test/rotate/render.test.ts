// rotate/rollback --render: the service's targets are re-rendered in the same operation (content changes,
// mode 0600); when the render fails after a successful write, the CLI says so, exits non-zero and prints how
// to roll back (`coffre rollback … --to <old version>` for Vault, `git checkout -- <file>` for sops).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parseEnvFile } from '../../src/core/env-file.js';
import { canary, makeRotateFixture } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);
const generated: string[] = [];

async function renderedValues(target: string): Promise<Map<string, string>> {
  const text = await readFile(path.join(fixture.dir, target), 'utf8');
  return new Map(parseEnvFile(text, { lookup: () => undefined }).entries.map((e) => [e.key, e.value] as const));
}

t.test('rotate --render re-renders the service: the target holds the new value, mode 0600', async (t) => {
  const apiKey = await fixture.coffre(['set', 'chat', 'db', 'API_KEY', '--generate']);
  t.equal(apiKey.code, 0, 'the example requires API_KEY: give it a value first (version 2)');
  generated.push((await fixture.vaultData(fixture.chatPath)).data.API_KEY!);
  const initial = await fixture.coffre(['render', 'chat']);
  t.equal(initial.code, 0, initial.stderr);
  const before = await renderedValues('chat/secrets/db.secrets');
  t.equal(before.get('DB_PASS'), fixture.canaries.dbPass);

  const result = await fixture.coffre(['-C', fixture.dir, 'rotate', 'chat', 'db', 'DB_PASS', '--generate', '--render']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, '  render chat: written');
  const stored = (await fixture.vaultData(fixture.chatPath)).data.DB_PASS!;
  generated.push(stored);
  const after = await renderedValues('chat/secrets/db.secrets');
  t.equal(after.get('DB_PASS'), stored, 'the rendered target holds the new value');
  t.equal(after.get('DB_USER'), fixture.canaries.dbUser);
  t.equal((await stat(path.join(fixture.dir, 'chat/secrets/db.secrets'))).mode & 0o777, 0o600);

  const sopsResult = await fixture.coffre(['rotate', 's-ini', 'app', 'APP_PASS', '--value-stdin', '--render'], { stdin: canary('inirender') });
  t.equal(sopsResult.code, 0, sopsResult.stderr);
  t.match((await renderedValues('s-ini/secrets/app.secrets')).get('APP_PASS'), /^canaryinirender/);
  t.equal((await stat(path.join(fixture.dir, 's-ini/secrets/app.secrets'))).mode & 0o777, 0o600);
});

t.test('rollback --render puts the old data back into the target', async (t) => {
  const result = await fixture.coffre(['rollback', 'chat', 'db', '--to', '2', '--render', '--format', 'json']);
  t.equal(result.code, 0, result.stderr);
  t.match(JSON.parse(result.stdout), { action: 'rollback', render: { service: 'chat', status: 'written' }, renderFailed: false });
  t.equal((await renderedValues('chat/secrets/db.secrets')).get('DB_PASS'), fixture.canaries.dbPass);
});

t.test('a render failure after a successful Vault rotation is reported with the rollback command, exit non-zero', async (t) => {
  const before = await fixture.vaultData(`${fixture.bao.prefix}/exposed/db`);
  const result = await fixture.coffre(['-C', fixture.dir, 'rotate', 'exposed', 'db', 'DB_PASS', '--generate', '--render']);
  const after = await fixture.vaultData(`${fixture.bao.prefix}/exposed/db`);
  generated.push(after.data.DB_PASS!);
  t.equal(after.version, before.version + 1, 'the rotation itself was written');
  t.equal(result.code, 4, 'exit code of the render error (target refused)');
  t.match(result.stderr, `the new value is stored (version ${after.version}) but rendering exposed failed: COFFRE_TARGET_NOT_IGNORED`);
  t.match(result.stderr, `to roll back: coffre rollback exposed db --to ${before.version}\n`);
  t.match(result.stderr, /audit: .*"outcome":"render-failed"/);
});

t.test('a render failure after a sops rotation points at git checkout', async (t) => {
  const result = await fixture.coffre(['rotate', 'exposed-sops', 'app', 'APP_PASS', '--value-stdin', '--render'], { stdin: canary('exposedsops') });
  t.equal(result.code, 4);
  t.match(result.stderr, /the new value is stored \(lastmodified \S+\) but rendering exposed-sops failed: COFFRE_TARGET_NOT_IGNORED/);
  t.match(result.stderr, 'to roll back: git checkout -- exposed-sops/secrets/app.secrets.sops.yaml');
});

t.test('no planted or generated value appears in any output', async (t) => {
  const all = fixture.outputs();
  for (const value of [...Object.values(fixture.canaries), ...generated]) t.notOk(all.includes(value), 'value absent');
  t.notOk(/canary/.test(all), 'no canary text at all');
});
