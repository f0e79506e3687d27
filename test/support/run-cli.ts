// Runs the CLI in-process (runCli) from the project root with a given environment and captures what it prints.
import { runCli } from '../../src/cli/main.js';
import { projectRoot } from './tools.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCoffre(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, cwd: projectRoot });
  return { code, stdout, stderr };
}
