#!/usr/bin/env node
// The coffre executable: hands argv and the real process streams to the compiled CLI. It runs the start-up
// bundle dist/cli/main.js (scripts/bundle.mjs, part of `npm run build`: the same compiled code in a few files,
// about twice as fast to start). In a checkout (tsconfig.json beside dist/), only while no dist/src file it
// was built from is newer than it: after a build by `tsc` alone, dist/src/cli/main.js itself. An installed
// package (npm, the Docker image) has no tsconfig.json: its dist/ was built at once (and npm gives extracted
// files their extraction time, so times say nothing there).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

function bundleIsFresh() {
  try {
    const root = fileURLToPath(new URL('../', import.meta.url));
    const stamp = `${root}dist/cli/inputs.json`;
    const built = statSync(stamp).mtimeMs;
    if (!existsSync(`${root}tsconfig.json`)) return true;
    const inputs = JSON.parse(readFileSync(stamp, 'utf8'));
    return inputs.length > 0 && inputs.every((file) => statSync(root + file).mtimeMs <= built);
  } catch {
    return false;
  }
}

// A render fsyncs every file it writes; the services rendering side by side wait on libuv's thread pool, whose
// 4 default threads would queue those fsyncs (600 files: ~0.6 s instead of ~0.3 s). Read when the pool starts,
// i.e. on the first asynchronous file operation, which comes after this line. An explicit setting is kept.
process.env.UV_THREADPOOL_SIZE ??= '16';

// Peak memory: V8 lets the old generation grow to 1.1–4× what survived its last full collection before the
// next one; a check or render of thousands of files (short-lived answers, reports) then peaks ~20 MB above
// what it needs. At most 1.5× keeps `check`/`render --all` of 2 000 services under 150 MB (bench/growth.ts),
// for a few more short collections. Set here, before any allocation worth collecting: the limit is computed
// at each full collection, so a flag set later would only apply from the second one.
v8.setFlagsFromString('--heap-growing-percent=50');
// The young generation: V8 doubles it as objects survive, up to 32 MB (2 × 16 MB semi-spaces), and a check
// or render of thousands of sops files keeps enough alive meanwhile (answers in flight, the report) to reach
// that. It stops growing at 8 MB here: after each collection the growth factor is set to 1 once that size is
// reached. 2 000 sops services (bench/sops-scale.ts): check peaked at 185-188 MB, now 138-140 MB; render --all
// 158-163, now 131-132 MB; the same CPU time (3 interleaved rounds; the sops threads' own cap included). V8
// resets the factor to 2 whenever it creates an isolate (a worker thread), so the sops decryption threads call
// this again once started (src/sources/sops-pool.ts finds it under the symbol below). A run that reads no sops
// file lifts the cap once discovery has shown it (see `discovered` below): for Vault-backed files the smaller
// young generation only meant more collections, ~0.5 s more CPU of 7.7 s at 2 000 services unchanged, for a
// peak (118-132 MB uncapped) already under the 150 MB target.
const YOUNG_GENERATION_CAP = 8 * 1024 * 1024;
function capYoungGeneration() {
  const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  v8.setFlagsFromString(`--semi-space-growth-factor=${newSpace !== undefined && newSpace.space_size >= YOUNG_GENERATION_CAP ? 1 : 2}`);
}
globalThis[Symbol.for('coffre.capYoungGeneration')] = capYoungGeneration;
const youngGenerationWatch = new PerformanceObserver(capYoungGeneration);
youngGenerationWatch.observe({ entryTypes: ['gc'] });

// CPU: a run is short, and V8's optimizing compiler (TurboFan, on background threads) spent about a quarter of
// the CPU of a 200-service `render --all` (perf, on-CPU samples) compiling functions the run then hardly used.
// A 4× interrupt budget lets a function run 4× longer in baseline code before it is optimized: measured on
// 2 cores under load, interleaved, medians, against the default in the same session: 200 services unchanged
// 1.86 → 1.45 s CPU, fresh 3.53 → 2.99 s; the demo check 0.46 → 0.44 s. Hot loops still reach TurboFan, only
// later, which a large run pays for, mostly in discovery (2 000 Vault-backed services unchanged: 7.82 s CPU
// with the default budget from the start, 8.09 with 4×, 5 interleaved rounds): once discovery has found many
// service folders, and before it reads them, the default comes back.
const DEFAULT_INTERRUPT_BUDGET = 66 * 1024;
const LARGE_RUN_SERVICES = 500;
v8.setFlagsFromString(`--interrupt-budget=${4 * DEFAULT_INTERRUPT_BUDGET}`);

// What discovery found (src/use-cases/workspace.ts tells): the two settings above are for short runs and for
// sops files; a run that has neither gets V8's defaults back for the rest of its work. The process's first
// discovery decides: `coffre serve` discovers the whole repo at start, then one service per request, and a
// request must not undo (or redo, ~10 µs of flag parsing each time) what the whole repo called for.
let servicesTold = false;
globalThis[Symbol.for('coffre.servicesFound')] = ({ services }) => {
  if (servicesTold) return;
  servicesTold = true;
  if (services >= LARGE_RUN_SERVICES) v8.setFlagsFromString(`--interrupt-budget=${DEFAULT_INTERRUPT_BUDGET}`);
};
// coffre serve, once it has opened the repo and before it answers (src/cli/serve-command.ts tells): a process
// that answers requests for hours gains from optimizing early what it runs on every request. With the 4×
// budget throughout, requests 100 to 2 100 of a 200-service serve cost 3.31-3.50 ms CPU each (check of one
// service), 2.90-3.21 ms with the default from here (3 interleaved runs); its start-up keeps the 4× budget.
globalThis[Symbol.for('coffre.longRun')] = () => {
  v8.setFlagsFromString(`--interrupt-budget=${DEFAULT_INTERRUPT_BUDGET}`);
};
let discoveryTold = false;
globalThis[Symbol.for('coffre.discovered')] = ({ sopsFiles }) => {
  if (discoveryTold) return;
  discoveryTold = true;
  if (sopsFiles > 0) return;
  youngGenerationWatch.disconnect();
  v8.setFlagsFromString('--semi-space-growth-factor=2');
};

const { runCli } = await import(bundleIsFresh() ? '../dist/cli/main.js' : '../dist/src/cli/main.js');
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
