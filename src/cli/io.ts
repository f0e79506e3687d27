// What a CLI command may touch of the outside world, passed in so that tests can call commands directly.
export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width, when a TTY. */
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** What `--value-stdin` reads (process.stdin in bin/coffre.js); absent: no stdin. */
  stdin?: AsyncIterable<Buffer | string> | NodeJS.ReadableStream;
  /** How long a run goes before its progress line appears on a TTY stderr (default 1000 ms; tests use 0). */
  progressDelayMs?: number;
}

/** Colour only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(io: CliIo, stream: CliStream): boolean {
  return stream.isTTY === true && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === '') && io.env.TERM !== 'dumb';
}
