// The example cache gives what readExampleOf gives: it reuses a parsed example only while the file (as a read
// would reach it, through a symbolic link) is unchanged, never within the racy window, and hands out a model
// no caller can change.
import { readFileSync } from 'node:fs';
import { rename, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { createExampleCache } from '../../src/repo/example-cache.js';
import { readExampleOf, type ExampleOfFile } from '../../src/repo/read-example.js';

const LONG_AGO = new Date(Date.now() - 60_000);
/** A clock past the racy window of every file the test writes (their change time is always now). */
const later = (): number => Date.now() + 10_000;

async function aged(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  await utimes(file, LONG_AGO, LONG_AGO);
}

function exampleOf(root: string, name = 'app.secrets.example'): ExampleOfFile {
  return { format: 'compose', target: path.join(root, 'app.secrets'), example: path.join(root, name), exampleRel: name };
}

t.test('reuses the parsed example while the file is unchanged, reads it again after a change', async (t) => {
  const root = t.testdir({});
  const file = exampleOf(root);
  await aged(file.example, 'TOKEN=\nDB_PASSWORD=\n');
  const cache = createExampleCache(later);
  const first = await cache.read(file);
  t.same(first, await readExampleOf(file), 'the same model as a fresh read');
  t.equal(await cache.read(file), first, 'unchanged: the same model, not read again');

  // Same size, same (old) timestamps: the inode's change time still moves.
  await aged(file.example, 'TOKEN=\nDB_PASSWORX=\n');
  const edited = await cache.read(file);
  t.not(edited, first, 'rewritten: read again');
  t.same(edited.keys.map((k) => k.name), ['TOKEN', 'DB_PASSWORX']);

  // Replaced by another file (a git checkout writes a new one and renames it over).
  const next = path.join(root, 'next');
  await aged(next, 'OTHER=\n');
  await rename(next, file.example);
  t.same((await cache.read(file)).keys.map((k) => k.name), ['OTHER'], 'replaced: read again');
});

t.test('an example behind a symbolic link is stamped as the file read, not the link', async (t) => {
  const root = t.testdir({});
  await aged(path.join(root, 'real-a'), 'A=\n');
  await aged(path.join(root, 'real-b'), 'B=\n');
  await symlink('real-a', path.join(root, 'app.secrets.example'));
  const file = exampleOf(root);
  const cache = createExampleCache(later);
  t.same((await cache.read(file)).keys.map((k) => k.name), ['A']);
  await aged(path.join(root, 'real-a'), 'C=\n');
  t.same((await cache.read(file)).keys.map((k) => k.name), ['C'], 'the file behind the link changed: read again');
  const link = path.join(root, 'app.secrets.example');
  await symlink('real-b', `${link}.new`);
  await rename(`${link}.new`, link);
  t.same((await cache.read(file)).keys.map((k) => k.name), ['B'], 'the link retargeted: read again');
});

t.test('a key policy, a kind or a display name of its own is not answered from another entry', async (t) => {
  const root = t.testdir({});
  const file = exampleOf(root);
  await aged(file.example, 'TOKEN=\n');
  const cache = createExampleCache(later);
  const plain = await cache.read(file);
  t.equal(plain.keys[0]?.optional, false);
  const keyPolicy = [{ key: 'TOKEN', policy: { optional: true } }];
  const withPolicy = await cache.read({ ...file, keyPolicy });
  t.equal(withPolicy.keys[0]?.optional, true, 'another key policy: applied, not the cached model');
  t.equal(await cache.read({ ...file, keyPolicy }), withPolicy, 'the same policy array: reused');
  const asSecret = await cache.read({ ...file, format: 'secret' });
  t.equal(asSecret.keys.length, 1, 'a compose secret file: its whole text is one value');
  t.not(asSecret.keys[0]?.name, 'TOKEN', 'named after its target, not parsed as an env file');
  t.equal((await cache.read({ ...file, exampleRel: 'other/name' })).file, 'other/name', 'messages name the file as asked');
});

t.test('files changed within the racy window are read again; a missing file is reported, not remembered', async (t) => {
  const root = t.testdir({});
  const file = exampleOf(root);
  await writeFile(file.example, 'TOKEN=\n');
  const cache = createExampleCache();
  const first = await cache.read(file);
  t.not(await cache.read(file), first, 'freshly written: not reused');
  const missing = exampleOf(root, 'gone.example');
  await t.rejects(cache.read(missing), { code: 'COFFRE_EXAMPLE_MISSING' });
  await aged(missing.example, 'LATE=\n');
  t.same((await cache.read(missing)).keys.map((k) => k.name), ['LATE'], 'created later: read');
});

t.test('the model handed out cannot be changed by one caller for the next', async (t) => {
  const root = t.testdir({});
  const file = exampleOf(root);
  await aged(file.example, 'TOKEN=\n');
  const cache = createExampleCache(later);
  const model = await cache.read(file);
  t.throws(() => {
    (model.keys as unknown[]).push({});
  }, TypeError);
  t.throws(() => {
    (model.keys[0] as { name: string }).name = 'CHANGED';
  }, TypeError);
  t.same((await cache.read(file)).keys.map((k) => k.name), ['TOKEN']);
  t.equal(readFileSync(file.example, 'utf8'), 'TOKEN=\n');
});
