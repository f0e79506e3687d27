// Test helper for the Vault source tests: awaits a CoffreError with a given code and proves its message is
// one line and names no planted secret value or token. Not a test file itself.
import type { Test } from 'tap';
import { CoffreError } from '../../src/errors.js';

/** Awaits a rejection with `code`; checks it is one line, holds none of `secrets`, and carries no raw cause. */
export async function expectCoffreError(t: Test, promise: Promise<unknown>, code: string, secrets: string[]): Promise<CoffreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof CoffreError)) {
    t.fail(`expected CoffreError ${code}, got ${error === undefined ? 'a result' : String(error)}`);
    return new CoffreError('COFFRE_INTERNAL', 'no error');
  }
  t.equal(error.code, code, `code ${code} (message: ${error.message})`);
  t.notOk(error.message.includes('\n'), 'one-line message');
  t.ok(secrets.every((s) => s === '' || !error.message.includes(s)), 'message holds no secret value or token');
  t.equal(error.cause, undefined, 'no raw cause attached (it could hold request headers or bodies)');
  return error;
}
