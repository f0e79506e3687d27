// One sops value: the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` text, AES-256-GCM with a 32-byte IV and
// the path AAD (node:crypto), and the typed plaintext encodings of sops' aes/cipher.go. Never puts a
// plaintext in an error: callers add the key path.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalTimeText, formatGoFloat, formatSopsBool, parseGoBool, parseGoFloat, parseGoInt } from './go-scalars.js';
import { SopsTime } from './tree.js';

/** The value types sops writes in `type:`. */
export type SopsValueType = 'str' | 'int' | 'float' | 'bool' | 'time' | 'comment' | 'bytes';

/** The parts of an `ENC[…]` value. */
export interface EncryptedValue {
  data: Buffer;
  iv: Buffer;
  tag: Buffer;
  type: string;
}

/** A decrypted value: typed as sops decodes it, plus the exact bytes sops' `ToBytes` feeds the MAC. */
export interface DecryptedValue {
  value: string | bigint | number | boolean | SopsTime | Uint8Array;
  type: SopsValueType;
  macBytes: Buffer;
  /** The IV it was sealed with, so an unchanged value can be re-sealed identically. */
  iv: Buffer;
}

/** Why a value could not be opened; the message is value-free. */
export class ValueCipherError extends Error {}

const ENC_PATTERN = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string, field: string): Buffer {
  if (!STRICT_BASE64.test(text)) throw new ValueCipherError(`invalid base64 in ${field}`);
  return Buffer.from(text, 'base64');
}

/** True when a string has the shape of an encrypted sops value. */
export function isEncryptedValue(text: string): boolean {
  return ENC_PATTERN.test(text);
}

/** True when `text[start, end)` is canonical padded base64 (what STRICT_BASE64 accepts), without a RegExp. */
function isStrictBase64(text: string, start: number, end: number): boolean {
  if ((end - start) % 4 !== 0) return false;
  let pad = 0;
  if (end > start && text.charCodeAt(end - 1) === 61) pad = text.charCodeAt(end - 2) === 61 ? 2 : 1;
  for (let i = start; i < end - pad; i++) {
    const c = text.charCodeAt(i);
    // A-Z a-z 0-9 + /
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47)) return false;
  }
  return true;
}

/**
 * The common case without RegExps (a check reads tens of thousands of values): `ENC[AES256_GCM,data:B,iv:B,tag:B,type:T]`
 * with B canonical base64 and T lowercase letters, ending at the last `]`. Then ENC_PATTERN splits it the same
 * way (no field holds a comma); anything else is left to it (undefined).
 */
function parseEncryptedValueFast(text: string): EncryptedValue | undefined {
  if (!text.startsWith('ENC[AES256_GCM,data:') || text.charCodeAt(text.length - 1) !== 93) return undefined;
  const dataStart = 20;
  const ivMark = text.indexOf(',iv:', dataStart);
  if (ivMark < 0) return undefined;
  const tagMark = text.indexOf(',tag:', ivMark + 4);
  if (tagMark < 0) return undefined;
  const typeMark = text.indexOf(',type:', tagMark + 5);
  if (typeMark < 0) return undefined;
  const end = text.length - 1;
  if (ivMark === dataStart || tagMark === ivMark + 4 || typeMark === tagMark + 5 || end === typeMark + 6) return undefined;
  if (!isStrictBase64(text, dataStart, ivMark) || !isStrictBase64(text, ivMark + 4, tagMark) || !isStrictBase64(text, tagMark + 5, typeMark)) return undefined;
  for (let i = typeMark + 6; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 97 || c > 122) return undefined;
  }
  return {
    data: Buffer.from(text.slice(dataStart, ivMark), 'base64'),
    iv: Buffer.from(text.slice(ivMark + 4, tagMark), 'base64'),
    tag: Buffer.from(text.slice(tagMark + 5, typeMark), 'base64'),
    type: text.slice(typeMark + 6, end),
  };
}

export function parseEncryptedValue(text: string): EncryptedValue {
  const fast = parseEncryptedValueFast(text);
  if (fast !== undefined) return fast;
  const m = ENC_PATTERN.exec(text);
  if (!m) throw new ValueCipherError('value is not in sops ENC[AES256_GCM,…] format');
  return {
    data: decodeBase64(m[1] as string, 'data'),
    iv: decodeBase64(m[2] as string, 'iv'),
    tag: decodeBase64(m[3] as string, 'tag'),
    type: m[4] as string,
  };
}

