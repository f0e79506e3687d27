// An example is read after discovery saw a regular file there; what is read then is bounded and never a FIFO or
// device swapped in meanwhile (a plain read of a FIFO blocks for ever, and a huge file would be parsed whole).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { isCoffreError } from '../../src/errors.js';
import { readExample, readExampleOf } from '../../src/repo/read-example.js';

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isCoffreError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

t.test('a FIFO or an oversized file in place of an example is refused by name, without blocking', async (t) => {
  const dir = t.testdir({});
  const fifo = path.join(dir, 'db.secrets.example');
  execFileSync('mkfifo', [fifo]);
  const fromFifo = await refusal(readExample(fifo, 'svc/db.secrets.example'));
  t.equal(fromFifo.code, 'COFFRE_EXAMPLE_MISSING');
  t.match(fromFifo.message, 'cannot read example svc/db.secrets.example: not a regular file, refused');
  const secretFifo = await refusal(readExampleOf({ format: 'secret', target: path.join(dir, 'db_password.txt'), example: fifo, exampleRel: 'svc/db_password.txt.example' }));
  t.match(secretFifo.message, 'not a regular file, refused');

  const huge = path.join(dir, 'big.secrets.example');
  writeFileSync(huge, `A=\n${'#'.repeat(1024 * 1024)}\n`);
  t.match((await refusal(readExample(huge, 'svc/big.secrets.example'))).message, /larger than \d+ bytes, refused/);
  const device = await refusal(readExample('/dev/zero', 'svc/zero.example'));
  t.match(device.message, 'not a regular file, refused');
});
