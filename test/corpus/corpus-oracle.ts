// The corpus oracle: what the real Docker Compose v2 (pinned in scripts/tools.env) reads in each corpus repo,
// next to what coffre resolves, and the differences between the two. Shared by test/corpus/corpus.test.ts and
// scripts/corpus-report.mjs. Compose runs on a temp copy of a repo with placeholder env files made from the
// examples (compose refuses a missing required env_file); coffre reads the pristine corpus folder, as CI would.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { defaultConfig, loadConfig, type CoffreConfig } from '../../src/repo/config.js';
import { isCoffreError } from '../../src/errors.js';
import { discoverRepo, type RepoModel, type RepoProblem } from '../../src/repo/discover.js';
import { composeBinary, composeEnv } from '../support/compose.js';
import { projectRoot } from '../support/tools.js';

const exec = promisify(execFile);

export const corpusRoot = path.join(projectRoot, 'test', 'corpus');

/** The compose file names compose finds on its own, in its order of preference. */
const COMPOSE_DEFAULT_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/**
 * Names of a committed example of the project `.env` (the file compose reads for `${VAR}` interpolation). A
 * project that interpolates variables and has one of these keeps its secrets in `.env`: a target (issue item 4).
 */
export const PROJECT_ENV_EXAMPLE_NAMES = ['.env.example', '.env.dist', '.env.sample', '.env.template', 'env.example', 'env.sample', 'example.env', '.template.env'];

/** One corpus repo's manifest (`test/corpus/<slug>/corpus.json`). */
export interface CorpusManifest {
  upstream: string;
  commit: string;
  licence: string;
  kept: string;
  /**
   * Compose projects besides the automatic ones (every folder holding compose.yaml/compose.yml/
   * docker-compose.yaml/docker-compose.yml, run from that folder without -f): `files` given with -f, in order,
   * from `dir` (the project directory is the first file's folder, as compose decides).
   */
  extraProjects?: Array<{ dir: string; files: string[]; why: string }>;
  /** Expected example of each target (repo-relative posix; an absolute target outside the repo as written by compose). */
  examples: Record<string, string>;
  /** Targets that have no example upstream (coffre's COFFRE_EXAMPLE_MISSING on them is a true error), with why. */
  noExample?: Record<string, string>;
  /** Config (coffre.yaml) a user needs for this repo beyond the defaults, in words; empty when none. */
  configNeeded?: string[];
  /**
   * Absolute folders that are a repo folder on the deploy host (a bind mount), as the repo's coffre.yaml says:
   * compose's `/mnt/x/a.env` is then the repo's `<folder>/a.env`, and the examples are keyed by the latter.
   */
  absoluteTargets?: Record<string, string>;
  notes?: string[];
}

export interface CorpusRepo {
  slug: string;
  dir: string;
  manifest: CorpusManifest;
}

export function listCorpusRepos(): CorpusRepo[] {
  return readdirSync(corpusRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(corpusRoot, entry.name, 'corpus.json')))
    .map((entry) => ({
      slug: entry.name,
      dir: path.join(corpusRoot, entry.name),
      manifest: JSON.parse(readFileSync(path.join(corpusRoot, entry.name, 'corpus.json'), 'utf8')) as CorpusManifest,
    }))
    .sort((a, b) => (a.slug < b.slug ? -1 : 1));
}

/** A compose project: run from `dir` (repo-relative) with `files` (-f, relative to `dir`), or with compose's defaults. */
export interface ComposeProject {
  /** `dir` or `dir[-f a.yml -f b.yml]`: how mismatches name the project. */
  name: string;
  dir: string;
  files: string[] | null;
}

/** Every file compose reads as a secret-bearing input of a project, as compose resolved it. */
export interface ComposeTarget {
  /** Repo-relative posix when inside the repo, else the absolute path compose resolved. */
  path: string;
  kind: 'env_file' | 'secret' | 'interpolation';
  project: string;
  /** The compose service reading it (`*` for the project `.env`). */
  composeService: string;
  required: boolean;
}

