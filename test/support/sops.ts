// Makes real sops files for tests with the pinned sops binary and fresh age identities.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { toolPath } from './tools.js';

const run = promisify(execFile);

export interface TestAgeKey {
  identity: string;
  recipient: string;
}

export async function newAgeKey(): Promise<TestAgeKey> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/**
 * Writes `plaintext` to `file` and encrypts it in place with the real sops binary; the store follows the
 * file extension as sops decides it (.yaml/.yml, .json, .env, .ini, anything else binary).
 */
export async function writeSopsFile(file: string, plaintext: string, key: TestAgeKey): Promise<void> {
  await writeFile(file, plaintext, { mode: 0o600 });
  await run(toolPath('sops'), ['encrypt', '--age', key.recipient, '--in-place', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: key.identity },
  });
}
