// Reading an age v1 file (https://age-encryption.org/v1) with node:crypto: the ASCII armor, the header
// (stanzas and MAC) and the STREAM payload (ChaCha20-Poly1305, 64 KiB chunks). Decryption only, as strict
// as age-encryption's own reader, which coffre no longer loads to unwrap X25519 keys (start-up cost: it pulls
// in every noble curve and ML-KEM). Unwrapping the file key from a stanza is the identities' job
// (native-x25519.ts; age-identity.ts hands post-quantum stanzas to age-encryption, loaded only then).
import { createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** One recipient stanza of an age header: `-> arg…` and its body. */
export interface AgeStanza {
  readonly args: string[];
  readonly body: Uint8Array;
}

/** A parsed age file: its stanzas, the header bytes (with and without the MAC) and what follows the header. */
export interface AgeHeader {
  readonly stanzas: AgeStanza[];
  /** The header up to and including `---` (what the MAC covers). */
  readonly headerNoMac: Buffer;
  /** The whole header, MAC line and its newline included (what age-encryption's decryptHeader takes). */
  readonly header: Buffer;
  readonly mac: Buffer;
  /** The payload: 16-byte nonce, then the STREAM chunks. */
  readonly payload: Buffer;
}

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const VERSION_LINE = 'age-encryption.org/v1';
const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;

/** Unpadded standard base64, canonical only (as age requires); null when it is not. */
export function decodeUnpaddedBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : null;
}

/**
 * The binary age file inside `-----BEGIN AGE ENCRYPTED FILE-----` armor. Surrounding whitespace and CRLF are
 * accepted; otherwise strict: 64-column lines, a shorter last line, padded canonical base64.
 */
export function decodeAgeArmor(text: string): Buffer {
  const lines = text.trim().replaceAll('\r\n', '\n').split('\n');
  if (lines.shift() !== ARMOR_BEGIN) throw new Error('invalid age armor header');
  if (lines.pop() !== ARMOR_END) throw new Error('invalid age armor footer');
  if (lines.length === 0) throw new Error('empty age armor');
  lines.forEach((line, i) => {
    const valid = i === lines.length - 1 ? line.length > 0 && line.length <= 64 && line.length % 4 === 0 : line.length === 64;
    if (!valid) throw new Error('invalid age armor line length');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line) || (i < lines.length - 1 && line.includes('='))) throw new Error('invalid age armor base64');
  });
  const joined = lines.join('');
  const bytes = Buffer.from(joined, 'base64');
  if (bytes.toString('base64') !== joined) throw new Error('invalid age armor base64');
  return bytes;
}

/** Splits off the header of a binary age file and parses it. Throws on any malformed line. */
export function parseAgeHeader(file: Uint8Array): AgeHeader {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  let offset = 0;
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, offset);
    if (end < 0) throw new Error('truncated age header');
    for (let i = offset; i < end; i++) {
      const byte = bytes[i] as number;
      if (byte < 32 || byte > 126) throw new Error('invalid non-ASCII byte in age header');
    }
    const line = bytes.toString('latin1', offset, end);
    offset = end + 1;
    return line;
  };
  if (readLine() !== VERSION_LINE) throw new Error('unsupported age version line');
  const stanzas: AgeStanza[] = [];
  for (;;) {
    const lineStart = offset;
    const line = readLine();
    const args = line.split(' ');
    if (args.length >= 2 && args[0] === '->') {
      args.shift();
      if (args.some((arg) => arg.length === 0)) throw new Error('invalid age stanza');
      const body: Buffer[] = [];
      for (;;) {
        const chunk = decodeUnpaddedBase64(readLine());
        if (chunk === null || chunk.length > 48) throw new Error('invalid age stanza body');
        body.push(chunk);
        if (chunk.length < 48) break;
      }
      stanzas.push({ args, body: new Uint8Array(Buffer.concat(body)) });
      continue;
    }
    if (!line.startsWith('--- ')) throw new Error('invalid age header');
    const mac = decodeUnpaddedBase64(line.slice(4));
    if (mac === null || mac.length !== 32) throw new Error('invalid age header MAC');
    return {
      stanzas,
      headerNoMac: bytes.subarray(0, lineStart + 3),
      header: bytes.subarray(0, offset),
      mac,
      payload: bytes.subarray(offset),
    };
  }
}

function chacha20Poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < TAG) throw new Error('age ciphertext too short');
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
}

/**
 * Checks the header MAC with `fileKey` and decrypts the payload. Throws when the MAC or any chunk does not
 * authenticate, or the STREAM is malformed (truncated, an empty final chunk after a full one).
 */
export function decryptAgePayload(fileKey: Uint8Array, header: AgeHeader): Buffer {
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  const mac = createHmac('sha256', macKey).update(header.headerNoMac).digest();
  if (!timingSafeEqual(mac, header.mac)) throw new Error('invalid age header MAC');
  if (header.payload.length < NONCE) throw new Error('truncated age payload');
  const streamKey = Buffer.from(hkdfSync('sha256', fileKey, header.payload.subarray(0, NONCE), 'payload', 32));
  const body = header.payload.subarray(NONCE);
  const nonce = Buffer.alloc(12);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let index = 0; ; index++) {
    const last = body.length - offset <= CHUNK + TAG;
    const end = last ? body.length : offset + CHUNK + TAG;
    nonce.writeUIntBE(index, 5, 6); // an 11-byte big-endian counter (its top bytes stay 0 here)
    nonce[11] = last ? 1 : 0;
    const plain = chacha20Poly1305Open(streamKey, nonce, body.subarray(offset, end));
    if (last && plain.length === 0 && index > 0) throw new Error('age final chunk is empty');
    chunks.push(plain);
    offset = end;
    if (last) return Buffer.concat(chunks);
  }
}
