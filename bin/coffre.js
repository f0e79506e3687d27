#!/usr/bin/env node
// The coffre executable: hands argv and the real process streams to the compiled CLI.
import { runCli } from '../dist/src/cli/main.js';

const exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  // A getter: process.stdin is only created when a command (--value-stdin) reads it.
  get stdin() {
    return process.stdin;
  },
});
process.exitCode = exitCode;
