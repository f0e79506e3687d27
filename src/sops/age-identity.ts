// Age identities given to coffre explicitly (SOPS_AGE_KEY text, a key file): parsing and validation.
// No key discovery: never reads ~/.ssh or key files on its own, never runs a command. The secret text
// never leaves this module except into age-encryption, and never into a message.
import { Decrypter } from 'age-encryption';
import { CoffreError } from '../errors.js';
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

  /** Hands the key to an age-encryption Decrypter (the only way the key leaves this module). */
  addTo(decrypter: Decrypter): void {
    const secret = secrets.get(this) as string;
    decrypter.addIdentity(this.kind === 'x25519' ? nativeIdentityOf(secret) : secret);
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

/** The secret text of an identity, for modules of the sops codec that must derive from it (the recipient). */
export function ageIdentitySecret(identity: AgeIdentity): string {
  return secrets.get(identity) as string;
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
          // import, which a server parsing the same key file per request would otherwise repeat.
          if (kind === 'x25519') nativeIdentityOf(token);
          else new Decrypter().addIdentity(token);
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
