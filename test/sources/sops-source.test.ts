// The sops SecretSource on files written by the real sops binary: missing files are null, names are listed
// without identities, values are decrypted once per file, binary files are read as compose env files;
// writes are locked and checked-and-set against the revision of the snapshot read.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseAgeIdentities } from '../../src/sops/index.js';
import { createSopsSource } from '../../src/sources/sops.js';
import type { SopsRef } from '../../src/sources/secret-source.js';
import { newAgeKey, writeSopsFile } from '../support/sops.js';

t.test('sops source over real sops files', async (t) => {
  const dir = t.testdir({});
  const key = await newAgeKey();
  const yamlFile = path.join(dir, 'db.yaml');
  const binFile = path.join(dir, 'db.secrets');
  const nestedFile = path.join(dir, 'nested.yaml');
  await writeSopsFile(yamlFile, 'DB_USER: app\nDB_PASSWORD: s3cret-pass\nEMPTY: ""\n', key);
  await writeSopsFile(binFile, '# compose env file\nA=1\nB="two words"\nA=3\nE=\n', key);
  await writeSopsFile(nestedFile, 'FLAT: x\nDEEP:\n    a: 1\n', key);
  const yaml: SopsRef = { kind: 'sops', file: yamlFile, format: 'yaml' };
  const bin: SopsRef = { kind: 'sops', file: binFile, format: 'binary' };
  const nested: SopsRef = { kind: 'sops', file: nestedFile, format: 'yaml' };
  const missing: SopsRef = { kind: 'sops', file: path.join(dir, 'nope.yaml'), format: 'yaml' };

  t.test('lists names without any identity and reads nothing for a missing file', async (t) => {
    const source = createSopsSource({ identities: [] });
    t.equal(source.kind, 'sops');
    t.same([...((await source.listKeys(yaml))?.keys ?? [])], [['DB_USER', 'set'], ['DB_PASSWORD', 'set'], ['EMPTY', 'empty']]);
    t.equal(await source.listKeys(missing), null);
    t.equal(await source.readValues(missing), null);
    await t.rejects(source.readValues(yaml), { code: 'COFFRE_SOPS_NO_KEY' });
    await t.rejects(source.listKeys(bin), { code: 'COFFRE_SOPS_NO_KEY' }, 'binary names need the key');
  });

  t.test('reads values with the identity, once per file', async (t) => {
    const source = createSopsSource({ identities: parseAgeIdentities(key.identity, 'test') });
    t.same([...((await source.readValues(yaml))?.values ?? [])], [['DB_USER', 'app'], ['DB_PASSWORD', 's3cret-pass'], ['EMPTY', '']]);
    rmSync(yamlFile);
    t.same([...((await source.readValues(yaml))?.values ?? [])].length, 3, 'memoized: the file is not read again');
    t.same([...((await source.listKeys(bin))?.keys ?? [])], [['A', 'set'], ['B', 'set'], ['E', 'empty']]);
    t.same([...((await source.readValues(bin))?.values ?? [])], [['A', '3'], ['B', 'two words'], ['E', '']], 'compose env semantics, last value wins');
    t.same([...((await source.listKeys(nested))?.keys ?? [])], [['FLAT', 'set'], ['DEEP', 'set']]);
    await t.rejects(source.readValues(nested), { code: 'COFFRE_SOURCE_NOT_FLAT', message: /"DEEP"/ });
  });

  t.test('writes under the lock it is given, only if the file is still the revision read (check-and-set)', async (t) => {
    const file = path.join(dir, 'cas.yaml');
    await writeSopsFile(file, 'A: one\nB: two\n', key);
    const ref: SopsRef = { kind: 'sops', file, format: 'yaml' };
    const events: string[] = [];
    const source = createSopsSource({
      identities: parseAgeIdentities(key.identity, 'test'),
      lockForWrite: async (locked) => {
        events.push(`lock ${path.basename(locked)}`);
        return { release: async () => void events.push('release') };
      },
    });
    const snapshot = await source.readValues(ref);
    t.match(snapshot?.revision, /^[0-9a-f]{64}$/, 'the snapshot carries the revision of the text it came from');
    const before = readFileSync(file, 'utf8');
    await t.rejects(source.writeValues(ref, new Map([['A', 'uno']]), { expectedRevision: '0'.repeat(64) }), { code: 'COFFRE_CONFLICT' });
    t.equal(readFileSync(file, 'utf8'), before, 'a lost check-and-set writes nothing');
    t.same(events, ['lock cas.yaml', 'release'], 'checked under the lock, released after a conflict');
    const written = await source.writeValues(ref, new Map([['A', 'uno']]), { expectedRevision: snapshot!.revision! });
    t.same(written.changed, ['A']);
    // A second write decided on the old snapshot loses: the file is no longer what it read.
    await t.rejects(source.writeValues(ref, new Map([['B', 'dos']]), { expectedRevision: snapshot!.revision! }), { code: 'COFFRE_CONFLICT' });
    t.same([...((await source.readValues(ref))?.values ?? [])], [['A', 'uno'], ['B', 'two']]);
    t.equal(events.filter((e) => e === 'release').length, 3, 'every write released its lock');
  });

  t.test('refuses to write without a lock', async (t) => {
    const source = createSopsSource({ identities: parseAgeIdentities(key.identity, 'test') });
    const snapshot = await source.readValues(bin);
    await t.rejects(source.writeValues(bin, new Map([['A', '4']]), { expectedRevision: snapshot!.revision! }), { code: 'COFFRE_INTERNAL', message: /no write lock/ });
  });
});
