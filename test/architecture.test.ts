// Holds the layering of DESIGN.md: imports point inward (http, cli → use-cases → sources, render, repo →
// core), the sops codec is imported by sources only, undici by one module (node-vault by none), and only the CLI touches
// `process` (the render exceptions are listed with their reasons).
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

/**
 * DESIGN.md's rings, innermost first: `http`, `cli` → `use-cases` → `sources`, `render`, `repo` → `core`, with
 * the sops codec between sources and core (sources/ is its only importer). A layer may import any layer of a
 * lower ring (besides itself, errors.ts and node/npm modules), except the codec, which only `sources` imports.
 */
const rings: Record<string, number> = { core: 0, sops: 1, sources: 2, render: 2, repo: 2, 'use-cases': 3, http: 4, cli: 4 };
const onlyImportedBy: Record<string, string> = { sops: 'sources' };

/** Imports the rings forbid, each kept on purpose: `from-file → target module` with the reason. */
const importExceptions: Record<string, string> = {
  'cli/serve-command.ts → http/app': '`coffre serve` is the CLI starting the HTTP shell: it builds the app',
  'cli/serve-command.ts → http/logger': 'the one pino logger is created at the edge that starts the server',
  'cli/serve-command.ts → http/metrics': "the app's metrics are created at the edge: the Vault session, opened before the app, reports into them",
  'cli/serve-command.ts → http/server': 'the CLI listens and hands `process` to closeOnSignals',
  'cli/serve-command.ts → http/request-origin': '--allowed-host and --trust-proxy are parsed once at the edge, then passed to buildApp',
  'cli/serve-command.ts → http/token-registry': 'the tokens file is parsed once at the edge, then passed to buildApp',
  'cli/token-command.ts → http/token-registry': '`coffre token new` mints an entry of the tokens file the HTTP shell reads',
};

function mayImport(layer: string, targetLayer: string): boolean {
  const owner = onlyImportedBy[targetLayer];
  if (owner !== undefined) return owner === layer;
  return rings[targetLayer] !== undefined && rings[targetLayer]! < rings[layer]!;
}

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
    t.ok(rings[layer] !== undefined, `${layer} is a known layer`);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
      const target = path.relative(srcDir, path.resolve(path.dirname(file), match[1] as string)).split(path.sep).join('/').replace(/\.js$/, '');
      const targetLayer = target.split('/')[0] as string;
      if (targetLayer === layer || target === 'errors') continue;
      const permitted = mayImport(layer, targetLayer) || importExceptions[`${rel} → ${target}`] !== undefined;
      t.ok(permitted, `${rel} → ${target}`);
    }
  }
});

t.test('every import exception is still needed', async (t) => {
  for (const exception of Object.keys(importExceptions)) {
    const [from, target] = exception.split(' → ') as [string, string];
    const text = readFileSync(path.join(srcDir, from), 'utf8');
    const specifier = path.posix.relative(path.posix.dirname(from), target);
    t.ok(text.includes(`'${specifier.startsWith('.') ? specifier : `./${specifier}`}.js'`), `${exception} is imported`);
  }
});

/**
 * Modules besides cli/ that may touch `process`, with the members each uses and why. Everything else gets
 * what it needs from the process injected by the CLI (env, cwd, stdout/stderr, signals).
 */
const processExceptions: Record<string, { members: string[]; reason: string }> = {
  'render/git-command.ts': { members: ['env'], reason: "git's fixed environment takes PATH (and, for the safe.directory lookup only, HOME) from the process" },
  'render/render-lock.ts': { members: ['pid'], reason: "a lock records its holder's own pid (the lock protocol's identity, not an input)" },
  'render/stale-temps.ts': { members: ['pid'], reason: "a temp file name carries its writer's own pid, so a crashed writer's temps can be told apart" },
  'render/process-liveness.ts': { members: ['kill'], reason: 'kill(pid, 0) is the only portable liveness probe of a lock holder; it sends nothing' },
  'render/target-safety.ts': {
    members: ['geteuid', 'getegid', 'getgroups'],
    reason: "which owner/group the writer can give a target is a fact of this very process (checked before any secret is read)",
  },
};

t.test('undici is imported by sources/vault-transport.ts only, node-vault by no module; process is touched by the CLI shell only', async (t) => {
  for (const file of files) {
    const rel = path.relative(srcDir, file).split(path.sep).join('/');
    const text = withoutComments(readFileSync(file, 'utf8'));
    t.notMatch(text, /(?:from\s+|import\()'node-vault/, `${rel} imports node-vault (a test-only cross-check now)`);
    if (/(?:from\s+|import\()'undici/.test(text) && !rel.endsWith('.d.ts')) t.equal(rel, 'sources/vault-transport.ts', `${rel} imports undici`);
    if (rel.startsWith('cli/')) continue;
    t.notMatch(text, /from\s+'(?:node:)?process'|globalThis\.process|\bprocess\s*\[/, `${rel} reaches process another way`);
    const members = [...new Set([...text.matchAll(/\bprocess\s*\??\.\s*(\w+)/g)].map((m) => m[1]!))].sort();
    t.same(members, [...(processExceptions[rel]?.members ?? [])].sort(), `${rel} touches process only as listed`);
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
