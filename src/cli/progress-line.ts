// The progress line of long CLI runs: on a TTY stderr only, after the run has lasted `delayMs`, one line
// (`coffre check: 12/60 services, waiting on apps/wiki`) redrawn in place with \r and cleared at the end.
import type { RunProgress } from '../use-cases/progress.js';
import type { CliIo } from './io.js';

/** How long a run goes before the progress line appears (short runs never show it). */
export const PROGRESS_DELAY_MS = 1000;

export interface ProgressLine {
  update(progress: RunProgress): void;
  /** Clears the line (if drawn); call before printing the report. */
  end(): void;
}

/** A progress line on `io.stderr`, or a silent one when stderr is not a TTY or `enabled` is false. */
export function progressLine(io: CliIo, label: string, enabled: boolean): ProgressLine {
  if (!enabled || io.stderr.isTTY !== true || io.env.TERM === 'dumb') return { update: () => {}, end: () => {} };
  const started = Date.now();
  const delay = io.progressDelayMs ?? PROGRESS_DELAY_MS;
  const width = Math.max(20, (io.stderr.columns ?? 80) - 1);
  let drawn = false;
  let last: RunProgress | null = null;
  const draw = ({ done, total, running }: RunProgress): void => {
    let text = `coffre ${label}: ${done}/${total} services${running !== null && done < total ? `, waiting on ${running}` : ''}`;
    if (text.length > width) text = `${text.slice(0, width - 1)}…`;
    io.stderr.write(`\r${text}\u001b[K`);
    drawn = true;
  };
  // A run stuck on one slow service still shows its line once the delay is over.
  const timer = delay > 0 ? setTimeout(() => last !== null && draw(last), delay) : undefined;
  timer?.unref();
  return {
    update(progress) {
      last = progress;
      if (Date.now() - started >= delay) draw(progress);
    },
    end() {
      if (timer !== undefined) clearTimeout(timer);
      if (drawn) io.stderr.write('\r\u001b[K');
      drawn = false;
    },
  };
}
