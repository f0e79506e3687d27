// A `node --import` hook for the start-up tests: at exit, writes every CommonJS module the process loaded
// (require.cache, which also holds CommonJS packages reached by `import`, like fastify, pino and node-vault)
// to the file named by COFFRE_TEST_MODULE_LOG, one absolute path a line.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const logFile = process.env.COFFRE_TEST_MODULE_LOG;
if (logFile) process.on('exit', () => writeFileSync(logFile, Object.keys(require.cache).join('\n')));
