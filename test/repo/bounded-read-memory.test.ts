// readBoundedText sizes its buffer by the file: a check of thousands of small compose files and examples
// must not churn through 64 KiB buffers per file (peak RSS of `coffre check` at 2 000 services: 410 → 224 MB).
// Still reads files that grow while being read, and still refuses a file over its cap.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readBoundedText } from '../../src/repo/bounded-read.js';

t.test('a small file is read with a buffer of its size, not 64 KiB', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'docker-compose.yml');
  const text = 'services:\n  app:\n    image: app\n';
  writeFileSync(file, text);
  const sizes: number[] = [];
  const { alloc, allocUnsafe } = Buffer;
  Buffer.alloc = ((size: number, ...rest: unknown[]) => (sizes.push(size), (alloc as (...a: unknown[]) => Buffer)(size, ...rest))) as typeof Buffer.alloc;
  Buffer.allocUnsafe = ((size: number) => (sizes.push(size), allocUnsafe(size))) as typeof Buffer.allocUnsafe;
  let read: string;
  try {
    read = await readBoundedText(file, 1024 * 1024);
  } finally {
    Buffer.alloc = alloc;
    Buffer.allocUnsafe = allocUnsafe;
  }
  t.equal(read, text, 'the text');
  t.ok(sizes.length > 0, 'the allocations are seen');
  t.ok(sizes.every((size) => size < 4096), `no big buffer for a ${text.length}-byte file (allocated: ${sizes.join(', ')})`);
});

t.test('larger files, and the cap, as before', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'big.env');
  const text = 'A=1\n'.repeat(50_000);
  writeFileSync(file, text);
  t.equal(await readBoundedText(file, 1024 * 1024), text, 'a 200 kB file reads whole');
  await t.rejects(readBoundedText(file, 100_000), { code: 'EFBIG' }, 'over the cap: refused');
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  t.equal(await readBoundedText(empty, 10), '', 'an empty file');
  appendFileSync(empty, 'x'.repeat(11));
  await t.rejects(readBoundedText(empty, 10), { code: 'EFBIG' }, 'one byte over: refused');
});
