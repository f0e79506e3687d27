// Test launcher (dist/test/support/with-openbao.js): starts ONE OpenBao dev server, runs `npx tap <argv>`
// with COFFRE_TEST_BAO_ADDR/COFFRE_TEST_BAO_TOKEN in its env, stops the server, exits with tap's code.
// It owns nothing else: no test selection, no output rewriting.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { startOpenBao } from './openbao.js';
import { projectRoot } from './tools.js';

async function main(): Promise<number> {
  const server = await startOpenBao();
  process.stderr.write(`with-openbao: OpenBao dev server at ${server.address}\n`);
  try {
    const child = spawn('npx', ['tap', ...process.argv.slice(2)], {
      cwd: projectRoot,
      stdio: 'inherit',
      env: { ...process.env, COFFRE_TEST_BAO_ADDR: server.address, COFFRE_TEST_BAO_TOKEN: server.rootToken },
    });
    // Ctrl-C reaches tap through the shared terminal group; forward TERM/HUP ourselves.
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    process.on('SIGINT', () => {
      // tap receives SIGINT from the terminal too; just wait for it to finish.
    });
    return await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(`with-openbao: cannot run tap: ${error.message}\n`);
        resolve(1);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`with-openbao: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
