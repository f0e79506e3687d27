// The compose serialiser checked against docker compose itself: rendered env files are read by compose-go's
// own env_file loading (test/oracle, a Go program) and must give back exactly the values coffre meant to
// write. coffre's own parser is not the judge here.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { serializeEnvFile } from '../../src/core/env-file.js';
import type { CoffreError } from '../../src/errors.js';
import { composeReads } from '../support/compose-oracle.js';

// The hostile alphabet of the env-file tests, plus what compose's escape and comment rules could trip on.
const hostile = [
  '$', '#', "'", '"', '\\', '{', '}', '=', ':', '\t', '\n', '\r', '\r\n', ' ', 'é', '😀', '`', 'a', 'Z', '0', 'n', 'x',
  '\u00a0', '\u0085', '\u2028', '\v', '\f', '\0', '\ufeff', '${A}', '${A:-d}', '$A', '$$', ' #', '\\0', '\\n', '\\$', '\\"',
  '\\0123', 'export ', '=', '\\\\',
];
const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));
const value = fc.oneof(
  fc.constant(''),
  fc.array(fc.constantFrom(...hostile), { maxLength: 24 }).map((parts) => parts.join('')),
  fc.array(fc.oneof(fc.constantFrom(...hostile), anyCodePoint), { maxLength: 16 }).map((parts) => parts.join('')),
);
// Key characters compose accepts in every Go release (letters and digits of old scripts, _ . - [ ]).
const keyChar = fc.constantFrom(...'abzAZ09_.-[]éßÆΩжא中ǅ٣Ⅻ½');
const key = fc.oneof(fc.constant('KEY'), fc.array(keyChar, { minLength: 1, maxLength: 8 }).map((chars) => chars.join('')));
const file = fc.array(fc.record({ key, value }), { minLength: 1, maxLength: 4 }).map((entries) =>
  // unique keys in a file (compose keeps the last of duplicates; coffre never writes duplicates)
  entries.map((entry, i) => ({ key: `${entry.key}${i}`, value: entry.value })),
);

t.test('compose reads back exactly the values coffre serialised (random hostile values, one compose-go run)', async (t) => {
  const seed = Number(process.env.COFFRE_ORACLE_SEED ?? Date.now() % 2 ** 31);
  const files = fc.sample(file, { numRuns: 6000, seed });
  const dir = t.testdir({});
  const paths = files.map((entries, i) => {
    const p = path.join(dir, `f${i}.env`);
    writeFileSync(p, serializeEnvFile(entries, 'compose'));
    return p;
  });
  const readings = await composeReads(paths);
  const values = files.reduce((n, entries) => n + entries.length, 0);
  t.ok(values >= 5000, `${values} values in ${files.length} files`);
  const failures: string[] = [];
  readings.forEach((reading, i) => {
    const intended = Object.fromEntries(files[i]!.map((e) => [e.key, e.value]));
    const got = 'error' in reading ? reading : reading.env;
    if (JSON.stringify(got, Object.keys(got).sort()) !== JSON.stringify(intended, Object.keys(intended).sort()) || Object.keys(got).length !== Object.keys(intended).length) {
      failures.push(`${JSON.stringify(files[i])} → compose read ${JSON.stringify(got)}`);
    }
  });
  t.same(failures.slice(0, 5), [], `no difference (seed ${seed}; COFFRE_ORACLE_SEED=${seed} replays it); ${failures.length} failing files`);
});

t.test('keys: every key the serialiser accepts is read back by compose; the ones it refuses, compose refuses too', async (t) => {
  // Any letter or digit this Node knows (Unicode 17 in Node 20.19+), which is newer than Go's tables.
  const keyCodePoint = anyCodePoint.filter((c) => /^[\p{L}\p{N}_.\-[\]]$/u.test(c));
  const keys = fc.sample(fc.array(fc.oneof(keyCodePoint, fc.constantFrom('A', '_', '.')), { minLength: 1, maxLength: 3 }).map((cs) => cs.join('')), { numRuns: 3000, seed: 7 });
  const dir = t.testdir({});
  const accepted: Array<{ key: string; file: string }> = [];
  const refused: Array<{ key: string; file: string }> = [];
  keys.forEach((k, i) => {
    const file = path.join(dir, `k${i}.env`);
    try {
      writeFileSync(file, serializeEnvFile([{ key: k, value: 'v' }], 'compose'));
      accepted.push({ key: k, file });
    } catch (error) {
      t.equal((error as CoffreError).code, 'COFFRE_RENDER_MISMATCH');
      writeFileSync(file, `${k}="v"\n`); // what a serialiser without the refusal would have written
      refused.push({ key: k, file });
    }
  });
  // Refusals exist only where this Node's Unicode is newer than Go's 15.0 (Node 20.19+ ships Unicode 17).
  const newerUnicode = Number.parseFloat(process.versions.unicode ?? '0') > 15;
  t.ok(accepted.length > 100 && (!newerUnicode || refused.length > 10), `${accepted.length} keys accepted, ${refused.length} refused`);
  const readings = await composeReads([...accepted, ...refused].map((k) => k.file));
  const wrongAccepted = accepted.filter((k, i) => JSON.stringify(readings[i]) !== JSON.stringify({ env: { [k.key]: 'v' } }));
  const wrongRefused = refused.filter((_k, i) => !('error' in readings[accepted.length + i]!));
  t.same(wrongAccepted.map((k) => k.key), [], 'compose reads every accepted key');
  t.same(wrongRefused.map((k) => k.key), [], 'compose cannot read any refused key');
});

t.test('the oracle is a real judge: it sees what a naive serialiser gets wrong', async (t) => {
  const dir = t.testdir({ 'naive.env': 'A="p$ss"\nB=x #y\nC=\'a\\nb\'\n', 'good.env': serializeEnvFile([{ key: 'A', value: 'p$ss' }], 'compose') });
  const [naive, good] = await composeReads([path.join(dir, 'naive.env'), path.join(dir, 'good.env')]);
  t.same(naive, { env: { A: 'p', B: 'x', C: 'a\\nb' } }, '$ss expanded to nothing, " #y" cut as a comment');
  t.same(good, { env: { A: 'p$ss' } });
});
