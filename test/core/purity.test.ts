// Holds the design rule that src/core is pure: no file system, network, process, or outer-layer imports.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../support/tools.js';

const coreDir = path.join(projectRoot, 'src', 'core');
const forbiddenImport = /from\s+['"](?:node:)?(?:fs|fs\/promises|net|http|https|http2|tls|dgram|dns|child_process|worker_threads)['"]|from\s+['"](?:fastify|node-vault|pino|age-encryption)['"]|from\s+['"]\.\.\/(?:sources|sops|repo|render|use-cases|http|cli)\/(?!secret-source\.js)/;

t.test('core modules import no I/O, no process and nothing from outer layers', async (t) => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith('.ts'));
  t.ok(files.includes('env-file.ts'), 'finds the core sources');
  for (const file of files) {
    const text = readFileSync(path.join(coreDir, file), 'utf8');
    t.notMatch(text, forbiddenImport, `${file} imports nothing forbidden`);
    t.notMatch(text, /\bprocess\.(?:env|argv|exit|stdout|stderr|cwd)\b/, `${file} does not touch process`);
  }
});
