// The CoffreError a promise rejects with; anything else (a success, another error) fails the test.
import { CoffreError } from '../../src/errors.js';

export async function coffreFailure(promise: Promise<unknown>): Promise<CoffreError> {
  const error = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!(error instanceof CoffreError)) throw error;
  return error;
}
