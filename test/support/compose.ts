// The pinned Docker Compose v2 binary (scripts/tools.env, installed into .tools/ by scripts/install-tools.sh),
// the oracle of every compose test, run with no caller's environment or docker config leaking in.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './tools.js';

const exec = promisify(execFile);

export const composeBinary = path.join(projectRoot, '.tools', 'bin', 'docker-compose');

/** The only variables compose sees, plus `extra` (a test's own `${VAR}`s). */
export function composeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', DOCKER_CONFIG: '/nonexistent', ...extra };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ComposeModel = any;

/** `docker compose [args] config --format json` in `cwd`: the model compose would run. */
export async function composeConfig(cwd: string, args: string[] = []): Promise<ComposeModel> {
  const { stdout } = await exec(composeBinary, [...args, 'config', '--format', 'json'], { cwd, env: composeEnv(), maxBuffer: 1 << 26 });
  return JSON.parse(stdout);
}
