// Generated values: length, charset membership, uniformity (no modulo bias), spec validation.
import t from 'tap';
import { GENERATE_ALPHABETS, generateValue, parseGenerateSpec, type GenerateCharset } from '../../src/core/generate.js';

const charsets = Object.keys(GENERATE_ALPHABETS) as GenerateCharset[];

t.test('alphabets have the documented sizes and ascii-safe has no risky character', async (t) => {
  t.same(Object.fromEntries(charsets.map((c) => [c, GENERATE_ALPHABETS[c].length])), { alnum: 62, hex: 16, base64url: 64, 'ascii-safe': 88 });
  for (const c of `"'\\$\`# `) t.notOk(GENERATE_ALPHABETS['ascii-safe'].includes(c), `no ${JSON.stringify(c)}`);
  for (const c of charsets) t.equal(new Set(GENERATE_ALPHABETS[c]).size, GENERATE_ALPHABETS[c].length, `${c} has no duplicate`);
});

t.test('generates the requested length from the charset only', async (t) => {
  for (const charset of charsets) {
    for (const length of [1, 7, 32, 4096]) {
      const value = generateValue({ charset, length });
      t.equal(value.length, length, `${charset}:${length} length`);
      t.ok([...value].every((c) => GENERATE_ALPHABETS[charset].includes(c)), `${charset}:${length} membership`);
    }
  }
  t.not(generateValue({ charset: 'base64url', length: 32 }), generateValue({ charset: 'base64url', length: 32 }), 'two values differ');
});

t.test('rejects lengths outside 1..4096 and unknown charsets', async (t) => {
  for (const length of [0, -1, 4097, 1.5, Number.NaN]) {
    t.throws(() => generateValue({ charset: 'hex', length }), { code: 'COFFRE_USAGE' }, String(length));
  }
  t.throws(() => generateValue({ charset: 'base64' as GenerateCharset, length: 8 }), { code: 'COFFRE_USAGE' });
});

t.test('no modulo bias: every byte value once gives every character equally often', async (t) => {
  // a source that cycles through all 256 byte values: rejection sampling maps each accepted byte
  // to exactly floor(256 / size) values per character, a plain modulo would favour the first 256 % size
  let next = 0;
  const cycling = (n: number) => Uint8Array.from({ length: n }, () => next++ % 256);
  for (const charset of charsets) {
    next = 0;
    const size = GENERATE_ALPHABETS[charset].length;
    const accepted = 256 - (256 % size);
    const value = generateValue({ charset, length: accepted }, cycling);
    const counts = new Map<string, number>();
    for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
    t.same(new Set(counts.values()), new Set([accepted / size]), `${charset}: each char ${accepted / size} times`);
    t.equal(counts.size, size);
  }
});

t.test('a byte source stuck on rejected bytes fails instead of looping', async (t) => {
  t.throws(() => generateValue({ charset: 'alnum', length: 4 }, (n) => new Uint8Array(n).fill(255)), { code: 'COFFRE_INTERNAL' });
  t.equal(generateValue({ charset: 'hex', length: 4 }, (n) => new Uint8Array(n).fill(255)), 'ffff', 'hex accepts every byte');
});

t.test('chi-square: characters are uniform over many samples', async (t) => {
  // Wilson–Hilferty upper quantile for p = 1e-5 (z = 4.265): a fixed threshold, false alarms ~1 in 100,000
  const threshold = (df: number) => df * (1 - 2 / (9 * df) + 4.265 * Math.sqrt(2 / (9 * df))) ** 3;
  for (const charset of charsets) {
    const alphabet = GENERATE_ALPHABETS[charset];
    const total = alphabet.length * 2000;
    const counts = new Map<string, number>();
    let produced = 0;
    while (produced < total) {
      const value = generateValue({ charset, length: 4096 });
      for (const c of value.slice(0, total - produced)) counts.set(c, (counts.get(c) ?? 0) + 1);
      produced += Math.min(4096, total - produced);
    }
    const expected = total / alphabet.length;
    let chi2 = 0;
    for (const c of alphabet) chi2 += ((counts.get(c) ?? 0) - expected) ** 2 / expected;
    const limit = threshold(alphabet.length - 1);
    t.ok(chi2 < limit, `${charset}: chi2 ${chi2.toFixed(1)} < ${limit.toFixed(1)} (df ${alphabet.length - 1})`);
  }
});

t.test('parseGenerateSpec reads <charset>:<length> and explains what is wrong', async (t) => {
  t.same(parseGenerateSpec('base64url:32'), { charset: 'base64url', length: 32 });
  t.same(parseGenerateSpec('ascii-safe:4096'), { charset: 'ascii-safe', length: 4096 });
  for (const bad of ['base64:32', 'hex:0', 'hex:4097', 'hex', 'hex:', ':8', 'HEX:8']) {
    t.ok('invalid' in parseGenerateSpec(bad), bad);
  }
});
