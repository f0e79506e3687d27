// What docker compose reads from env files: runs test/oracle (a small Go program over compose-go's own
// env_file loading, version pinned by test/oracle/go.mod) built on first use into dist/oracle/. Needs `go`
// on PATH and fails loudly without it; the build is cached by go itself, so later runs take a moment.
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './tools.js';

const run = promisify(execFile);

const oracleSource = path.join(projectRoot, 'test', 'oracle');
const oracleBinary = path.join(projectRoot, 'dist', 'oracle', 'compose-env-oracle');

/** What compose read from one file: key → value, or compose's error message. */
export type ComposeReading = { env: Record<string, string | null> } | { error: string };

let built: Promise<string> | null = null;

/** Builds the oracle once per process (into a temp name, then renamed: test files may build concurrently). */
export function buildComposeOracle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(path.dirname(oracleBinary), { recursive: true });
    const temp = `${oracleBinary}.${process.pid}.tmp`;
    try {
      await run('go', ['build', '-buildvcs=false', '-mod=readonly', '-o', temp, '.'], { cwd: oracleSource, env: { ...process.env } });
    } catch (error) {
      const { code, stderr } = error as { code?: string; stderr?: string };
      if (code === 'ENOENT') throw new Error('the compose env_file oracle needs Go (`go` on PATH, >= 1.24): install it to run this test');
      throw new Error(`building test/oracle failed: ${stderr ?? String(error)}`);
    }
    renameSync(temp, oracleBinary);
    return oracleBinary;
  })();
  return built;
}

/** Reads every file (absolute paths) as docker compose reads a service's `env_file`, in one process. */
export async function composeReads(files: readonly string[]): Promise<ComposeReading[]> {
  const binary = await buildComposeOracle();
  const child = execFile(binary, [], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const done = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`compose-env-oracle exited ${code}: ${stderr}`))));
  });
  child.stdin!.end(JSON.stringify(files));
  const results = JSON.parse(await done) as Array<{ env?: Record<string, string | null>; error?: string }>;
  if (results.length !== files.length) throw new Error(`compose-env-oracle answered ${results.length} of ${files.length} files`);
  return results.map((result) => {
    if (result.error !== undefined) return { error: result.error };
    const env: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(result.env ?? {})) env[key] = value === null ? null : Buffer.from(value, 'base64').toString('utf8');
    return { env };
  });
}

/** One file as compose reads it; throws compose's error. */
export async function composeRead(file: string): Promise<Record<string, string | null>> {
  const [reading] = await composeReads([file]);
  if ('error' in reading!) throw new Error(`docker compose cannot read ${file}: ${reading.error}`);
  return reading!.env;
}
