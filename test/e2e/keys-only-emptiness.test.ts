// Issue 10 item 11: `check --keys-only` reports empty values of sops files (the real sops binary leaves "" in
// clear in every store: nothing to decrypt, no key needed), and for Vault says that emptiness is not visible
// without reading values (a note in text and JSON, "keys present" in text) instead of a bare "complete".
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { sharedOpenBao } from '../support/openbao.js';
import { runCoffre } from '../support/run-cli.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

const stores = [
  { name: 'dotenv', suffix: '.sops.env', plaintext: 'FULL=v-1\nBLANK=\n' },
  { name: 'yaml', suffix: '.sops.yaml', plaintext: 'FULL: v-1\nBLANK: ""\n' },
  { name: 'json', suffix: '.sops.json', plaintext: '{"FULL": "v-1", "BLANK": ""}\n' },
  { name: 'ini', suffix: '.sops.ini', plaintext: '[app]\nFULL = v-1\nBLANK =\n' },
];

t.test('keys-only finds the empty value of a real sops file in every store, with no age key', async (t) => {
  const key = await newAgeKey();
  const tree: Record<string, Record<string, string> | string> = { 'coffre.yaml': '# defaults\n' };
  for (const store of stores) tree[store.name] = { 'docker-compose.yml': 'services:\n  a:\n    image: a\n    env_file: app.secrets\n', 'app.secrets.example': 'FULL=\nBLANK=\n' };
  const dir = t.testdir(tree);
  for (const store of stores) await writeSopsFile(path.join(dir, store.name, `app.secrets${store.suffix}`), store.plaintext, key);
  const result = await runCoffre(['-C', dir, 'check', '--keys-only', '--format', 'json'], {});
  t.equal(result.code, 1, 'incomplete: an empty value');
  const report = JSON.parse(result.stdout);
  for (const service of report.services) {
    t.same(
      service.files[0].keys.map((k: { name: string; status: string }) => [k.name, k.status]),
      [['FULL', 'ok'], ['BLANK', 'empty']],
      `${service.name}: BLANK is empty`,
    );
    t.equal(service.files[0].note, undefined, `${service.name}: no note, emptiness is known`);
  }
});

t.test('keys-only on Vault: "keys present" and a note, never a bare "complete"', async (t) => {
  const bao = await sharedOpenBao(t);
  const dir = t.testdir({
    'coffre.yaml': `vault:\n  prefix: ${bao.prefix}\n`,
    chat: { 'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: db.secrets\n', 'db.secrets.example': 'DB_USER=\nDB_PASS=\n' },
  });
  await mkdir(path.join(dir, 'chat'), { recursive: true });
  const put = await bao.vaultHttp('POST', `secret/data/${bao.prefix}/chat/db`, { data: { DB_USER: 'chat', DB_PASS: '' } });
  t.equal(put.status, 200);
  const ci = await bao.tokenWithPolicies(['coffre-ci']);
  const env = { BAO_ADDR: bao.address, BAO_TOKEN: ci };

  const json = await runCoffre(['-C', dir, 'check', '--keys-only', '--format', 'json'], env);
  t.equal(json.code, 0, 'every key is present');
  const file = JSON.parse(json.stdout).services[0].files[0];
  t.equal(file.status, 'complete');
  t.equal(file.note, 'key names only: whether a value is empty is not visible without reading the values (run check without --keys-only)');

  const text = await runCoffre(['-C', dir, 'check', '--keys-only'], env);
  t.match(text.stdout, /✓ chat\/db\.secrets {2}keys present {2}\(vault: secret\//);
  t.match(text.stdout, /\n {6}note: key names only: whether a value is empty is not visible/);
  t.match(text.stdout, /\n1 file: key names only, emptiness of values not checked\n$/);
  t.notMatch(text.stdout, / complete {2}\(vault/, 'the file is not called complete');

  // With values (an admin token), the empty value is seen, and there is no note.
  const full = await runCoffre(['-C', dir, 'check', '--format', 'json'], { BAO_ADDR: bao.address, BAO_TOKEN: bao.rootToken });
  const fullFile = JSON.parse(full.stdout).services[0].files[0];
  t.equal(fullFile.status, 'incomplete');
  t.equal(fullFile.note, undefined);
});
