// The start-up bundle (part of `npm run build` and `prepare`, after tsc): the compiled CLI, dist/src/cli/main.js
// and everything it imports, in a few ES module files in dist/cli/ (esbuild, code splitting: each command and
// each lazily imported module stays its own chunk). Node loads ~25 files instead of ~400 (zod alone has 95),
// which roughly halves the start-up time of `coffre check` (bench/start.ts). bin/coffre.js runs it while it is
// at least as new as every dist/src file it was built from (dist/cli/inputs.json), else dist/src itself.
// Packages that only serve needs (fastify, pino…) stay external: loaded from
// node_modules as before, and pino's worker files keep their paths. Writes are atomic and skip identical
// files, so a run while tests execute the bin never shows them a half-written chunk.
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'cli');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// Bundled: what check, render and the sops codec load. Every other dependency is external. undici (coffre's
// Vault client imports its Client and connector modules only) lands in a chunk of its own, loaded on the first
// Vault read: bundled, a cold one-read `coffre check` measured 0.39-0.46 s CPU and 62 MB RSS against 0.48-0.50 s
// and 67 MB with undici loaded from node_modules (15 interleaved rounds each, 2 cores under load).
const BUNDLED = new Set(['zod', 'yaml', 'picomatch', 'p-limit', '@scure/base', 'age-encryption', 'undici']);
const external = Object.keys(manifest.dependencies).filter((name) => !BUNDLED.has(name)).flatMap((name) => [name, `${name}/*`]);

// undici's Client requires its HTTP/2 module at load, which loads node:http2 and node:tls (~25-30 ms of CPU
// on each cold Vault-reading run, measured with `require` timings on this machine). coffre's client connects with
// its own connector and allowH2: false, so no ALPN is offered and the HTTP/2 path cannot be taken: the module is
// replaced by one that refuses loudly should undici ever reach it. test/cli/lazy-start.test.ts checks that a
// Vault read loads neither built-in, and test/sources/vault-client.test.ts that reads still work.
const undiciWithoutHttp2 = {
  name: 'undici-without-http2',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) => (args.importer.replaceAll('\\', '/').endsWith('undici/lib/dispatcher/client.js') ? { path: 'undici-client-h2', namespace: 'coffre-stub' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'coffre-stub' }, () => ({
      contents: "module.exports = function connectH2 () { throw new Error('coffre: HTTP/2 is not used (allowH2 is false); undici offered it anyway') }\n",
      loader: 'js',
    }));
  },
};

const result = await build({
  plugins: [undiciWithoutHttp2],
  absWorkingDir: root,
  // The sops source's worker thread is its own entry: sops-pool.js finds it beside its chunk (dist/cli/sops-worker.js).
  entryPoints: { main: 'dist/src/cli/main.js', 'sops-worker': 'dist/src/sources/sops-worker.js' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  write: false,
  metafile: true,
  // Linked maps that chain to dist/src's own maps: `node --enable-source-maps` shows src/*.ts lines.
  sourcemap: 'linked',
  sourcesContent: false,
  external,
  // CommonJS packages in the bundle (yaml, picomatch) require Node built-ins.
  banner: { js: "import { createRequire as __coffreCreateRequire } from 'node:module'; const require = __coffreCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

mkdirSync(outdir, { recursive: true });
function writeAtomically(file, contents) {
  const temp = path.join(outdir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temp, contents);
  renameSync(temp, file);
}
function unchanged(file, contents) {
  try {
    return Buffer.compare(readFileSync(file), Buffer.from(contents)) === 0;
  } catch {
    return false;
  }
}

// Chunks first, the entry (main.js) last: a process starting meanwhile finds every chunk main.js names.
const files = [...result.outputFiles].sort((a, b) => Number(path.basename(a.path) === 'main.js') - Number(path.basename(b.path) === 'main.js'));
for (const file of files) if (!unchanged(file.path, file.contents)) writeAtomically(file.path, file.contents);

// The package each output holds, for test/cli/lazy-start.test.ts, and the dist/src files it was built from.
const inputs = Object.keys(result.metafile.inputs).filter((input) => input.startsWith('dist/src/')).sort();
writeAtomically(path.join(outdir, 'meta.json'), `${JSON.stringify(result.metafile.outputs)}\n`);
// Written last and always: its mtime is the build time bin/coffre.js compares the inputs with.
writeAtomically(path.join(outdir, 'inputs.json'), `${JSON.stringify(inputs)}\n`);

// Files of earlier builds (chunk names are content hashes).
const current = new Set([...files.map((file) => path.basename(file.path)), 'meta.json', 'inputs.json']);
for (const name of readdirSync(outdir)) if (!current.has(name) && !name.startsWith('.')) rmSync(path.join(outdir, name), { force: true });