export interface ComposeRepoResult {
  projects: ComposeProject[];
  targets: ComposeTarget[];
  /** Projects compose itself refused (not counted: compose is the oracle, and it has no answer for them). */
  failures: Array<{ project: string; message: string }>;
  /** Projects whose paths came from `--no-interpolate` (an env file outside the repo cannot be created). */
  uninterpolated: string[];
  /**
   * Per project `.env` (repo-relative): variables the compose files use outside `environment:` (ports, volumes,
   * images…), where an arbitrary value would make the project invalid.
   */
  structuralVariables: Map<string, Set<string>>;
  /** Variables used in some service's `ports:` (they need a port number). */
  portVariables: Set<string>;
}

/** The automatic projects plus the manifest's extra ones. */
export function projectsOf(repo: CorpusRepo): ComposeProject[] {
  const out: ComposeProject[] = [];
  const walk = (rel: string, depth: number): void => {
    const abs = path.join(repo.dir, rel);
    const entries = readdirSync(abs, { withFileTypes: true });
    if (COMPOSE_DEFAULT_NAMES.some((name) => entries.some((e) => e.isFile() && e.name === name))) out.push({ name: rel || '.', dir: rel || '.', files: null });
    if (depth >= 4) return;
    for (const entry of entries) if (entry.isDirectory() && !entry.name.startsWith('.')) walk(rel ? `${rel}/${entry.name}` : entry.name, depth + 1);
  };
  walk('', 0);
  for (const extra of repo.manifest.extraProjects ?? []) out.push({ name: `${extra.dir}[-f ${extra.files.join(' -f ')}]`, dir: extra.dir, files: extra.files });
  return out;
}

/** Compose's environment: nothing of the caller's leaks in (no COMPOSE_FILE, no variables). */
async function runCompose(cwd: string, files: string[] | null, args: string[]): Promise<{ ok: true; stdout: string } | { ok: false; stderr: string }> {
  try {
    // Every profile: a service behind `profiles:` still reads its env files when that profile is up.
    const { stdout } = await exec(composeBinary, [...(files ?? []).flatMap((f) => ['-f', f]), '--profile', '*', ...args], { cwd, env: composeEnv(), maxBuffer: 1 << 26 });
    return { ok: true, stdout };
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string };
    if (code === 'ENOENT') throw new Error(`docker compose is missing at ${composeBinary}: run \`npm run tools\` (scripts/install-tools.sh)`);
    return { ok: false, stderr: String(stderr ?? error) };
  }
}

/** A temp copy of a corpus repo (removed by the caller); the manifest stays behind. */
export function copyRepo(repo: CorpusRepo): string {
  const copy = mkdtempSync(path.join(os.tmpdir(), `coffre-corpus-${repo.slug}-`));
  cpSync(repo.dir, copy, { recursive: true, filter: (src) => path.basename(src) !== 'corpus.json' });
  return copy;
}

/** Creates the placeholder of every target the manifest knows an example of (inside the copy only). */
export function createPlaceholders(copy: string, manifest: CorpusManifest): void {
  for (const [target, example] of Object.entries(manifest.examples)) {
    if (path.isAbsolute(target)) continue;
    const file = path.join(copy, target);
    if (existsSync(file)) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, readFileSync(path.join(copy, example)));
  }
}

