// Tells whether a process that left a lock or a temp file behind is still running on this host.
// Reads /proc where it exists (to see through pid reuse); never signals anything but signal 0.
import { readFileSync } from 'node:fs';

/**
 * The kernel start time of a process (field 22 of /proc/<pid>/stat, in clock ticks since boot), or null
 * where /proc is unavailable. Together with the pid it names one process, even after the pid is reused.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * True when process `pid` exists on this host (and, when `startTime` is known and /proc can tell, is the
 * same process that recorded it). A process of another user counts as alive.
 */
export function isProcessAlive(pid: number, startTime?: string | null): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startTime) {
    const current = processStartTime(pid);
    if (current !== null && current !== startTime) return false;
  }
  return true;
}
