// The module.register hooks of record-modules.ts (they run on the loader thread): each ES module loaded is
// appended, as its URL, to the log file.
import { appendFileSync } from 'node:fs';

let logFile: string | undefined;

export function initialize(data: { logFile?: string } | undefined): void {
  logFile = data?.logFile;
}

type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<unknown> {
  if (logFile !== undefined) appendFileSync(logFile, `${url}\n`);
  return nextLoad(url, context);
}
