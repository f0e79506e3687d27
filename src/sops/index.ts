// The sops codec's public surface: parse (no key), list key names (no key), age identities, decrypt with
// MAC verification, and the writer that rotates values. File I/O stays in src/sources/sops.ts.
export { AgeIdentity, parseAgeIdentities, type AgeIdentityKind } from './age-identity.js';
export { unwrapDataKey } from './data-key.js';
export { dataKeyOf, decryptSopsFile, decryptSopsTree, envTextOf, sopsBinaryText, sopsEnvValues, type DecryptedSops } from './decrypt.js';
export { envLevelEntries, listSopsKeys, type SopsKeyListing } from './key-listing.js';
export type { AgeKeyEntry, EncryptionRule, KeyGroup, SopsMetadata } from './metadata.js';
export { parseSopsFile, sopsFormatForPath, type SopsFile } from './sops-file.js';
export { goJsonString, setSopsValues, yamlStringText, type SetSopsValuesOptions, type SetSopsValuesResult } from './set-values.js';
export * from './tree.js';
