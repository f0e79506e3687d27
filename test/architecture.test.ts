// Holds the layering of DESIGN.md: imports point inward (http, cli → use-cases → sources, render, repo →
// core), node-vault is imported by one module only, and only the CLI touches `process`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { projectRoot } from './support/tools.js';

const srcDir = path.join(projectRoot, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/** Layers each layer may import from (besides itself, errors.ts and node/npm modules). */
const allowed: Record<string, string[]> = {
  core: ['sources/secret-source'],
  sops: ['core', 'sources/secret-source'],
  sources: ['core', 'sops'],
  repo: ['core', 'sources/secret-source'],
  render: ['core'],
  'use-cases': ['core', 'sops', 'sources', 'repo', 'render'],
  http: ['core', 'use-cases', 'sources', 'repo', 'render'],
  cli: ['core', 'use-cases', 'http', 'sources', 'repo', 'render', 'sops'],
};

const files = sources(srcDir);

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

t.test('every import points inward', async (t) => {
  t.ok(files.length > 50, 'finds the sources');
  for (const file of files) {
    const rel = path.relative(srcDir, file).split(path.sep).join('/');
    const layer = rel.split('/')[0] as string;
    if (!rel.includes('/')) continue; // errors.ts
    const ok = allowed[layer];
    t.ok(ok, `${layer} is a known layer`);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
      const target = path.relative(srcDir, path.resolve(path.dirname(file), match[1] as string)).split(path.sep).join('/').replace(/\.js$/, '');
      const targetLayer = target.split('/')[0] as string;
      if (targetLayer === layer || target === 'errors') continue;
      const permitted = (ok ?? []).some((p) => target === p || targetLayer === p);
      t.ok(permitted, `${rel} → ${target}`);
    }
  }
});

t.test('node-vault is imported by sources/vault-transport.ts only; process is touched by the CLI shell only', async (t) => {
  for (const file of files) {
    const rel = path.relative(srcDir, file).split(path.sep).join('/');
    const text = withoutComments(readFileSync(file, 'utf8'));
    if (/from\s+'node-vault'/.test(text)) t.equal(rel, 'sources/vault-transport.ts', `${rel} imports node-vault`);
    // One exception: git's fixed environment takes PATH (and, for safe.directory only, HOME) from the process.
    if (/\bprocess\.(?:env|argv|exit|stdin|stdout|stderr|cwd)\b/.test(text)) t.match(rel, /^cli\/|^render\/git-command\.ts$/, `${rel} touches process`);
  }
});

t.test('only render/git-command.ts starts processes: every git run gets its fixed environment and overrides', async (t) => {
  let found = 0;
  for (const file of files) {
    const rel = path.relative(srcDir, file).split(path.sep).join('/');
    const text = withoutComments(readFileSync(file, 'utf8'));
    if (/['"](?:node:)?child_process['"]/.test(text)) {
      found += 1;
      t.equal(rel, 'render/git-command.ts', `${rel} uses child_process`);
    }
  }
  t.equal(found, 1, 'git-command.ts is the one user');
});