export function formatEncryptedValue(v: EncryptedValue): string {
  return `ENC[AES256_GCM,data:${v.data.toString('base64')},iv:${v.iv.toString('base64')},tag:${v.tag.toString('base64')},type:${v.type}]`;
}

function openBytes(v: EncryptedValue, key: Uint8Array, aad: string): Buffer {
  if (v.tag.length !== 16) throw new ValueCipherError('GCM tag is not 16 bytes');
  if (v.iv.length === 0) throw new ValueCipherError('empty IV');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, v.iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(v.tag);
    return Buffer.concat([decipher.update(v.data), decipher.final()]);
  } catch {
    throw new ValueCipherError('AES-GCM authentication failed (tampered value, moved value or wrong data key)');
  }
}

/**
 * Decrypts one `ENC[…]` value with its AAD path string and decodes it by its type. An empty string is
 * returned as "" (sops never encrypts empty values). Throws ValueCipherError (value-free message).
 */
export function decryptValue(text: string, key: Uint8Array, aad: string): DecryptedValue {
  if (text === '') return { value: '', type: 'str', macBytes: Buffer.alloc(0), iv: Buffer.alloc(0) };
  const enc = parseEncryptedValue(text);
  const plain = openBytes(enc, key, aad);
  const plainText = plain.toString('utf8');
  switch (enc.type) {
    case 'str':
      return { value: plainText, type: 'str', macBytes: plain, iv: enc.iv };
    case 'comment':
      return { value: plainText, type: 'comment', macBytes: plain, iv: enc.iv };
    case 'bytes':
      return { value: new Uint8Array(plain), type: 'bytes', macBytes: plain, iv: enc.iv };
    case 'int': {
      const value = parseGoInt(plainText);
      if (value === undefined) throw new ValueCipherError('decrypted int value is not a valid integer');
      return { value, type: 'int', macBytes: Buffer.from(value.toString(), 'utf8'), iv: enc.iv };
    }
    case 'float': {
      const value = parseGoFloat(plainText);
      if (value === undefined) throw new ValueCipherError('decrypted float value is not a valid number');
      return { value, type: 'float', macBytes: Buffer.from(formatGoFloat(value), 'utf8'), iv: enc.iv };
    }
    case 'bool': {
      const value = parseGoBool(plainText);
      if (value === undefined) throw new ValueCipherError('decrypted bool value is not a valid boolean');
      return { value, type: 'bool', macBytes: Buffer.from(formatSopsBool(value), 'utf8'), iv: enc.iv };
    }
    case 'time': {
      const canonical = canonicalTimeText(plainText);
      if (canonical === undefined) throw new ValueCipherError('decrypted time value is not RFC 3339');
      return { value: new SopsTime(canonical), type: 'time', macBytes: Buffer.from(canonical, 'utf8'), iv: enc.iv };
    }
    default:
      throw new ValueCipherError('unknown sops value type');
  }
}

/** The sops type tag and plaintext bytes of a value to encrypt. */
export function plaintextOf(value: string | bigint | number | boolean | SopsTime | Uint8Array, comment = false): { type: SopsValueType; bytes: Buffer } {
  if (typeof value === 'string') return { type: comment ? 'comment' : 'str', bytes: Buffer.from(value, 'utf8') };
  if (typeof value === 'bigint') return { type: 'int', bytes: Buffer.from(value.toString(), 'utf8') };
  if (typeof value === 'number') return { type: 'float', bytes: Buffer.from(formatGoFloat(value), 'utf8') };
  if (typeof value === 'boolean') return { type: 'bool', bytes: Buffer.from(formatSopsBool(value), 'utf8') };
  if (value instanceof SopsTime) return { type: 'time', bytes: Buffer.from(value.text, 'utf8') };
  return { type: 'str', bytes: Buffer.from(value) };
}

/**
 * Encrypts one value as sops does: "" stays "", otherwise AES-256-GCM under the data key with a fresh
 * random 32-byte IV (or the given one, to re-seal an unchanged value byte-identically).
 */
export function encryptValue(
  value: string | bigint | number | boolean | SopsTime | Uint8Array,
  key: Uint8Array,
  aad: string,
  options: { comment?: boolean; iv?: Uint8Array } = {},
): string {
  const { type, bytes } = plaintextOf(value, options.comment);
  if (bytes.length === 0 && (type === 'str' || type === 'comment')) return '';
  const iv = Buffer.from(options.iv ?? randomBytes(32));
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(bytes), cipher.final()]);
  return formatEncryptedValue({ data, iv, tag: cipher.getAuthTag(), type });
}
