// An age X25519 identity whose key agreement runs in node:crypto (OpenSSL) instead of pure JS: unwrapping
// a sops data key is most of the cost of reading a sops file, and a check reads hundreds of them.
// It unwraps the file key from the stanzas age-file.ts parsed (and also fits age-encryption's Identity
// interface, which the tests compare it with). Follows the age v1 spec's X25519 recipient type exactly.
import { createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { bech32 } from '@scure/base';
import { decodeUnpaddedBase64, type AgeStanza } from './age-file.js';

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const LABEL = 'age-encryption.org/v1/X25519';
const ZERO_NONCE = Buffer.alloc(12);

/** An X25519 identity (`AGE-SECRET-KEY-1…`), computed with node:crypto. */
export class NativeX25519Identity {
  readonly #privateKey: KeyObject;
  readonly #recipient: Buffer;

  constructor(secretText: string) {
    const { prefix, bytes } = bech32.decodeToBytes(secretText.toLowerCase());
    if (prefix !== 'age-secret-key-' || bytes.length !== 32) throw new Error('not an X25519 age identity');
    this.#privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, bytes]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.#privateKey).export({ format: 'der', type: 'spki' });
    this.#recipient = spki.subarray(spki.length - 32);
  }

  /** The identity's recipient, `age1…` (what sops lists in the file's metadata). */
  get recipient(): string {
    return bech32.encodeFromBytes('age', this.#recipient);
  }

  unwrapFileKey(stanzas: readonly AgeStanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args.length < 1 || stanza.args[0] !== 'X25519') continue;
      if (stanza.args.length !== 2) throw new Error('invalid X25519 stanza');
      const share = decodeUnpaddedBase64(stanza.args[1] as string);
      if (share === null || share.length !== 32) throw new Error('invalid X25519 stanza');
      if (stanza.body.length !== 32) throw new Error('invalid X25519 stanza');
      // A JWK import: OpenSSL 3's DER decoder costs several times the key agreement itself.
      const ephemeral = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: share.toString('base64url') }, format: 'jwk' });
      const shared = diffieHellman({ privateKey: this.#privateKey, publicKey: ephemeral });
      if (shared.every((byte) => byte === 0)) throw new Error('invalid X25519 stanza');
      const wrapKey = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([share, this.#recipient]), LABEL, 32));
      const body = Buffer.from(stanza.body);
      const decipher = createDecipheriv('chacha20-poly1305', wrapKey, ZERO_NONCE, { authTagLength: 16 });
      decipher.setAuthTag(body.subarray(16));
      try {
        return new Uint8Array(Buffer.concat([decipher.update(body.subarray(0, 16)), decipher.final()]));
      } catch {
        // Addressed to another key: the spec says try the next stanza.
        continue;
      }
    }
    return null;
  }
}
