// `coffre rotate` on sops files made by the real sops binary, for every store: `sops decrypt` reads exactly the
// expected document, `sops set` still works afterwards, the diff is the value line, lastmodified and mac only,
// the file mode is kept, and sops-age decrypts coffre's yaml/json/dotenv output too.
import { readFile, stat, chmod, readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { decryptSops } from 'sops-age';
import { canary, makeRotateFixture, run, sops, SOPS_STORES } from './rotate-fixture.js';

const fixture = await makeRotateFixture(t);

/** What `sops decrypt` prints once APP_PASS holds `value` (the binary store keeps coffre's compose quoting). */
function expectedAfter(original: string, store: string, oldValue: string, value: string): string {
  if (store === 'binary') return original.replace(`APP_PASS=${oldValue}`, `APP_PASS="${value}"`);
  return original.replace(oldValue, value);
}

const changedLine = /^\s*("?APP_PASS"?\s*[:=]|"data"\s*:|"?(sops_)?lastmodified"?\s*[:=]|"?(sops_)?mac"?\s*[:=])/;

for (const c of SOPS_STORES) {
  t.test(`${c.store}: a rotated file decrypts with sops to the expected document and differs only in the value, lastmodified and mac`, async (t) => {
    const file = fixture.sopsFile(c);
    await chmod(file, 0o640);
    const originalText = await readFile(file, 'utf8');
    const originalPlain = await fixture.sopsDecrypt(file);
    const value = canary('new');
    const result = await fixture.coffre(['rotate', `s-${c.store}`, 'app', 'APP_PASS', '--value-stdin'], { stdin: `${value}\n` });
    t.equal(result.code, 0, result.stderr);
    t.match(result.stdout, /rotated APP_PASS of s-\w+\/app \(sops s-\w+\/secrets\/app\.secrets\.sops[.a-z]*\): lastmodified \S+ → \S+/);

    const rotated = await readFile(file, 'utf8');
    t.equal(await fixture.sopsDecrypt(file), expectedAfter(originalPlain, c.store, fixture.canaries.appPass, value), 'sops decrypt reads exactly the expected document');
    const before = originalText.split('\n');
    const after = rotated.split('\n');
    t.equal(after.length, before.length, 'same number of lines');
    const differing = after.filter((line, i) => line !== before[i]);
    t.ok(differing.length >= 2 && differing.length <= 3, `only a few lines differ (${differing.length})`);
    for (const line of differing) t.match(line, changedLine, 'a differing line is the value, lastmodified or mac');
    t.equal((await stat(file)).mode & 0o777, 0o640, 'the file mode is kept');
    t.same((await readdir(path.dirname(file))).filter((n) => n.endsWith('.tmp')), [], 'no temp file left behind');

    // The real sops binary can keep editing the file coffre wrote.
    const next = canary('sopsset');
    if (c.store === 'binary') {
      await sops(fixture, ['set', file, '["data"]', JSON.stringify(`APP_USER=${fixture.canaries.appUser}\nAPP_PASS=${next}\n`)]);
    } else if (c.store === 'ini') {
      await sops(fixture, ['set', file, '["app"]["APP_PASS"]', JSON.stringify(next)]);
    } else {
      await sops(fixture, ['set', file, '["APP_PASS"]', JSON.stringify(next)]);
    }
    t.match(await fixture.sopsDecrypt(file), next, 'sops set works on the rotated file');
  });
}

const sopsAgeTypes = { yaml: 'yaml', json: 'json', dotenv: 'env' } as const;
for (const c of SOPS_STORES.filter((s) => s.store in sopsAgeTypes)) {
  t.test(`${c.store}: sops-age decrypts what coffre wrote`, async (t) => {
    const file = fixture.sopsFile(c);
    const value = canary('agecheck');
    const result = await fixture.coffre(['rotate', `s-${c.store}`, 'secrets/app.secrets', 'APP_PASS', '--value-stdin'], { stdin: value });
    t.equal(result.code, 0, result.stderr);
    const secretKey = fixture.key.identity;
    const plain = (await decryptSops(await readFile(file, 'utf8'), { secretKey, fileType: sopsAgeTypes[c.store as keyof typeof sopsAgeTypes] })) as Record<string, unknown>;
    t.equal(plain.APP_PASS, value);
    t.equal(plain.APP_USER, fixture.canaries.appUser);
  });
}

t.test('set adds a missing key to a sops file; sops decrypt sees it after the existing keys', async (t) => {
  const c = SOPS_STORES.find((s) => s.store === 'dotenv')!;
  const file = fixture.sopsFile(c);
  const value = canary('added');
  const result = await fixture.coffre(['set', 's-dotenv', 'app', 'APP_EXTRA', '--value-stdin', '--allow-extra'], { stdin: value });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /set APP_EXTRA .*\(new key\)/);
  t.match(await fixture.sopsDecrypt(file), new RegExp(`APP_EXTRA=${value}\\n$`));
  const again = await fixture.coffre(['set', 's-dotenv', 'app', 'APP_EXTRA', '--value-stdin', '--allow-extra'], { stdin: 'x' });
  t.equal(again.code, 2, 'set on an existing key is refused');
  t.match(again.stderr, /already has APP_EXTRA: use `coffre rotate`/);
});

t.test('sops: rollback is a usage error pointing at git; versions shows lastmodified', async (t) => {
  const result = await fixture.coffre(['rollback', 's-yaml', 'app', '--to', '1']);
  t.equal(result.code, 2);
  t.match(result.stderr, /COFFRE_USAGE: .*sops file whose history is git's: restore it with `git checkout <commit> -- s-yaml\/secrets\/app\.secrets\.sops\.yaml`/);
  const git = ['-C', fixture.dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false'];
  await run('git', [...git, 'add', 's-yaml/secrets/app.secrets.sops.yaml']);
  await run('git', [...git, 'commit', '--quiet', '-m', 'rotate yaml secret']);
  const versions = await fixture.coffre(['versions', 's-yaml', 'app', '--format', 'json']);
  t.equal(versions.code, 0, versions.stderr);
  const report = JSON.parse(versions.stdout);
  t.match(report, { service: 's-yaml', file: 'app', source: { kind: 'sops', ref: 's-yaml/secrets/app.secrets.sops.yaml' }, exists: true, lastModified: /^\d{4}-\d\d-\d\dT/ });
  t.equal(report.git.length, 1, "the file's one commit");
  t.match(report.git[0], { commit: /^[0-9a-f]{40}$/, date: /^\d{4}-/, subject: 'rotate yaml secret' });
  const text = await fixture.coffre(['versions', 's-yaml', 'app']);
  t.match(text.stdout, /s-yaml\/app \(sops s-yaml\/secrets\/app\.secrets\.sops\.yaml\): lastmodified \S+\n {2}[0-9a-f]{12} {2}\S+ {2}rotate yaml secret\n/);
});

t.test('no planted or new value ever appears in any output', async (t) => {
  const all = fixture.outputs();
  for (const value of Object.values(fixture.canaries)) t.notOk(all.includes(value), 'planted value absent');
  t.notOk(/canary(new|sopsset|agecheck|added)/.test(all), 'no new value in any output');
});