function relOrAbs(copy: string, file: string): string {
  const rel = path.relative(copy, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return file;
  return rel.split(path.sep).join('/');
}

const MISSING_ENV_FILE = /env file (.+?) not found/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Model = any;

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/**
 * The variables compose's model (read with `--no-interpolate`) still references, as `config --variables` lists
 * them (read from the one model instead of a second compose run): name → has a non-empty default.
 */
function variablesOf(rawModel: Model): Map<string, boolean> {
  const text = JSON.stringify(rawModel).replace(/\$\$/g, '');
  const out = new Map<string, boolean>();
  for (const m of text.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    const name = (m[1] ?? m[4])!;
    const hasDefault = (m[2] === '-' || m[2] === ':-') && (m[3] ?? '') !== '';
    out.set(name, (out.get(name) ?? false) || hasDefault);
  }
  return out;
}

/**
 * What compose reads in one project of the prepared copy, from `config --no-interpolate --no-env-resolution`
 * (compose resolves the paths and needs no file for that; once it interpolates, compose 2.40 folds env_file
 * into `environment` and drops the paths). A path holding `${VAR}` is completed with the variables compose
 * itself reports for the project (`config --environment`: the project .env, made from its example).
 */
export async function composeProjectTargets(copy: string, project: ComposeProject): Promise<{ targets: ComposeTarget[]; variables: Map<string, boolean>; structural: Set<string>; ports: Set<string>; uninterpolated: boolean } | { error: string }> {
  const cwd = path.join(copy, project.dir);
  const raw = await runCompose(cwd, project.files, ['config', '--no-env-resolution', '--no-interpolate', '--format', 'json']);
  if (!raw.ok) return { error: lastLine(raw.stderr) };
  const rawModel = JSON.parse(raw.stdout);
  const targets = targetsOfModel(copy, project, rawModel);
  const variables = variablesOf(rawModel);
  const structural = structuralVariables(rawModel);
  const ports = portVariablesOf(rawModel);
  if (!targets.some((t) => t.path.includes('$'))) return { targets, variables, structural, ports, uninterpolated: false };
  const env = await composeEnvironment(copy, cwd, project);
  if (env === null) return { targets, variables, structural, ports, uninterpolated: true };
  const values = new Map(env.split('\n').filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
  const projectDir = path.join(copy, projectDirOf(project));
  for (const target of targets) {
    if (!target.path.includes('$')) continue;
    // compose joined the project directory and the path as written: complete the written part, then resolve it.
    const absolute = path.isAbsolute(target.path) ? target.path : path.join(copy, target.path);
    const written = absolute.startsWith(`${projectDir}${path.sep}`) ? absolute.slice(projectDir.length + 1) : absolute;
    const resolved = substituteVariables(written, values);
    target.path = resolved === null ? target.path : relOrAbs(copy, path.resolve(projectDir, resolved));
  }
  return { targets, variables, structural, ports, uninterpolated: false };
}

/**
 * `config --environment` (compose loads every required env file for it: missing ones get an empty placeholder,
 * and a variable it requires gets a placeholder value in the copy's project .env).
 */
async function composeEnvironment(copy: string, cwd: string, project: ComposeProject): Promise<string | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const result = await runCompose(cwd, project.files, ['config', '--environment']);
    if (result.ok) return result.stdout;
    // `${VAR:?message}` unset: a placeholder value in the project .env of the copy lets compose go on.
    const required = /required variable ([A-Za-z_][A-Za-z0-9_]*) is missing/.exec(result.stderr)?.[1];
    if (required !== undefined) {
      const projectEnv = path.join(copy, projectDirOf(project), '.env');
      const before = existsSync(projectEnv) ? readFileSync(projectEnv, 'utf8') : '';
      writeFileSync(projectEnv, `${before}${before === '' || before.endsWith('\n') ? '' : '\n'}${required}=corpus-placeholder\n`);
      continue;
    }
    const missing = MISSING_ENV_FILE.exec(result.stderr)?.[1];
    if (missing === undefined || relOrAbs(copy, missing) === missing) return null;
    mkdirSync(path.dirname(missing), { recursive: true });
    writeFileSync(missing, '');
  }
  return null;
}

/** `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`, `$V` and `$$` as compose interpolates them; null when a required one is unset. */
export function substituteVariables(text: string, values: ReadonlyMap<string, string>): string | null {
  let failed = false;
  const out = text.replace(/\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced: string | undefined, colon: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = values.get(name);
    const unset = value === undefined || (colon === ':' && value === '');
    if (op === '-') return unset ? (arg ?? '') : value!;
    if (op === '?' && unset) failed = true;
    return value ?? '';
  });
  return failed ? null : out;
}

