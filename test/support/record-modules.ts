// A `node --import` hook for the start-up tests: writes every module the process loaded to the file named by
// COFFRE_TEST_MODULE_LOG, one absolute path or URL a line: ES modules as they load (a module.register load
// hook, record-modules-hooks.ts), and at exit the CommonJS modules (require.cache, which also holds CommonJS
// packages reached by `import`, like fastify, pino and node-vault) and Node's built-in modules, as `node:x`
// (process.moduleLoadList, which also sees built-ins reached by require()).
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const require = createRequire(import.meta.url);
const logFile = process.env.COFFRE_TEST_MODULE_LOG;
if (logFile) {
  const builtinsBefore = new Set((process as unknown as { moduleLoadList: string[] }).moduleLoadList);
  register(new URL('./record-modules-hooks.js', import.meta.url), { data: { logFile } });
  process.on('exit', () => {
    const builtins = (process as unknown as { moduleLoadList: string[] }).moduleLoadList
      .filter((entry) => !builtinsBefore.has(entry) && entry.startsWith('NativeModule ') && !entry.startsWith('NativeModule internal/'))
      .map((entry) => `node:${entry.slice('NativeModule '.length)}`);
    appendFileSync(logFile, [...Object.keys(require.cache), ...builtins].join('\n') + '\n');
  });
}
