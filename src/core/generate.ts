// Generates new secret values for `@generate=<charset>:<length>` annotations and `rotate`.
// Uniform over the charset (rejection sampling, no modulo bias); no I/O besides the CSPRNG it is handed.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { CoffreError } from '../errors.js';

/** The alphabets a generated value can be drawn from. */
export type GenerateCharset = 'alnum' | 'hex' | 'base64url' | 'ascii-safe';

/** What to generate: `length` characters drawn uniformly from `charset`. */
export interface GenerateSpec {
  charset: GenerateCharset;
  length: number;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';

/**
 * printable ASCII (0x21–0x7E) without the characters that change meaning in a shell, an env file or a
 * URL-ish config: quotes, backslash, `$`, backtick, `#`; space is outside the range already.
 */
const ASCII_SAFE = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => !`"'\\$\`#`.includes(c))
  .join('');

/** Each charset's alphabet, in a fixed order. */
export const GENERATE_ALPHABETS: Readonly<Record<GenerateCharset, string>> = {
  alnum: UPPER + LOWER + DIGITS,
  hex: DIGITS + 'abcdef',
  base64url: UPPER + LOWER + DIGITS + '-_',
  'ascii-safe': ASCII_SAFE,
};

export const GENERATE_MIN_LENGTH = 1;
export const GENERATE_MAX_LENGTH = 4096;

function isCharset(name: string): name is GenerateCharset {
  return Object.prototype.hasOwnProperty.call(GENERATE_ALPHABETS, name);
}

/**
 * Parses `<charset>:<length>` (the text after `@generate=`). Returns a reason string instead of a spec
 * when it is not valid, so callers can attach their own file:line.
 */
export function parseGenerateSpec(text: string): GenerateSpec | { invalid: string } {
  const match = /^([a-z0-9-]+):([0-9]+)$/.exec(text);
  if (match === null) return { invalid: `expected <charset>:<length>, e.g. base64url:32` };
  const charset = match[1]!;
  const length = Number(match[2]);
  if (!isCharset(charset)) return { invalid: `unknown charset "${charset}" (one of ${Object.keys(GENERATE_ALPHABETS).join(', ')})` };
  if (!Number.isSafeInteger(length) || length < GENERATE_MIN_LENGTH || length > GENERATE_MAX_LENGTH) {
    return { invalid: `length must be ${GENERATE_MIN_LENGTH}..${GENERATE_MAX_LENGTH}` };
  }
  return { charset, length };
}

/** Source of random bytes; `node:crypto` randomBytes by default. */
export type RandomBytes = (n: number) => Uint8Array;

/**
 * A fresh value of `spec.length` characters, each uniform over the charset: a byte is accepted only when
 * it is below the largest multiple of the alphabet size that fits in 256, then reduced modulo the size.
 * Throws COFFRE_USAGE for an invalid spec, COFFRE_INTERNAL when the byte source misbehaves.
 */
export function generateValue(spec: GenerateSpec, randomBytes: RandomBytes = cryptoRandomBytes): string {
  if (!isCharset(spec.charset)) throw new CoffreError('COFFRE_USAGE', `unknown charset for generation: ${JSON.stringify(spec.charset)}`);
  if (!Number.isInteger(spec.length) || spec.length < GENERATE_MIN_LENGTH || spec.length > GENERATE_MAX_LENGTH) {
    throw new CoffreError('COFFRE_USAGE', `generated length must be an integer in ${GENERATE_MIN_LENGTH}..${GENERATE_MAX_LENGTH}`);
  }
  const alphabet = GENERATE_ALPHABETS[spec.charset];
  const size = alphabet.length;
  const limit = 256 - (256 % size);
  let out = '';
  let barren = 0;
  while (out.length < spec.length) {
    const missing = spec.length - out.length;
    // ask for a little more than needed so one batch usually suffices despite rejections
    const bytes = randomBytes(Math.ceil((missing * 256) / limit) + 8);
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new CoffreError('COFFRE_INTERNAL', 'the random byte source returned no bytes');
    }
    const before = out.length;
    for (const b of bytes) {
      if (b >= limit) continue;
      out += alphabet[b % size];
      if (out.length === spec.length) break;
    }
    // a source stuck on rejected bytes would loop forever
    barren = out.length === before ? barren + 1 : 0;
    if (barren >= 64) throw new CoffreError('COFFRE_INTERNAL', 'the random byte source keeps returning unusable bytes');
  }
  return out;
}