/**
 * A store value for a variable compose uses outside `environment:` (a port, a volume, an image tag…): valid for
 * compose there, and never the example's own value (coffre refuses a store value equal to the example's, as a
 * placeholder). Ports get a free-looking number, path-like or volume values a relative folder (a bare name would
 * be a named volume), numbers another number, anything else a plain lowercase token.
 */
export function structuralValue(name: string, exampleValue: string, portVariables: ReadonlySet<string>): string {
  const token = `corpus-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  if (portVariables.has(name)) return exampleValue === '18080' ? '18081' : '18080';
  if (/^\d+$/.test(exampleValue)) return String(Number(exampleValue) + 1);
  if (/^(?:\/|\.{1,2}\/|~)/.test(exampleValue) || /(?:PATH|DIR|DATA|VOLUME|LOCATION|FOLDER|ROOT|CONFIG)/i.test(name)) return `./${token}`;
  return token;
}

/** Variables referenced in the `ports:` of a (non-interpolated) model. */
function portVariablesOf(rawModel: Model): Set<string> {
  const ports = Object.values((rawModel.services ?? {}) as Record<string, Model>).map((service) => service.ports ?? []);
  return new Set([...JSON.stringify(ports).replace(/\$\$/g, '').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
}

/** Variables referenced in a (non-interpolated) model anywhere but in services' `environment:` values. */
function structuralVariables(rawModel: Model): Set<string> {
  const services: Record<string, Model> = {};
  for (const [name, service] of Object.entries((rawModel.services ?? {}) as Record<string, Model>)) {
    const { environment: _environment, ...rest } = service;
    services[name] = rest;
  }
  const text = JSON.stringify({ ...rawModel, services }).replace(/\$\$/g, '');
  return new Set([...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
}

/** The project directory compose uses: the first -f file's folder, else the folder it runs in. */
export function projectDirOf(project: ComposeProject): string {
  const first = project.files?.[0];
  const dir = first === undefined ? project.dir : path.posix.join(project.dir, path.posix.dirname(first));
  return path.posix.normalize(dir);
}

/** What compose reads in every project of a repo. Compose calls run `concurrency` at a time (one project per folder at a time). */
export async function composeTargets(repo: CorpusRepo, concurrency = 4): Promise<ComposeRepoResult> {
  const copy = copyRepo(repo);
  try {
    createPlaceholders(copy, repo.manifest);
    const projects = projectsOf(repo);
    const limit = pLimit(concurrency);
    const result: ComposeRepoResult = { projects, targets: [], failures: [], uninterpolated: [], structuralVariables: new Map(), portVariables: new Set() };
    const byDir = new Map<string, ComposeProject[]>();
    for (const project of projects) byDir.set(projectDirOf(project), [...(byDir.get(projectDirOf(project)) ?? []), project]);
    const answers = await Promise.all(
      [...byDir.values()].map((group) =>
        limit(async () => {
          const out = [];
          for (const project of group) out.push({ project, answer: await composeProjectTargets(copy, project) });
          return out;
        }),
      ),
    );
    for (const { project, answer } of answers.flat()) {
      if ('error' in answer) {
        result.failures.push({ project: project.name, message: answer.error });
        continue;
      }
      if (answer.uninterpolated) result.uninterpolated.push(project.name);
      result.targets.push(...answer.targets);
      const projectDir = projectDirOf(project);
      const envRel = path.posix.join(projectDir, '.env');
      result.structuralVariables.set(envRel, new Set([...(result.structuralVariables.get(envRel) ?? []), ...answer.structural]));
      for (const name of answer.ports) result.portVariables.add(name);
      const hasExample = PROJECT_ENV_EXAMPLE_NAMES.some((name) => existsSync(path.join(repo.dir, projectDir, name)));
      if (answer.variables.size > 0 && hasExample) {
        result.targets.push({ path: path.posix.join(projectDir, '.env'), kind: 'interpolation', project: project.name, composeService: '*', required: false });
      }
    }
    return result;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** env_file entries of every service and the `file:` of every secret a service uses. */
export function targetsOfModel(copy: string, project: ComposeProject, model: Model): ComposeTarget[] {
  const out: ComposeTarget[] = [];
  const services: Record<string, Model> = model.services ?? {};
  for (const [name, service] of Object.entries(services)) {
    for (const entry of service.env_file ?? []) {
      const file = typeof entry === 'string' ? entry : entry.path;
      out.push({ path: relOrAbs(copy, file), kind: 'env_file', project: project.name, composeService: name, required: typeof entry === 'string' ? true : entry.required !== false });
    }
    for (const secret of service.secrets ?? []) {
      const source = typeof secret === 'string' ? secret : secret.source;
      const file = model.secrets?.[source]?.file;
      if (typeof file === 'string') out.push({ path: relOrAbs(copy, file), kind: 'secret', project: project.name, composeService: name, required: true });
    }
  }
  return out;
}

/** What coffre resolves in a repo, with its default discovery (and the repo's coffre.yaml when it has one). */
export interface CoffreView {
  model: RepoModel;
  /** Why the repo's coffre.yaml was refused (coffre then ran with the defaults); null when it was read or absent. */
  configError: string | null;
  /** Target (same keys as ComposeTarget.path) → coffre service and example. */
  targets: Map<string, { service: string; example: string | null }>;
  errors: RepoProblem[];
  warnings: RepoProblem[];
}

export async function coffreView(repo: CorpusRepo): Promise<CoffreView> {
  let config: CoffreConfig;
  let file: string | null;
  let configError: string | null = null;
  try {
    ({ config, file } = await loadConfig(repo.dir));
  } catch (error) {
    // The config a user of this repo would write, refused: a finding of its own; the rest runs on the defaults.
    if (!isCoffreError(error) || error.code !== 'COFFRE_CONFIG_INVALID') throw error;
    configError = error.message;
    config = defaultConfig();
    file = null;
  }
  const model = await discoverRepo({ root: repo.dir, config, vaultEnabled: false, configFile: file });
  const targets = new Map<string, { service: string; example: string | null }>();
  for (const service of model.services) {
    for (const secretFile of service.secretFiles) {
      targets.set(relOrAbs(repo.dir, secretFile.target), { service: service.name, example: secretFile.exampleRel });
    }
  }
  return { model, configError, targets, errors: model.problems.filter((p) => p.severity === 'error'), warnings: model.problems.filter((p) => p.severity === 'warning') };
}

/** One difference between coffre and compose (or the manifest's expected example). */
export interface Mismatch {
  repo: string;
  kind: 'missing-target' | 'extra-target' | 'wrong-example' | 'false-error' | 'compose-failure';
  /** The compose project and service (or coffre service) concerned. */
  where: string;
  /** What compose (or the manifest) says. */
  compose: string;
  /** What coffre does. */
  coffre: string;
}

export interface RepoComparison {
  repo: string;
  composeTargets: number;
  coffreTargets: number;
  /** Compose targets coffre found. */
  found: number;
  /** Targets with an example where coffre associated exactly that example with the defaults (plus the repo's coffre.yaml). */
  examplesExpected: number;
  examplesAssociated: number;
  falseErrors: number;
  mismatches: Mismatch[];
  configNeeded: string[];
}

/** Compares one repo: every compose target must be a coffre target with the expected example; no false error. */
export function compareRepo(repo: CorpusRepo, compose: ComposeRepoResult, coffre: CoffreView): RepoComparison {
  const mismatches: Mismatch[] = [];
  const byPath = new Map<string, ComposeTarget[]>();
  for (const target of compose.targets) {
    const key = mapAbsolute(target.path, repo.manifest.absoluteTargets ?? {});
    byPath.set(key, [...(byPath.get(key) ?? []), target]);
  }
  if (coffre.configError !== null) {
    mismatches.push({ repo: repo.slug, kind: 'false-error', where: 'coffre.yaml', compose: '-', coffre: `COFFRE_CONFIG_INVALID (coffre ran with the defaults): ${coffre.configError.split('\n').join('; ')}` });
  }
  let found = 0;
  let examplesExpected = 0;
  let examplesAssociated = 0;
  for (const [file, uses] of [...byPath].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const where = [...new Set(uses.map((u) => `${u.project}:${u.composeService}`))].join(', ');
    const kinds = [...new Set(uses.map((u) => u.kind))].join('+');
    const expectedExample = repo.manifest.examples[file] ?? null;
    if (expectedExample !== null) examplesExpected++;
    const mine = coffre.targets.get(file);
    if (mine === undefined) {
      mismatches.push({ repo: repo.slug, kind: 'missing-target', where, compose: `${kinds} ${file}${expectedExample ? ` (example ${expectedExample})` : ''}`, coffre: 'not a target' });
      continue;
    }
    found++;
    if (expectedExample !== null && mine.example === expectedExample) examplesAssociated++;
    else if (expectedExample !== null || mine.example !== null) {
      mismatches.push({ repo: repo.slug, kind: 'wrong-example', where: `${mine.service}`, compose: `${file} ← ${expectedExample ?? 'no example'}`, coffre: `${file} ← ${mine.example ?? 'no example'}` });
    }
  }
  for (const [file, mine] of coffre.targets) {
    if (!byPath.has(file)) mismatches.push({ repo: repo.slug, kind: 'extra-target', where: mine.service, compose: 'not read by compose', coffre: `target ${file}` });
  }
  const noExample = new Set(Object.keys(repo.manifest.noExample ?? {}));
  let falseErrors = coffre.configError === null ? 0 : 1;
  for (const error of coffre.errors) {
    // A missing example that really is missing upstream is a true error.
    if (error.code === 'COFFRE_EXAMPLE_MISSING' && [...noExample].some((t) => error.message.includes(t))) continue;
    falseErrors++;
    mismatches.push({ repo: repo.slug, kind: 'false-error', where: `${error.service ?? '-'} ${error.file}${error.line !== undefined ? `:${error.line}` : ''}`, compose: 'compose config accepts it', coffre: `${error.code}: ${error.message}` });
  }
  for (const failure of compose.failures) mismatches.push({ repo: repo.slug, kind: 'compose-failure', where: failure.project, compose: failure.message, coffre: '-' });
  return {
    repo: repo.slug,
    composeTargets: byPath.size,
    coffreTargets: coffre.targets.size,
    found,
    examplesExpected,
    examplesAssociated,
    falseErrors,
    mismatches,
    configNeeded: repo.manifest.configNeeded ?? [],
  };
}

/** `/mnt/x/a.env` → `secrets/a.env` when the manifest maps `/mnt/x` to `secrets`; other paths unchanged. */
export function mapAbsolute(file: string, mapping: Readonly<Record<string, string>>): string {
  if (!path.isAbsolute(file)) return file;
  for (const [from, to] of Object.entries(mapping)) {
    if (file.startsWith(`${from.replace(/\/+$/, '')}/`)) return path.posix.join(to, file.slice(from.replace(/\/+$/, '').length + 1));
  }
  return file;
}

/** Whether `file` exists as a regular file. */
export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** One rendered key whose value compose does not read back as stored (names only: values are test values, never printed whole). */
export interface RenderMismatch {
  repo: string;
  where: string;
  problem: string;
}

export interface RenderCheckResult {
  /** Targets coffre rendered from the store. */
  rendered: string[];
  /** Keys whose value compose computed, compared. */
  keysCompared: number;
  mismatches: RenderMismatch[];
  /**
   * Projects compose refuses as the repo ships them (its examples copied to the real files, nothing rendered):
   * an upstream defect (a volume never declared, a variable no example declares), so no read-back to compare.
   */
  invalidUpstream: Array<{ project: string; message: string }>;
}

/** A test value for `key` exercising what compose's parser treats specially; newlines only where allowed. */
export function storeValue(key: string, multiline: boolean): string {
  return `v-${key}: p@ss w0rd#1 $HOME \${X} "dq" 'sq' \\ é${multiline ? '\nsecond line' : ''}`;
}

