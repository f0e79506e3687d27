// Reading a secret typed on a terminal: the prompt on stderr, the terminal in raw mode so nothing is echoed,
// the value typed twice when asked (a mismatch writes nothing). Ctrl-C / Ctrl-D cancel. Never echoes a value.
import { StringDecoder } from 'node:string_decoder';
import { CoffreError } from '../errors.js';
import type { CliStream } from './io.js';

/** A terminal input: what process.stdin is when it is a TTY (tests pass a fake). */
export interface TerminalInput extends AsyncIterable<Buffer | string> {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  pause?(): unknown;
}

/** True when `stdin` is a terminal (a human types the value). */
export function isTerminalInput(stdin: unknown): stdin is TerminalInput {
  return typeof stdin === 'object' && stdin !== null && (stdin as TerminalInput).isTTY === true;
}

/**
 * Shows each prompt on `stderr` and reads one line per prompt with echo off; returns the lines. Backspace
 * erases, Enter ends a line, Ctrl-C or Ctrl-D (on an empty line) cancels with COFFRE_USAGE. At most
 * `maxBytes` per line. The terminal is put back in cooked mode whatever happens.
 */
export async function readHiddenLines(stdin: TerminalInput, stderr: CliStream, prompts: readonly string[], maxBytes: number): Promise<string[]> {
  if (typeof stdin.setRawMode !== 'function') {
    throw new CoffreError('COFFRE_USAGE', '--value-stdin: the terminal cannot turn echo off; pipe the value in instead');
  }
  const iterator = stdin[Symbol.asyncIterator]();
  const decoder = new StringDecoder('utf8');
  const lines: string[] = [];
  let pending = '';
  stdin.setRawMode(true);
  try {
    for (const prompt of prompts) {
      stderr.write(prompt);
      let line = '';
      for (;;) {
        if (pending === '') {
          const next = await iterator.next();
          if (next.done) throw cancelled(stderr);
          pending = typeof next.value === 'string' ? next.value : decoder.write(next.value);
          continue;
        }
        // Code points, so that a backspace erases a whole character.
        const [char = ''] = pending;
        pending = pending.slice(char.length);
        if (char === '\r' || char === '\n') break;
        if (char === '\u0003' || (char === '\u0004' && line === '')) throw cancelled(stderr);
        if (char === '\u007f' || char === '\b') {
          line = [...line].slice(0, -1).join('');
          continue;
        }
        if (char === '\u0004') continue;
        line += char;
        if (Buffer.byteLength(line) > maxBytes) throw new CoffreError('COFFRE_USAGE', '--value-stdin: the value is larger than 1 MiB');
      }
      stderr.write('\n');
      lines.push(line);
      // A CRLF pair (or a pasted LF after CR) ends one line, not two.
      if (pending.startsWith('\n')) pending = pending.slice(1);
    }
    return lines;
  } finally {
    stdin.setRawMode(false);
    // Let go of the terminal (a pending read would keep the process alive); stdin is not read again.
    await iterator.return?.();
    stdin.pause?.();
  }
}

function cancelled(stderr: CliStream): CoffreError {
  stderr.write('\n');
  return new CoffreError('COFFRE_USAGE', '--value-stdin: cancelled, nothing written');
}
