// Reads a repo text file (coffre.yaml, a compose file, a project .env) with a size cap, so a huge file in an
// untrusted repo is a named refusal instead of a process that parses gigabytes. Reads files only.
import { open } from 'node:fs/promises';

/** Size caps of the repo files coffre parses (bytes); far above any hand-written file. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
export const MAX_COMPOSE_BYTES = 4 * 1024 * 1024;
export const MAX_DOTENV_BYTES = 1024 * 1024;

/** Thrown by {@link readBoundedText} for a file over its cap; `code` is `EFBIG` like other read failures. */
export class FileTooLargeError extends Error {
  readonly code = 'EFBIG';
  constructor(
    readonly file: string,
    readonly maxBytes: number,
  ) {
    super(`${file} is larger than ${maxBytes} bytes`);
  }
}

/** The UTF-8 text of `file`, or FileTooLargeError when it holds more than `maxBytes` (counted while reading). */
export async function readBoundedText(file: string, maxBytes: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // Sized by the file (a compose file or an example is a few hundred bytes): 64 KiB per read, twice per
    // file, made a check of thousands of files churn through a gigabyte of buffers (peak RSS).
    let next = Math.min((await handle.stat()).size, maxBytes) + 1;
    for (;;) {
      const chunk = Buffer.allocUnsafe(next);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      // A short read is the end, normally: probe it with one byte, not another 64 KiB.
      next = bytesRead < chunk.length ? 1 : 64 * 1024;
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(file, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A short reason for a failed read, for `cannot read X: …` messages (never the content). */
export function describeReadError(error: unknown): string {
  if (error instanceof FileTooLargeError) return `larger than ${error.maxBytes} bytes, refused`;
  return (error as NodeJS.ErrnoException).code ?? 'error';
}
