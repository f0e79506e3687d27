// Progress of a run over services (check, render), reported to an optional listener: how many services are
// done, of how many, and the oldest one still running. Names only; the listener decides whether to show it.

/** One progress step. `running`: the oldest service started and not finished (null when none runs). */
export interface RunProgress {
  done: number;
  total: number;
  running: string | null;
}

export type ProgressListener = (progress: RunProgress) => void;

/** Tracks services starting and finishing and tells `listener` (if any) after each step. */
export function trackProgress(total: number, listener: ProgressListener | undefined): { started(name: string): void; finished(name: string): void } {
  let done = 0;
  const running: string[] = [];
  const tell = (): void => listener?.({ done, total, running: running[0] ?? null });
  return {
    started(name) {
      running.push(name);
      tell();
    },
    finished(name) {
      const index = running.indexOf(name);
      if (index !== -1) running.splice(index, 1);
      done++;
      tell();
    },
  };
}