/**
 * Renders every target coffre can render in a fresh copy from sops stores made by the real sops binary (one per
 * target, with a value per example key), then asks compose for the environment of every service: each rendered
 * key must come back byte for byte (env_file values through `config --format json`, the project `.env` through
 * `config --environment`). `makeStore(file, json)` writes the encrypted store; `render(copy, env)` runs coffre.
 */
export async function renderCheck(
  repo: CorpusRepo,
  coffre: CoffreView,
  compose: ComposeRepoResult,
  tools: {
    makeStore: (file: string, plaintext: string) => Promise<void>;
    render: (root: string) => Promise<Array<{ service: string; status: string; error?: { code: string; message: string }; files: Array<{ target: string; keys: { added: string[]; changed: string[] } }> }>>;
    /** Example keys with the example's value (as written). */
    readExampleKeys: (file: string) => Promise<Array<{ name: string; value: string }>>;
  },
): Promise<RenderCheckResult> {
  const copy = copyRepo(repo);
  const result: RenderCheckResult = { rendered: [], keysCompared: 0, mismatches: [], invalidUpstream: [] };
  try {
    const interpolationFiles = new Set(compose.targets.filter((t) => t.kind === 'interpolation').map((t) => t.path));
    const stores = new Map<string, Map<string, string>>();
    // sops runs a few at a time: a repo may have dozens of targets.
    const limit = pLimit(4);
    const writes: Array<Promise<void>> = [];
    for (const service of coffre.model.services) {
      for (const file of service.secretFiles) {
        const rel = relOrAbs(repo.dir, file.target);
        if (file.example === null || path.isAbsolute(rel)) continue;
        const keys = await tools.readExampleKeys(file.example);
        const multiline = !interpolationFiles.has(rel) && path.posix.basename(rel) !== '.env';
        // A variable the compose file uses in a port, volume or image keeps the example's value (or a plain one):
        // any other value would make compose refuse the project. Those are settings, not the secrets under test.
        const structural = compose.structuralVariables.get(rel) ?? new Set<string>();
        const values = new Map(keys.map(({ name, value }) => [name, structural.has(name) ? structuralValue(name, value, compose.portVariables) : storeValue(name, multiline)]));
        stores.set(rel, values);
        // The target's folder may not exist in the repo (it holds only ignored files): the store goes beside it.
        mkdirSync(path.dirname(path.join(copy, rel)), { recursive: true });
        writes.push(limit(() => tools.makeStore(path.join(copy, `${rel}.sops.yaml`), JSON.stringify(Object.fromEntries(values), null, 1))));
      }
    }
    await Promise.all(writes);
    let services: Awaited<ReturnType<typeof tools.render>>;
    try {
      services = await tools.render(copy);
    } catch (error) {
      // e.g. a coffre.yaml this coffre refuses (reported by the target comparison already): nothing rendered.
      result.mismatches.push({ repo: repo.slug, where: '-', problem: `render could not run: ${(error as Error).message.split('\n')[0]}` });
      return result;
    }
    const writtenKeys = new Map<string, string[]>();
    for (const service of services) {
      if (service.status !== 'written' && service.status !== 'unchanged') {
        // A service coffre refuses has errors reported above; a refusal of a service without them is a finding.
        if (!coffre.errors.some((e) => e.service === service.service)) {
          result.mismatches.push({ repo: repo.slug, where: service.service, problem: `render ${service.status}: ${service.error?.code ?? ''} ${service.error?.message ?? ''}` });
        }
        continue;
      }
      for (const file of service.files) {
        writtenKeys.set(file.target, [...file.keys.added, ...file.keys.changed]);
        result.rendered.push(file.target);
      }
    }

    // Only projects reading a rendered file have anything to compare.
    const touchedProjects = new Set(compose.targets.filter((t) => writtenKeys.has(t.path)).map((t) => t.project));
    for (const project of compose.projects) {
      if (!touchedProjects.has(project.name)) continue;
      const cwd = path.join(copy, project.dir);
      let model: Model | null = null;
      let rawModel: Model | null = null;
      const raw = await runCompose(cwd, project.files, ['config', '--no-env-resolution', '--no-interpolate', '--format', 'json']);
      if (raw.ok) rawModel = JSON.parse(raw.stdout);
      const projectEnvRel = path.posix.join(projectDirOf(project), '.env');
      const envRendered = writtenKeys.has(projectEnvRel);
      let failure = '';
      for (let attempt = 0; attempt < 20 && model === null; attempt++) {
        const result2 = await runCompose(cwd, project.files, ['config', '--format', 'json']);
        if (result2.ok) {
          model = JSON.parse(result2.stdout);
          break;
        }
        failure = lastLine(result2.stderr);
        const missing = MISSING_ENV_FILE.exec(result2.stderr)?.[1];
        if (missing === undefined || relOrAbs(copy, missing) === missing) break;
        mkdirSync(path.dirname(missing), { recursive: true });
        writeFileSync(missing, '');
      }
      const touched = rawModel === null ? [] : targetsOfModel(copy, project, rawModel).filter((t) => writtenKeys.has(t.path));
      if (model === null) {
        if (touched.length > 0 || envRendered) {
          const upstream = await upstreamFailure(repo, project);
          if (upstream !== null) result.invalidUpstream.push({ project: project.name, message: upstream });
          else result.mismatches.push({ repo: repo.slug, where: project.name, problem: `compose config fails on the rendered files: ${failure}` });
        }
        continue;
      }
      // env_file: per service, the last file defining a key wins; `environment:` wins over every env_file.
      for (const [name, service] of Object.entries((rawModel?.services ?? {}) as Record<string, Model>)) {
        const own = new Set(Object.keys(service.environment ?? {}));
        const expected = new Map<string, { value: string; file: string }>();
        for (const entry of service.env_file ?? []) {
          const rel = relOrAbs(copy, typeof entry === 'string' ? entry : entry.path);
          for (const key of writtenKeys.get(rel) ?? []) expected.set(key, { value: stores.get(rel)?.get(key) ?? '', file: rel });
        }
        const actual = (model.services?.[name]?.environment ?? {}) as Record<string, string | null>;
        for (const [key, { value, file }] of expected) {
          if (own.has(key)) continue;
          result.keysCompared++;
          const got = actual[key];
          const unescaped = typeof got === 'string' ? got.replace(/\$\$/g, '$') : got;
          if (unescaped !== value) result.mismatches.push({ repo: repo.slug, where: `${project.name}:${name}`, problem: `${file} key ${key}: compose reads ${describeDifference(value, unescaped)}` });
        }
      }
      if (envRendered) {
        const env = await runCompose(cwd, project.files, ['config', '--environment']);
        const lines = new Map(env.ok ? env.stdout.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const) : []);
        for (const key of writtenKeys.get(projectEnvRel) ?? []) {
          result.keysCompared++;
          const value = stores.get(projectEnvRel)?.get(key) ?? '';
          if (lines.get(key) !== value) result.mismatches.push({ repo: repo.slug, where: `${project.name}:*`, problem: `${projectEnvRel} key ${key}: interpolation reads ${describeDifference(value, lines.get(key))}` });
        }
      }
    }
    return result;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Why compose refuses `project` as the repo ships it (each real file a copy of its example), or null when it accepts it. */
async function upstreamFailure(repo: CorpusRepo, project: ComposeProject): Promise<string | null> {
  const copy = copyRepo(repo);
  try {
    createPlaceholders(copy, repo.manifest);
    const answer = await runCompose(path.join(copy, project.dir), project.files, ['config', '--format', 'json']);
    return answer.ok ? null : lastLine(answer.stderr);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Where two values differ, without printing either (they are test values, but the rule holds everywhere). */
function describeDifference(expected: string, actual: string | null | undefined): string {
  if (actual === undefined) return 'nothing (key absent)';
  if (actual === null) return 'no value (null)';
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  return `a different value (length ${actual.length}, expected ${expected.length}; first difference at offset ${i})`;
}
