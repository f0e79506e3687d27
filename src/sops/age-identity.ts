// Age identities given to coffre explicitly (SOPS_AGE_KEY text, a key file): parsing and validation.
// No key discovery: never reads ~/.ssh or key files on its own, never runs a command. The secret text
// never leaves this module except into node:crypto and age-encryption, and never into a message.
// age-encryption (every noble curve and ML-KEM: slow to load) is imported only for post-quantum keys.
import { bech32 } from '@scure/base';
import { CoffreError } from '../errors.js';
import type { AgeHeader } from './age-file.js';
import { NativeX25519Identity } from './native-x25519.js';

export type AgeIdentityKind = 'x25519' | 'hybrid';

const secrets = new WeakMap<AgeIdentity, string>();
/**
 * X25519 keys unwrap through node:crypto (see native-x25519.ts). Importing a key costs more than an unwrap,
 * and coffre serve parses the same key files for every request, so keys are built once per key text
 * (bounded: a process holds a handful of identities).
 */
const nativeIdentities = new Map<string, NativeX25519Identity>();
const MAX_NATIVE_IDENTITIES = 64;

function nativeIdentityOf(secret: string): NativeX25519Identity {
  let native = nativeIdentities.get(secret);
  if (native === undefined) {
    native = new NativeX25519Identity(secret);
    if (nativeIdentities.size >= MAX_NATIVE_IDENTITIES) nativeIdentities.delete(nativeIdentities.keys().next().value as string);
    nativeIdentities.set(secret, native);
  }
  return native;
}

/** One age identity. Printing or serialising it shows only its kind and origin, never the key. */
export class AgeIdentity {
  constructor(
    readonly kind: AgeIdentityKind,
    /** Where it came from, e.g. `SOPS_AGE_KEY` or a key file path. */
    readonly origin: string,
    /** 1-based line in its origin. */
    readonly line: number,
    secret: string,
  ) {
    secrets.set(this, secret);
  }

  /**
   * The file key of an age header if one of its stanzas is addressed to this identity, else null. X25519
   * unwraps with node:crypto; a post-quantum key hands the header to age-encryption (which also checks the
   * header MAC). Throws on a malformed stanza of this identity's type.
   */
  async unwrapFileKey(header: AgeHeader): Promise<Uint8Array | null> {
    const secret = secrets.get(this) as string;
    if (this.kind === 'x25519') return nativeIdentityOf(secret).unwrapFileKey(header.stanzas);
    if (!header.stanzas.some((stanza) => stanza.args[0] === 'mlkem768x25519')) return null;
    const { Decrypter } = await import('age-encryption');
    const decrypter = new Decrypter();
    decrypter.addIdentity(secret);
    try {
      return await decrypter.decryptHeader(header.header);
    } catch {
      return null;
    }
  }

  /** The identity's recipient (`age1…` / `age1pq1…`). */
  async recipient(): Promise<string> {
    const secret = secrets.get(this) as string;
    if (this.kind === 'x25519') return nativeIdentityOf(secret).recipient;
    const { identityToRecipient } = await import('age-encryption');
    return identityToRecipient(secret);
  }

  toString(): string {
    return `age ${this.kind} identity (${this.origin}:${this.line})`;
  }

  toJSON(): { kind: AgeIdentityKind; origin: string; line: number } {
    return { kind: this.kind, origin: this.origin, line: this.line };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AgeIdentity <${this.toString()}>`;
  }
}

/**
 * Parses age identities: `AGE-SECRET-KEY-1…` (X25519) and `AGE-SECRET-KEY-PQ-1…` (ML-KEM-768 + X25519
 * hybrid), separated by whitespace or newlines; empty lines and lines starting with `#` are skipped.
 * A bad token throws COFFRE_AGE_IDENTITY_INVALID naming `origin` and the line, never the key text.
 */
export function parseAgeIdentities(text: string, origin: string): AgeIdentity[] {
  const identities: AgeIdentity[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((rawLine, index) => {
      const line = rawLine.trim();
      if (line === '' || line.startsWith('#')) return;
      for (const token of line.split(/\s+/)) {
        const where = `${origin}:${index + 1}`;
        let kind: AgeIdentityKind;
        if (token.startsWith('AGE-SECRET-KEY-PQ-1')) kind = 'hybrid';
        else if (token.startsWith('AGE-SECRET-KEY-1')) kind = 'x25519';
        else if (token.startsWith('AGE-PLUGIN-')) {
          throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `${where}: age plugin identities are not supported`, { file: origin, line: index + 1 });
        } else {
          throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `${where}: not an age identity (expected AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…)`, {
            file: origin,
            line: index + 1,
          });
        }
        try {
          // Validates the bech32 encoding and the key length. X25519 keys go through the (cached) native
          // import, which a server parsing the same key file per request would otherwise repeat; a
          // post-quantum key is checked as age-encryption's HybridIdentity does (32-byte seed).
          if (kind === 'x25519') nativeIdentityOf(token);
          else {
            const { prefix, bytes } = bech32.decodeToBytes(token);
            if (prefix.toUpperCase() !== 'AGE-SECRET-KEY-PQ-' || bytes.length !== 32) throw new Error('invalid identity');
          }
        } catch {
          throw new CoffreError('COFFRE_AGE_IDENTITY_INVALID', `${where}: malformed age ${kind === 'hybrid' ? 'post-quantum ' : ''}identity (bad encoding or checksum)`, {
            file: origin,
            line: index + 1,
          });
        }
        identities.push(new AgeIdentity(kind, origin, index + 1, token));
      }
    });
  return identities;
}

/**
 * What a worker thread of this process needs to rebuild `identities` (src/sources/sops-pool.ts): kind,
 * origin, line and the key text. In-process only (structured clone to a worker): never log or write it.
 */
export interface TransferableAgeIdentity {
  kind: AgeIdentityKind;
  origin: string;
  line: number;
  secret: string;
}

export function transferableIdentities(identities: readonly AgeIdentity[]): TransferableAgeIdentity[] {
  return identities.map((identity) => ({ kind: identity.kind, origin: identity.origin, line: identity.line, secret: secrets.get(identity) as string }));
}

/** The identities {@link transferableIdentities} described, in a worker thread. */
export function identitiesFromTransfer(list: readonly TransferableAgeIdentity[]): AgeIdentity[] {
  return list.map((item) => new AgeIdentity(item.kind, item.origin, item.line, item.secret));
}
