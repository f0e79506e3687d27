// Reads a repo text file (coffre.yaml, a compose file, a project .env) with a size cap, so a huge file in an
// untrusted repo is a named refusal instead of a process that parses gigabytes. Reads files only.
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
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
  if (error instanceof NotRegularFileError) return 'not a regular file, refused';
  return (error as NodeJS.ErrnoException).code ?? 'error';
}

/** Thrown by {@link readBoundedTextSync} for a FIFO, socket or device: reading one could block or never end. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly file: string) {
    super(`${file} is not a regular file`);
  }
}

/**
 * {@link readBoundedText} for the small files of the repo (compose files, `.env`s), read on the main thread:
 * a few microseconds instead of a round trip through the thread pool per call. The open never blocks
 * (O_NONBLOCK: a FIFO without a writer would hang a plain open), and what the opened descriptor is, is checked
 * before any read: a FIFO, socket or device is refused (NotRegularFileError); a folder fails with EISDIR as the
 * async read does. Symlinks are followed, as by readBoundedText. Size capped while reading (the file may grow).
 */
export function readBoundedTextSync(file: string, maxBytes: number): string {
  const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() && !stats.isDirectory()) throw new NotRegularFileError(file);
    // One read for the usual file: its size plus one byte, to see the end in the same call.
    let buffer = Buffer.allocUnsafe(Math.min(Math.max(stats.size, 0), maxBytes) + 1);
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      const bytesRead = readSync(fd, buffer, total, buffer.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(file, maxBytes);
    }
    return buffer.toString('utf8', 0, total);
  } finally {
    closeSync(fd);
  }
}
