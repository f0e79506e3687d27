// The sops data key: unwrapping it from the armored age files of the metadata with the identities given
// (every identity tried on every age entry; Shamir recombination for several key groups). Never searches
// for keys on its own. The age files are read by age-file.ts (node:crypto), not age-encryption.
import { CoffreError } from '../errors.js';
import { decodeAgeArmor, decryptAgePayload, parseAgeHeader } from './age-file.js';
import type { AgeIdentity } from './age-identity.js';
import type { AgeKeyEntry, KeyGroup, SopsMetadata } from './metadata.js';
import { combineShamirParts } from './shamir.js';

const recipientCache = new WeakMap<AgeIdentity, Promise<string | undefined>>();

function recipientOf(identity: AgeIdentity): Promise<string | undefined> {
  let recipient = recipientCache.get(identity);
  if (recipient === undefined) {
    recipient = identity.recipient().catch(() => undefined);
    recipientCache.set(identity, recipient);
  }
  return recipient;
}

/** Tries one armored age file with all identities; undefined when none unwraps it. */
async function unwrapAgeEntry(entry: AgeKeyEntry, identities: AgeIdentity[]): Promise<Uint8Array | undefined> {
  try {
    const header = parseAgeHeader(decodeAgeArmor(entry.enc));
    for (const identity of identities) {
      const fileKey = await identity.unwrapFileKey(header);
      // The first identity that unwraps decides, as with age's Decrypter: a bad MAC or payload is no key.
      if (fileKey !== null) return new Uint8Array(decryptAgePayload(fileKey, header));
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The group's data key (or Shamir part): entries addressed to one of our identities are tried first. */
async function unwrapGroup(group: KeyGroup, identities: AgeIdentity[], ours: Set<string>): Promise<Uint8Array | undefined> {
  const ordered = [...group.age.filter((e) => ours.has(e.recipient)), ...group.age.filter((e) => !ours.has(e.recipient))];
  for (const entry of ordered) {
    const key = await unwrapAgeEntry(entry, identities);
    if (key !== undefined) return key;
  }
  return undefined;
}

function recipientsOf(metadata: SopsMetadata): string[] {
  return metadata.keyGroups.flatMap((g) => [...g.age.map((e) => `age ${e.recipient}`), ...g.others]);
}

/**
 * Unwraps the 32-byte data key. Throws COFFRE_SOPS_NO_KEY, listing the file's recipients (public keys
 * only), when no identity fits, and COFFRE_SOPS_UNSUPPORTED when the file has no age recipient at all.
 */
export async function unwrapDataKey(metadata: SopsMetadata, identities: AgeIdentity[], file: string): Promise<Uint8Array> {
  if (metadata.keyGroups.every((g) => g.age.length === 0) && metadata.keyGroups.some((g) => g.others.length > 0)) {
    throw new CoffreError(
      'COFFRE_SOPS_UNSUPPORTED',
      `${file}: the sops data key is wrapped only for ${recipientsOf(metadata).join(', ')}; coffre unwraps age keys only`,
      { file },
    );
  }
  const ours = new Set((await Promise.all(identities.map(recipientOf))).filter((r): r is string => r !== undefined));
  const noKey = (detail: string): CoffreError =>
    new CoffreError(
      'COFFRE_SOPS_NO_KEY',
      `${file}: ${detail}; the file is encrypted to: ${recipientsOf(metadata).join(', ') || '(no recipients)'}` +
        (identities.length === 0 ? ' (no age identity was given)' : ` (${identities.length} age identit${identities.length === 1 ? 'y' : 'ies'} tried)`),
      { file },
    );
  let key: Uint8Array | undefined;
  if (metadata.keyGroups.length <= 1) {
    const group = metadata.keyGroups[0];
    key = group && (await unwrapGroup(group, identities, ours));
    if (key === undefined) throw noKey('no age identity given can unwrap the sops data key');
  } else {
    const parts: Uint8Array[] = [];
    for (const group of metadata.keyGroups) {
      if (parts.length >= metadata.shamirThreshold) break;
      const part = await unwrapGroup(group, identities, ours);
      if (part !== undefined) parts.push(part);
    }
    if (parts.length < metadata.shamirThreshold) {
      throw noKey(`only ${parts.length} of the ${metadata.shamirThreshold} key groups needed could be unwrapped`);
    }
    try {
      key = combineShamirParts(parts);
    } catch {
      throw new CoffreError('COFFRE_SOPS_DECRYPT', `${file}: the Shamir parts of the data key do not combine`, { file });
    }
  }
  if (key.length !== 32) throw new CoffreError('COFFRE_SOPS_DECRYPT', `${file}: the unwrapped sops data key is not 32 bytes`, { file });
  return key;
}
