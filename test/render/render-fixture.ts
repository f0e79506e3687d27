// Shared fixtures of the render tests: throwaway git repos made with the real git binary, and a look at
// the temp files the writer may leave. Touches only directories the tests created.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { isCoffreError, type ErrorCode } from '../../src/errors.js';

/** Runs the real git in `dir` (a test directory) and returns its stdout. */
export function git(dir: string, ...args: string[]): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GIT_')) env[name] = value;
  return execFileSync('git', ['-C', dir, ...args], { env: { ...env, LC_ALL: 'C' }, encoding: 'utf8' });
}

/** `git init` in `dir` (so the test repo, not coffre's own checkout, answers the git questions). */
export function initGitRepo(dir: string): string {
  git(dir, 'init', '-q');
  return dir;
}

/** Names of coffre temp files (`.<name>.coffre-tmp-…`) in the given directories. */
export function listTemps(...dirs: string[]): string[] {
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((entry) => entry.includes('.coffre-tmp-'))
      .map((entry) => path.join(dir, entry)),
  );
}

/** Permission bits of a mode, as the octal string tests compare (`'600'`). */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}

/** The code and message of the CoffreError `promise` rejects with; fails when it resolves. */
export async function refusal(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isCoffreError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal, got success');
}
