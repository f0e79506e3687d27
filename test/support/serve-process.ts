// Runs the built `coffre serve` binary as a child process for tests: waits for its listening line, collects
// its output, and kills it at teardown if the test did not stop it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Test } from 'tap';
import { projectRoot } from './tools.js';

export interface ServeProcess {
  url: string;
  /** Output so far (read after `exited` for all of it). */
  output(): { stdout: string; stderr: string };
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `coffre serve <args>` (add `--listen 127.0.0.1:0`) with exactly `env` (plus PATH); `nodeArgs` go to node first. */
export async function startServeProcess(t: Test, args: string[], env: Record<string, string | undefined>, nodeArgs: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(projectRoot, 'bin', 'coffre.js'), 'serve', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /"url":"(https?:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    url,
    output: () => ({ stdout, stderr }),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
