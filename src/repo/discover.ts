// Discovers the services of an infra repo (folders with a compose file, or the files of a compose project), their
// targets (env_file, secrets file:, the project .env) as compose resolves them, examples and sources, and reports
// what is wrong as problems rather than throwing. Reads files only; writes nothing and never opens a rendered
// target or reads a secret value (a project .env is read for `${VAR}` in paths and COMPOSE_FILE only).
import { stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import path from 'node:path';
import { parseEnvFile } from '../core/env-file.js';
import { parseExample } from '../core/example.js';
import { CoffreError, isCoffreError, type ErrorCode, type WarningCode } from '../errors.js';
import { loadPicomatch } from './lazy-picomatch.js';
import type { SourceRef } from '../core/source-ref.js';
import { describeReadError, MAX_COMPOSE_BYTES, MAX_DOTENV_BYTES } from './bounded-read.js';
import { readComposeEnvFiles, type ComposeEnvFileEntry, type ComposeEnvFiles, type ComposeInclude, type ComposeServiceExtends } from './compose-file.js';
import { interpolateComposeString, type VariableLookup } from './compose-interpolation.js';
import { renderSettingsFor, type CoffreConfig, type FileOverride, type FilePolicy, type KeyPolicy, type RenderSettings } from './config.js';
import { classifyExample } from './example-kind.js';
import { exampleCandidates, nearestExample, suggestPattern, type NearbyExample } from './example-patterns.js';
import { diskFiles, isFileEntry, type RepoEntry, type RepoFiles } from './repo-files.js';
import { secretFileName, sopsFormatOf, vaultPathFor } from './secret-naming.js';

/** Inputs of {@link discoverRepo}. */
export interface DiscoverRepoOptions {
  root: string;
  config: CoffreConfig;
  /** Whether a Vault/OpenBao server is configured: only then do files without sops file get a Vault source. */
  vaultEnabled: boolean;
  /**
   * Shell environment for `${VAR}` in env_file paths; like compose, it wins over the project `.env`.
   * Default: none, so CI and hosts resolve paths from the committed files alone.
   */
  environment?: Readonly<Record<string, string | undefined>>;
  /** The coffre.yaml path named in warnings about config entries that match nothing (default `coffre.yaml`). */
  configFile?: string | null;
  /**
   * Discover only these services (folder paths relative to the root) instead of walking the whole repo:
   * what a request about one service needs, at the cost of one folder instead of hundreds. Names that are
   * not service folders are simply absent from the result; repo-wide findings (config entries matching
   * nothing) are not reported.
   */
  services?: readonly string[];
  /**
   * Where the repo's files are read from (default: the working tree on disk). `render --as-of` passes a past
   * commit's tree: paths stay those of the current checkout, so targets land where they do now.
   */
  files?: RepoFiles;
  /** Told how many service folders were found, before any of them is read (the executable tunes V8 by it). */
  onServicesFound?: (count: number) => void;
}

/** An infra repo as discovered. */
export interface RepoModel {
  /** Absolute repo root. */
  root: string;
  /** Sorted by name. Services with `skip: true` in coffre.yaml are left out. */
  services: ServiceModel[];
  /** Names of the services skipped by coffre.yaml. */
  skipped: string[];
  problems: RepoProblem[];
  /**
   * Every file and folder discovery looked at (folders stand for the presence of the files probed in them):
   * while none of them changes, discovering again gives the same model. Used by DiscoveryCache.
   */
  inputs: string[];
}

/** One service: a folder holding a compose file. */
export interface ServiceModel {
  /** Posix path of the folder relative to the root (`mattermost`, `apps/wiki`); `.` for the root itself. */
  name: string;
  /** Absolute folder. */
  dir: string;
  /** Absolute compose file. */
  composeFile: string;
  /** Compose file, posix, relative to the root. */
  composeFileRel: string;
  /** Render settings: coffre.yaml `render` with the service's overrides. */
  render: RenderSettings;
  /** In compose order (first appearance); one entry per distinct target. */
  secretFiles: SecretFileModel[];
}

/** One env_file target of a service, with its example and source. */
export interface SecretFileModel {
  service: string;
  /** Logical name: the target file name without a trailing `.secrets` or `.env` (`.env` → `env`). */
  name: string;
  /** Absolute target. */
  target: string;
  /** Target, posix, relative to the root (starts with `../` when outside the repo). */
  targetRel: string;
  /** The env_file path as written in compose, after `${VAR}` interpolation (render refuses targets outside the repo). */
  declaredPath: string;
  /**
   * How the target is read: `compose`/`raw` are env_file dialects (the project `.env` used for `${VAR}` is a
   * `compose` one); `secret` is a compose `secrets.<name>.file`: the whole file is one value, written raw.
   */
  format: 'compose' | 'raw' | 'secret';
  /** False only when every compose entry naming the target says `required: false`. */
  required: boolean;
  /** Absolute example, or null when none exists. */
  example: string | null;
  exampleRel: string | null;
  /** Line of the first compose entry naming the target. */
  composeLine: number | null;
  source: SourceRef | null;
  /** Set on the project `.env` that `${VAR}` of the compose files come from (not an env_file of any service). */
  projectEnv?: true;
  /**
   * Why `source` is null, said to the user instead of "missing" for every key: no sops file beside the target
   * and no Vault address, or `source: null` in coffre.yaml. Absent when there is a source. Never holds a value.
   */
  noSourceReason?: string;
  /** Why `example` is null: what was looked for, and the nearest candidate file with the pattern that finds it. */
  exampleMissing?: string;
  /** Key settings from coffre.yaml `files:` entries matching the target, in order (absent when none). */
  keyPolicy?: Array<{ key: string; policy: KeyPolicy }>;
}

/** Something discovery found wrong; `file` is posix, relative to the root. Never holds a value. */
export interface RepoProblem {
  severity: 'error' | 'warning';
  code: ErrorCode | WarningCode;
  service?: string;
  file: string;
  line?: number;
  message: string;
}

/** How deep below a service folder example files are looked for (for EXAMPLE_UNREFERENCED). */
const EXAMPLE_SCAN_DEPTH = 4;

/** The compose file names docker compose finds without -f; only those get an override file merged. */
const COMPOSE_DEFAULT_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/** The override files compose merges over a default compose file, in the order it looks for them. */
export const COMPOSE_OVERRIDE_FILE_NAMES = ['compose.override.yml', 'compose.override.yaml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** Where COMPOSE_FILE is looked for at the repo root: `.env` as compose does, or the example an admin copies to it. */
const COMPOSE_FILE_SOURCES = ['.env', '.env.example', '.env.dist'];

/** Examples of the project `.env` besides `.env<example suffix>`: `env<example suffix>` (env.example, env.sample…), seen in the wild. */
const PROJECT_ENV_EXAMPLE_STEM = 'env';

/** How many `extends:` hops are followed before the chain is refused (compose refuses cycles). */
const MAX_EXTENDS_DEPTH = 10;

/** One parsed compose file of a service: the compose file, its override, or a file an `extends:` names. */
interface ComposeLayer {
  file: string;
  fileRel: string;
  parsed: ComposeEnvFiles;
}

/** An env_file entry with the compose file declaring it, the folder its relative path resolves from and its variables. */
interface LocatedEntry {
  entry: ComposeEnvFileEntry;
  fileRel: string;
  baseDir: string;
  lookup: () => Promise<VariableLookup>;
}

/** A compose file read for a service, with the folder its relative paths resolve from and its variables. */
interface Scope {
  layer: ComposeLayer;
  baseDir: string;
  lookup: () => Promise<VariableLookup>;
}

/** How many `include:` levels are followed before the chain is refused (compose refuses cycles). */
const MAX_INCLUDE_DEPTH = 10;

interface FoundService {
  name: string;
  dir: string;
  composeFile: string;
  /** Set when the folder's compose files are part of a project run from elsewhere (coffre.yaml or COMPOSE_FILE). */
  project?: ProjectPlan;
}

/** How compose reads one service folder's files: the default is `docker compose` run in the folder itself. */
interface ProjectPlan {
  /** This folder's compose files of the project, in `-f` order (absolute). */
  files: string[];
  /** Where relative paths of these files resolve from (absolute). */
  projectDir: string;
  /** The `.env` files `${VAR}` come from, the first holding a name wins (absolute); the first is the project `.env`. */
  dotenvFiles: string[];
  /** Whether override files beside the compose file are merged (only without -f / COMPOSE_FILE). */
  overrides: boolean;
  /** Whether this service owns the project `.env` target (the service of the project's first file). */
  ownsDotenv: boolean;
}

/**
 * Walks `root` for services and builds the repo model. Throws only when the root cannot be read; everything
 * else (invalid compose YAML, unresolvable `${VAR}`, missing examples, unsafe targets…) is a problem.
 */
/** Services read side by side by {@link discoverRepo}. */
const DISCOVERY_CONCURRENCY = 32;

export async function discoverRepo(options: DiscoverRepoOptions): Promise<RepoModel> {
  const root = path.resolve(options.root);
  const rootStat = await stat(root).catch((error: unknown) => {
    throw new CoffreError('COFFRE_USAGE', `cannot read repo root ${root}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {}, { cause: error });
  });
  if (!rootStat.isDirectory()) throw new CoffreError('COFFRE_USAGE', `repo root ${root} is not a directory`);

  const discovery = new Discovery(root, options);
  const walked = options.services ? await discovery.findNamedServiceFolders(options.services) : await discovery.findServiceFolders();
  const found = await discovery.applyProjects(walked, options.services);
  options.onServicesFound?.(found.length);
  const skipped = found.filter((service) => options.config.services[service.name]?.skip).map((service) => service.name);
  // Services are independent reads of independent folders; problems keep discovery order per service.
  // At most DISCOVERY_CONCURRENCY at once: enough to keep the disk busy, while thousands started together would
  // each hold their half-read state through every young-generation collection (copied, then promoted: memory).
  const limit = pLimit(DISCOVERY_CONCURRENCY);
  const services = await Promise.all(found.filter((service) => !options.config.services[service.name]?.skip).map((service) => limit(() => discovery.readService(service))));
  await discovery.reportUnreferencedExamples(services, found);
  if (!options.services) discovery.reportConfigMismatches(found);
  discovery.reportVaultPathCollisions(services);
  discovery.reportSharedTargets(services);
  return { root, services, skipped, problems: discovery.problems, inputs: [...discovery.inputs] };
}

interface TargetAccumulator {
  target: string;
  /** Target relative to the root (posix); the absolute path itself when it is outside the repo and absolute. */
  targetRel: string;
  /** Inside the repo (after the absoluteTargets mapping). */
  inside: boolean;
  /** Written as an absolute path (and not mapped). */
  absolute: boolean;
  declaredPath: string;
  format: 'compose' | 'raw' | 'secret';
  required: boolean;
  line: number | null;
  /** The compose file naming it (problems point there). */
  fileRel: string;
  /** The example, when it is not found by suffix (the project `.env`). */
  example?: string;
  /** The project `.env` of `${VAR}` (see SecretFileModel.projectEnv). */
  projectEnv?: true;
}

class Discovery {
  readonly problems: RepoProblem[] = [];
  /** See RepoModel.inputs. */
  readonly inputs = new Set<string>();
  /** Examples some secrets file uses (or would use, for skipped files): never "unreferenced". */
  private readonly referencedExamples = new Set<string>();
  /** `files:` globs of coffre.yaml that matched a target. */
  private readonly usedFilePolicies = new Set<string>();
  /** The `files:` globs of coffre.yaml, compiled once on first use (picomatch is loaded only when there are some). */
  private filePolicyMatchers: Array<{ glob: string; matches: (rel: string) => boolean; entry: FilePolicy }> | undefined;
  /** `services.<s>.files.<t>` keys that matched a target, as `<s>\0<t>`. */
  private readonly usedFileOverrides = new Set<string>();
  /** Targets whose source came from coffre.yaml (exempt from the collision check). */
  private readonly overriddenTargets = new Set<string>();
  private readonly config: CoffreConfig;
  private readonly isExcluded: (relPath: string, name: string) => boolean;
  /** Files named by `extends: {file}`, per service (`service\0file`). */
  private readonly extendedFiles = new Map<string, Promise<ComposeLayer | null>>();
  private readonly files: RepoFiles;
  /** How deep in an `include:` chain a compose file was read. */
  private readonly includeDepth = new Map<ComposeLayer, number>();
  /** Per `discovery.composeFiles` entry: a matcher for a glob, null for a plain name. */
  private readonly composeFileMatchers: Array<((name: string) => boolean) | null>;

  constructor(
    private readonly root: string,
    private readonly options: DiscoverRepoOptions,
  ) {
    this.config = options.config;
    this.files = options.files ?? diskFiles;
    const patterns = this.config.discovery.exclude;
    const byName = excludeMatcher(patterns.filter((p) => !p.includes('/')));
    const byPath = excludeMatcher(patterns.filter((p) => p.includes('/')));
    this.isExcluded = (relPath, name) => byName(name) || byPath(relPath);
    // A literal name (the defaults) is compared as is; picomatch is loaded only for a real glob.
    this.composeFileMatchers = this.config.discovery.composeFiles.map((pattern) => {
      if (LITERAL_PATTERN.test(pattern)) return null;
      const picomatch = loadPicomatch();
      return picomatch.scan(pattern).isGlob ? picomatch(pattern, { dot: true }) : null;
    });
  }

  /**
   * The compose files among a folder's file names, in `discovery.composeFiles` order: a name is taken as is, a
   * glob (`docker-compose*.yml`) matches names in sorted order, never an override file (compose merges those).
   */
  private composeFileNames(files: ReadonlySet<string>): string[] {
    const out: string[] = [];
    for (const [index, pattern] of this.config.discovery.composeFiles.entries()) {
      const matcher = this.composeFileMatchers[index];
      const names = matcher === null ? (files.has(pattern) ? [pattern] : []) : [...files].filter((name) => !COMPOSE_OVERRIDE_FILE_NAMES.includes(name) && matcher!(name)).sort();
      for (const name of names) if (!out.includes(name)) out.push(name);
    }
    return out;
  }

  /** The named folders that are services, under the same rules as the walk (depth, hidden, excluded, no symlink). */
  async findNamedServiceFolders(names: readonly string[]): Promise<FoundService[]> {
    const found: FoundService[] = [];
    for (const name of new Set(names)) {
      const parts = name === '.' ? [] : name.split('/');
      const valid = parts.every((part) => part !== '' && part !== '..' && !part.startsWith('.') && !part.includes('\0'));
      if (!valid || parts.length > this.config.discovery.maxDepth) continue;
      if (parts.some((part, index) => this.isExcluded(parts.slice(0, index + 1).join('/'), part))) continue;
      let dir = this.root;
      let notAFolder = false;
      for (const part of parts) {
        dir = path.join(dir, part);
        this.inputs.add(dir);
        if (!(await this.files.isDirectory(dir))) {
          notAFolder = true;
          break;
        }
      }
      if (notAFolder) continue;
      await this.readDirectory(dir);
      const [composeName] = this.composeFileNames(await this.filesIn(dir));
      if (composeName !== undefined) found.push({ name, dir, composeFile: path.join(dir, composeName) });
    }
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Service folders up to `maxDepth`, skipping hidden and excluded folders and never following symlinks. */
  async findServiceFolders(): Promise<FoundService[]> {
    const found: FoundService[] = [];
    // Sibling folders are visited side by side (a view of the repo, such as a past commit's, may answer slowly).
    const visit = async (dir: string, rel: string, depth: number): Promise<void> => {
      const entries = await this.readDirectory(dir);
      const composeNames = this.composeFileNames(await this.filesIn(dir));
      const [composeName, ...ignored] = composeNames;
      if (composeName !== undefined) {
        const name = rel === '' ? '.' : rel;
        found.push({ name, dir, composeFile: path.join(dir, composeName) });
        if (ignored.length > 0) {
          this.problems.push({
            severity: 'warning',
            code: 'COFFRE_COMPOSE_INVALID',
            service: name,
            file: this.rel(path.join(dir, ignored[0]!)),
            message: `${name} has several compose files; coffre reads ${composeName} only (ignored: ${ignored.join(', ')})`,
          });
        }
      }
      if (depth >= this.config.discovery.maxDepth) return;
      await Promise.all(
        entries
          .filter((entry) => entry.kind === 'dir' && !entry.name.startsWith('.'))
          .map((entry) => ({ entry, childRel: rel === '' ? entry.name : `${rel}/${entry.name}` }))
          .filter(({ entry, childRel }) => !this.isExcluded(childRel, entry.name))
          .map(({ entry, childRel }) => visit(path.join(dir, entry.name), childRel, depth + 1)),
      );
    };
    await visit(this.root, '', 0);
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Applies the compose projects run from the repo root (coffre.yaml `compose.projects`, else `COMPOSE_FILE` in
   * the root `.env`, `.env.example` or `.env.dist`): each folder holding files of a project becomes a service
   * reading those files, with the project's directory and `.env` files. Other folders keep their default.
   */
  async applyProjects(walked: FoundService[], names: readonly string[] | undefined): Promise<FoundService[]> {
    const found = this.config.compose?.projects !== undefined ? walked : await Promise.all(walked.map((service) => this.applyFolderComposeFile(service)));
    const projects = await this.composeProjects();
    if (projects.length === 0) return found;
    const byDir = new Map(found.map((service) => [service.dir, service] as const));
    for (const project of projects) {
      const folders = new Map<string, string[]>();
      for (const file of project.files) {
        const dir = path.dirname(file);
        folders.set(dir, [...(folders.get(dir) ?? []), file]);
      }
      for (const [dir, files] of folders) {
        const name = this.rel(dir);
        if (names !== undefined && !names.includes(name)) continue;
        const ownsDotenv = dir === path.dirname(project.files[0]!);
        byDir.set(dir, { name, dir, composeFile: files[0]!, project: { files, projectDir: project.projectDir, dotenvFiles: project.dotenvFiles, overrides: false, ownsDotenv } });
      }
    }
    return [...byDir.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A service folder whose own `.env` sets COMPOSE_FILE reads those files (all of them, wherever they are). */
  private async applyFolderComposeFile(service: FoundService): Promise<FoundService> {
    if (service.dir === this.root) return service;
    const detected = await this.detectComposeFile(service.dir, service.name);
    if (detected === null) return service;
    return { ...service, composeFile: detected.files[0]!, project: { ...detected, overrides: false, ownsDotenv: true } };
  }

  /** The projects run from the repo root, with absolute paths; files outside the repo are refused. */
  private async composeProjects(): Promise<Array<{ files: string[]; projectDir: string; dotenvFiles: string[] }>> {
    const configured = this.config.compose?.projects;
    if (configured !== undefined) {
      return configured.map((project) => {
        const files = project.files.map((file) => path.resolve(this.root, file));
        const projectDir = project.projectDirectory !== undefined ? path.resolve(this.root, project.projectDirectory) : path.dirname(files[0]!);
        // `docker compose -f …` reads `.env` in the project directory, or only the --env-file given.
        const dotenvFiles = project.envFile !== undefined ? [path.resolve(this.root, project.envFile)] : [path.join(projectDir, '.env')];
        for (const file of files) this.inputs.add(file);
        return { files, projectDir, dotenvFiles };
      });
    }
    const detected = await this.detectComposeFile(this.root, undefined);
    return detected === null ? [] : [detected];
  }

  /**
   * The project `COMPOSE_FILE` makes of `docker compose` run in `dir`, read from its `.env` (or `.env.example`,
   * `.env.dist` when `.env` is absent: the file an admin copies): the files relative to `dir`, the first one's
   * folder as project directory, and `${VAR}` from `dir/.env` then the project directory's (what compose does).
   */
  private async detectComposeFile(dir: string, service: string | undefined): Promise<{ files: string[]; projectDir: string; dotenvFiles: string[] } | null> {
    for (const name of COMPOSE_FILE_SOURCES) {
      const file = path.join(dir, name);
      if (!(await this.isFile(file))) continue;
      // An example compose never reads is only a hint: one coffre cannot parse is no problem of the service.
      const values = name === '.env' ? await this.readDotenv(service, file, this.options.environment ?? {}) : await this.readExampleSettings(file);
      const value = values?.get('COMPOSE_FILE');
      if (value === undefined || value === '') return null;
      const separator = values?.get('COMPOSE_PATH_SEPARATOR') || ':';
      const files: string[] = [];
      for (const entry of value.split(separator).filter((part) => part !== '')) {
        const absolute = path.resolve(dir, entry);
        if (!isInside(this.root, absolute)) {
          this.problems.push({ severity: 'error', code: 'COFFRE_COMPOSE_UNSUPPORTED', ...(service !== undefined ? { service } : {}), file: this.rel(file), message: `COMPOSE_FILE in ${this.rel(file)} names ${entry}, outside the repo: coffre does not follow it` });
          continue;
        }
        files.push(absolute);
      }
      if (files.length === 0) return null;
      const projectDir = path.dirname(files[0]!);
      const dotenvFiles = [...new Set([path.join(dir, '.env'), path.join(projectDir, '.env')])];
      return { files, projectDir, dotenvFiles };
    }
    return null;
  }

  async readService(found: FoundService): Promise<ServiceModel> {
    const composeFileRel = this.rel(found.composeFile);
    const model: ServiceModel = {
      name: found.name,
      dir: found.dir,
      composeFile: found.composeFile,
      composeFileRel,
      render: renderSettingsFor(this.config, found.name),
      secretFiles: [],
    };
    const project = found.project ?? defaultProject(found);
    const layers: ComposeLayer[] = [];
    for (const file of project.files) {
      const layer = await this.readComposeFile(found, file);
      if (layer !== null) layers.push(layer);
    }
    if (layers.length === 0) return model;
    // compose reads the first override file beside the default compose file as if given with a second -f.
    const overrideFile = project.overrides ? await this.findOverrideFile(found) : null;
    if (overrideFile !== null) {
      const override = await this.readComposeFile(found, overrideFile);
      if (override !== null) layers.push(override);
    }
    const lookup = this.lazyLookup(found, project);
    // Relative paths of the compose files of a project resolve from the project directory; those of an
    // included file from its own folder, with its own variables after the project's.
    const scopes: Scope[] = layers.map((layer) => ({ layer, baseDir: project.projectDir, lookup }));
    for (let index = 0; index < scopes.length; index++) {
      const scope = scopes[index]!;
      for (const include of scope.layer.parsed.includes) scopes.push(...(await this.includedScopes(found, scope, include, scopes)));
    }
    const located: LocatedEntry[] = [];
    for (const { layer, baseDir, lookup: scopeLookup } of scopes) {
      for (const entry of layer.parsed.entries) located.push({ entry, fileRel: layer.fileRel, baseDir, lookup: scopeLookup });
    }
    for (const scope of scopes) {
      for (const base of scope.layer.parsed.extends) located.push(...(await this.extendedEntries(found, scope.layer, scope.baseDir, base, scope.lookup, 1)));
    }

    const targets = new Map<string, TargetAccumulator>();
    const addTarget = (candidate: Omit<TargetAccumulator, 'target' | 'targetRel' | 'inside' | 'absolute' | 'declaredPath'>, value: string, baseDir: string): void => {
      const where = this.locateTarget(value, baseDir);
      const previous = targets.get(where.target);
      if (!previous) {
        // A path resolved from another folder is given relative to this service's folder, as a reader would write it.
        const declaredPath = baseDir === found.dir || where.absolute ? value : path.relative(found.dir, where.target).split(path.sep).join('/');
        targets.set(where.target, { ...candidate, ...where, declaredPath });
        return;
      }
      previous.required ||= candidate.required;
      if (previous.format !== candidate.format) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, candidate.fileRel, candidate.line, `${value} is read as ${describeFormat(candidate.format)} here but as ${previous.format === 'secret' ? 'a secret file' : previous.format} at line ${previous.line ?? '?'}: one file cannot be rendered both ways`);
      }
    };
    for (const { entry, fileRel, baseDir, lookup: entryLookup } of located) {
      const resolved = entry.path.includes('$') ? interpolateComposeString(entry.path, await entryLookup()) : ({ ok: true, value: entry.path } as const);
      if (!resolved.ok) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, fileRel, entry.line, `env_file "${entry.path}" of services.${entry.composeService}: ${resolved.reason}`);
        continue;
      }
      addTarget({ format: entry.format, required: entry.required, line: entry.line, fileRel }, resolved.value, baseDir);
    }
    // Compose secrets read from a file: the whole file is the value (relative to the project directory).
    for (const { layer, baseDir, lookup: scopeLookup } of scopes) {
      for (const secret of layer.parsed.secretFiles) {
        const resolved = secret.path.includes('$') ? interpolateComposeString(secret.path, await scopeLookup()) : ({ ok: true, value: secret.path } as const);
        if (!resolved.ok) {
          this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, layer.fileRel, secret.line, `secrets.${secret.name}.file "${secret.path}": ${resolved.reason}`);
          continue;
        }
        addTarget({ format: 'secret', required: true, line: secret.line, fileRel: layer.fileRel }, resolved.value, baseDir);
      }
    }
    if (project.ownsDotenv) await this.addProjectDotenv(found, project, layers, targets);
    for (const accumulator of targets.values()) {
      const file = await this.buildSecretFile(found, accumulator);
      if (file) model.secretFiles.push(file);
    }
    return model;
  }

  /** Reads and parses one compose file (size-capped), reporting its problems; null when it cannot be read. */
  private async readComposeFile(found: FoundService, file: string): Promise<ComposeLayer | null> {
    const fileRel = this.rel(file);
    let text: string;
    try {
      this.inputs.add(file);
      text = await this.files.readText(file, MAX_COMPOSE_BYTES);
    } catch (error) {
      this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, fileRel, null, `cannot read ${fileRel}: ${describeReadError(error)}`);
      return null;
    }
    const parsed = readComposeEnvFiles(text);
    for (const p of parsed.problems) this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, fileRel, p.line, p.message);
    return { file, fileRel, parsed };
  }

  /**
   * The override file compose merges: the first of compose's names present beside the compose file. compose
   * does so only for a compose file it found by its default names (a custom name is given with -f, alone).
   */
  private async findOverrideFile(found: FoundService): Promise<string | null> {
    if (!COMPOSE_DEFAULT_FILE_NAMES.includes(path.basename(found.composeFile))) return null;
    const present: string[] = [];
    for (const name of COMPOSE_OVERRIDE_FILE_NAMES) {
      if (await this.isFile(path.join(found.dir, name))) present.push(name);
    }
    const [first, ...ignored] = present;
    if (first === undefined) return null;
    if (ignored.length > 0) {
      this.problem('warning', 'COFFRE_COMPOSE_INVALID', found.name, this.rel(path.join(found.dir, ignored[0]!)), null, `${found.name} has several compose override files; compose and coffre read ${first} only (ignored: ${ignored.join(', ')})`);
    }
    return path.join(found.dir, first);
  }

  /**
   * The compose files one `include:` entry adds, as compose reads them: paths relative to the including file's
   * base folder; the included files' relative paths resolve from the first one's folder; their variables are
   * the including project's, then the include's `env_file` (default: `.env` beside the first included file).
   * `project_directory` is refused (compose resolves paths from it only when it exists), and so are remote
   * includes and files outside the repo.
   */
  private async includedScopes(found: FoundService, parent: Scope, include: ComposeInclude, scopes: Scope[]): Promise<Scope[]> {
    const refuse = (message: string): Scope[] => {
      this.problem('error', 'COFFRE_COMPOSE_UNSUPPORTED', found.name, parent.layer.fileRel, include.line, `include: ${message}`);
      return [];
    };
    if (include.paths.length === 0) return [];
    if (include.projectDirectory !== null) return refuse('project_directory is not followed by coffre (set it on a compose.projects entry, or drop it)');
    const depth = (this.includeDepth.get(parent.layer) ?? 0) + 1;
    if (depth > MAX_INCLUDE_DEPTH) return refuse(`include chain deeper than ${MAX_INCLUDE_DEPTH} (a cycle?)`);
    const resolvePath = async (value: string): Promise<string | null> => {
      const resolved = value.includes('$') ? interpolateComposeString(value, await parent.lookup()) : ({ ok: true, value } as const);
      if (!resolved.ok) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, parent.layer.fileRel, include.line, `include "${value}": ${resolved.reason}`);
        return null;
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(resolved.value) || resolved.value.startsWith('git@')) {
        refuse(`${resolved.value} is a remote compose file: coffre follows files of the repo only`);
        return null;
      }
      const file = path.resolve(parent.baseDir, resolved.value);
      if (!isInside(this.root, file)) {
        refuse(`${resolved.value} is outside the repo: coffre does not follow it`);
        return null;
      }
      return file;
    };
    const files: string[] = [];
    for (const value of include.paths) {
      const file = await resolvePath(value);
      if (file === null) return [];
      files.push(file);
    }
    const baseDir = path.dirname(files[0]!);
    const envFiles: string[] = [];
    for (const value of include.envFiles ?? []) {
      const file = await resolvePath(value);
      if (file === null) return [];
      envFiles.push(file);
    }
    if (include.envFiles === null) envFiles.push(path.join(baseDir, '.env'));
    let own: Promise<VariableLookup> | undefined;
    const lookup = (): Promise<VariableLookup> =>
      (own ??= (async () => {
        const outer = await parent.lookup();
        const values = new Map<string, string>();
        for (const file of envFiles) for (const [key, value] of (await this.readDotenv(found.name, file, this.options.environment ?? {})) ?? []) if (!values.has(key)) values.set(key, value);
        return (name: string) => outer(name) ?? values.get(name);
      })());
    const out: Scope[] = [];
    for (const file of files) {
      if (scopes.some((scope) => scope.layer.file === file)) return refuse(`${this.rel(file)} is included twice (a cycle?)`);
      if (!(await this.isFile(file))) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, parent.layer.fileRel, include.line, `include: ${this.rel(file)} does not exist`);
        return [];
      }
      const layer = await this.readComposeFile(found, file);
      if (layer === null) return [];
      this.includeDepth.set(layer, depth);
      out.push({ layer, baseDir, lookup });
    }
    return out;
  }

  /**
   * The env_file entries a service inherits through `extends:` (compose merges the base service's env_file
   * list with its own), recursively. A base in another file resolves its relative paths from that file's folder.
   */
  private async extendedEntries(found: FoundService, layer: ComposeLayer, baseDir: string, ext: ComposeServiceExtends, lookup: () => Promise<VariableLookup>, depth: number): Promise<LocatedEntry[]> {
    const where = `services.${ext.composeService}.extends`;
    if (depth > MAX_EXTENDS_DEPTH) {
      this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, layer.fileRel, ext.line, `${where}: extends chain deeper than ${MAX_EXTENDS_DEPTH} (a cycle?)`);
      return [];
    }
    let target = layer;
    let targetDir = baseDir;
    if (ext.file !== null) {
      const resolved = ext.file.includes('$') ? interpolateComposeString(ext.file, await lookup()) : ({ ok: true, value: ext.file } as const);
      if (!resolved.ok) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, layer.fileRel, ext.line, `${where}.file "${ext.file}": ${resolved.reason}`);
        return [];
      }
      const file = path.resolve(path.dirname(layer.file), resolved.value);
      if (!isInside(this.root, file)) {
        this.problem('error', 'COFFRE_COMPOSE_UNSUPPORTED', found.name, layer.fileRel, ext.line, `${where}.file ${resolved.value} is outside the repo: coffre does not follow it`);
        return [];
      }
      if (!(await this.isFile(file))) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, layer.fileRel, ext.line, `${where}.file ${resolved.value} does not exist`);
        return [];
      }
      // Read once per service: its problems are the service's (each service extending a broken file is refused).
      const key = `${found.name}\0${file}`;
      let read = this.extendedFiles.get(key);
      if (read === undefined) {
        read = this.readComposeFile(found, file);
        this.extendedFiles.set(key, read);
      }
      const other = await read;
      if (other === null) return [];
      target = other;
      targetDir = path.dirname(file);
    }
    if (!target.parsed.services.includes(ext.service)) {
      // An unparsable file already has its own problem.
      if (target.parsed.problems.length === 0) this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, layer.fileRel, ext.line, `${where}: ${target.fileRel} has no service "${ext.service}"`);
      return [];
    }
    const out: LocatedEntry[] = target.parsed.entries.filter((e) => e.composeService === ext.service).map((entry) => ({ entry, fileRel: target.fileRel, baseDir: targetDir, lookup }));
    for (const next of target.parsed.extends.filter((e) => e.composeService === ext.service)) {
      out.push(...(await this.extendedEntries(found, target, targetDir, next, lookup, depth + 1)));
    }
    return out;
  }

  /** The project lookup, read at most once per service and only when a `${VAR}` needs it. */
  private lazyLookup(found: FoundService, project: ProjectPlan): () => Promise<VariableLookup> {
    let lookup: Promise<VariableLookup> | undefined;
    return () => (lookup ??= this.projectLookup(found, project));
  }

  private async buildSecretFile(service: FoundService, acc: TargetAccumulator): Promise<SecretFileModel | null> {
    const { targetRel, fileRel } = acc;
    const override = this.findFileOverride(service, acc.target);
    const policy = this.filePolicyFor(targetRel);
    // Nothing outside the repo is probed: its examples and sources are none of coffre's business.
    const allCandidates = (): string[] =>
      acc.example !== undefined
        ? [acc.example]
        : acc.inside
          ? exampleCandidates(service.dir, acc.target, this.config.examples.suffixes, this.config.examples.patterns).filter((c) => isInside(this.root, c))
          : [];
    const kind = acc.format === 'secret' ? 'secret file' : 'env_file';
    if (override?.skip || policy.skip) {
      for (const candidate of allCandidates()) this.referencedExamples.add(candidate);
      if (override?.example) this.referencedExamples.add(path.resolve(service.dir, override.example));
      return null;
    }

    let example: string | null = null;
    let exampleMissing: string | undefined;
    if (override?.example !== undefined) {
      const configured = path.resolve(service.dir, override.example);
      this.referencedExamples.add(configured);
      if (await this.isFile(configured)) example = configured;
      else this.problem('error', 'COFFRE_EXAMPLE_MISSING', service.name, fileRel, acc.line, `the example configured for ${targetRel} in coffre.yaml, ${this.rel(configured)}, does not exist`);
    } else {
      // The candidates start with `T<suffix>` (exampleCandidates): when one of those exists, the patterns
      // (path arithmetic per pattern and suffix) need not be filled at all.
      if (acc.example === undefined && acc.inside) {
        for (const suffix of this.config.examples.suffixes) {
          const candidate = acc.target + suffix;
          if (isInside(this.root, candidate) && (await this.isFile(candidate))) {
            example = candidate;
            break;
          }
        }
      }
      const candidates = example === null ? allCandidates() : [];
      for (const candidate of candidates) {
        if (await this.isFile(candidate)) {
          example = candidate;
          break;
        }
      }
      if (example === null) {
        exampleMissing = candidates.length > 0 ? await this.describeMissingExample(service, acc.target, candidates) : 'outside the repo';
        this.problem('error', 'COFFRE_EXAMPLE_MISSING', service.name, fileRel, acc.line, `${kind} ${targetRel} has no example (${exampleMissing})`);
      } else {
        this.referencedExamples.add(example);
      }
    }

    if (!acc.inside) {
      const why = acc.absolute
        ? `is an absolute path outside the repo; render will refuse it (map its folder into the repo with compose.absoluteTargets in coffre.yaml)`
        : 'is outside the repo; render will refuse it';
      this.problem('warning', 'COFFRE_TARGET_UNSAFE', service.name, fileRel, acc.line, `${kind} ${acc.declaredPath} ${why}`);
    }

    const name = secretFileName(acc.target);
    const source = acc.inside || override?.source !== undefined ? await this.sourceFor(service, acc.target, name, override) : null;
    return {
      service: service.name,
      name,
      target: acc.target,
      targetRel,
      declaredPath: acc.declaredPath,
      format: acc.format,
      required: acc.required,
      example,
      exampleRel: example === null ? null : this.rel(example),
      composeLine: acc.line,
      ...(acc.projectEnv ? { projectEnv: true as const } : {}),
      source,
      ...(source === null ? { noSourceReason: acc.inside || override?.source === null ? this.noSourceReason(acc.target, override) : 'the target is outside the repo: coffre neither reads nor writes it' } : {}),
      ...(exampleMissing !== undefined ? { exampleMissing } : {}),
      ...(policy.keys.length > 0 ? { keyPolicy: policy.keys } : {}),
    };
  }

  /** The `files:` entries of coffre.yaml whose glob matches the target (relative to the root), merged in order. */
  private filePolicyFor(targetRel: string): { skip: boolean; keys: Array<{ key: string; policy: KeyPolicy }> } {
    let skip = false;
    const keys: Array<{ key: string; policy: KeyPolicy }> = [];
    this.filePolicyMatchers ??= Object.entries(this.config.files).map(([glob, entry]) => ({ glob, matches: loadPicomatch()(glob, { dot: true }), entry }));
    for (const { glob, matches, entry } of this.filePolicyMatchers) {
      if (!matches(targetRel)) continue;
      this.usedFilePolicies.add(glob);
      if (entry.skip !== undefined) skip = entry.skip;
      for (const [key, policy] of Object.entries(entry.keys)) keys.push({ key, policy });
    }
    return { skip, keys };
  }

  /**
   * What was looked for, and the nearest example-looking file (example-patterns.ts `nearestExample`) among those
   * of the service folder (as deep as the unreferenced-example scan) and of the target's folder inside the repo.
   */
  private async describeMissingExample(service: FoundService, target: string, candidates: string[]): Promise<string> {
    const bySuffix = new Set(this.config.examples.suffixes.map((suffix) => target + suffix));
    const fromPatterns = candidates.filter((c) => !bySuffix.has(c)).map((c) => this.rel(c));
    const looked = `looked for ${candidates.filter((c) => bySuffix.has(c)).map((c) => this.rel(c)).join(', ')}${fromPatterns.length > 0 ? `, then from examples.patterns ${fromPatterns.join(', ')}` : ''}`;
    const nearby: NearbyExample[] = [];
    const seen = new Set<string>();
    const collect = (file: string) => {
      const suffix = this.config.examples.suffixes.find((s) => file.endsWith(s) && path.basename(file).length > s.length);
      if (suffix === undefined || seen.has(file) || !isInside(this.root, file)) return;
      seen.add(file);
      nearby.push({ file, stem: path.basename(file).slice(0, -suffix.length) });
    };
    for (const file of await this.listExampleFiles(service.dir, new Set())) collect(file);
    const targetDir = path.dirname(target);
    if (isInside(this.root, targetDir) || targetDir === this.root) {
      this.inputs.add(targetDir);
      // A folder that does not exist (yet) holds no candidate: not a problem to report here.
      const listed = await this.listOnce(targetDir);
      const entries = 'entries' in listed ? listed.entries : [];
      for (const entry of entries) if (entry.kind !== 'dir') collect(path.join(targetDir, entry.name));
    }
    const nearest = nearestExample(target, nearby);
    if (nearest === null) return looked;
    const pattern = suggestPattern(service.dir, target, nearest.file);
    const key = toPosixRelative(service.dir, target);
    return (
      `${looked}; did you mean ${this.rel(nearest.file)}? ` +
      (pattern !== null ? `Add the pattern "${pattern}" to examples.patterns in coffre.yaml, or set` : 'Set') +
      ` services.${service.name}.files["${key}"].example: ${toPosixRelative(service.dir, nearest.file)}`
    );
  }

  /**
   * Where a path compose reads really is: relative to `baseDir`, or absolute (mapped into the repo by
   * `compose.absoluteTargets`). An unmapped absolute path keeps its own name, so messages about it do not
   * depend on where the repo is checked out.
   */
  private locateTarget(value: string, baseDir: string): { target: string; targetRel: string; inside: boolean; absolute: boolean } {
    if (path.isAbsolute(value)) {
      const normal = path.posix.normalize(value);
      const mapping = Object.entries(this.config.compose?.absoluteTargets ?? {})
        .map(([from, to]) => [from.replace(/\/+$/, '') || '/', to] as const)
        .filter(([from]) => normal === from || normal.startsWith(from === '/' ? '/' : `${from}/`))
        .sort((a, b) => b[0].length - a[0].length)[0];
      if (mapping === undefined) return { target: normal, targetRel: normal, inside: false, absolute: true };
      const target = path.join(this.root, mapping[1], normal.slice(mapping[0].length));
      return { target, targetRel: this.rel(target), inside: isInside(this.root, target), absolute: false };
    }
    const target = path.resolve(baseDir, value);
    return { target, targetRel: this.rel(target), inside: isInside(this.root, target), absolute: false };
  }

  private async sourceFor(service: FoundService, target: string, name: string, override: FileOverride | undefined): Promise<SourceRef | null> {
    const vault = this.config.vault;
    const values = { prefix: vault.prefix, service: service.name, name };
    if (override?.source !== undefined) {
      this.overriddenTargets.add(target);
      const source = override.source;
      if (source === null) return null;
      if (source.kind === 'sops') {
        return { kind: 'sops', file: path.resolve(service.dir, source.file), format: source.format ?? sopsFormatOf(source.file) };
      }
      return { kind: 'vault', mount: source.mount, path: vaultPathFor(source.path, values) };
    }
    for (const suffix of this.config.sops.suffixes) {
      const file = target + suffix;
      if (await this.isFile(file)) return { kind: 'sops', file, format: sopsFormatOf(file) };
    }
    if (!this.options.vaultEnabled) return null;
    return { kind: 'vault', mount: vault.mount, path: vaultPathFor(vault.path, values) };
  }

  private noSourceReason(target: string, override: FileOverride | undefined): string {
    if (override?.source === null) return 'source: null in coffre.yaml: no source holds this file';
    const sops = this.config.sops.suffixes.map((suffix) => this.rel(target + suffix));
    return `no sops file beside it and no Vault address: set BAO_ADDR (or VAULT_ADDR, or vault.address in coffre.yaml) or add a sops file ${sops[0] ?? this.rel(target) + '.sops.yaml'}${sops.length > 1 ? ` (or ${sops.slice(1).join(', ')})` : ''}`;
  }

  private findFileOverride(service: FoundService, target: string): FileOverride | undefined {
    const files = this.config.services[service.name]?.files ?? {};
    for (const [key, override] of Object.entries(files)) {
      if (path.resolve(service.dir, key) === target) {
        this.usedFileOverrides.add(`${service.name}\0${key}`);
        return override;
      }
    }
    return undefined;
  }

  /** Variables for `${VAR}` in paths: the given environment, then the project's `.env` files (the first holding a name wins). */
  private async projectLookup(service: FoundService, project: ProjectPlan): Promise<VariableLookup> {
    const environment = this.options.environment ?? {};
    const dotenv = new Map<string, string>();
    for (const file of project.dotenvFiles) {
      const values = await this.readDotenv(service.name, file, environment);
      for (const [key, value] of values ?? []) if (!dotenv.has(key)) dotenv.set(key, value);
    }
    return (name) => environment[name] ?? dotenv.get(name);
  }

  /** An example `.env` read for COMPOSE_FILE only; null when it cannot be read or parsed. */
  private async readExampleSettings(file: string): Promise<Map<string, string> | null> {
    try {
      this.inputs.add(file);
      const text = await this.files.readText(file, MAX_DOTENV_BYTES);
      return new Map(parseEnvFile(text, { file: this.rel(file), lookup: () => undefined }).entries.map((entry) => [entry.key, entry.value] as const));
    } catch {
      return null;
    }
  }

  /** `.env` files read, by path: each is read (and its problems reported) once. */
  private readonly dotenvReads = new Map<string, Promise<Map<string, string> | null>>();

  /** A `.env` as compose reads it (its own `${VAR}` from `environment`); null when absent, a problem when unreadable. */
  private readDotenv(service: string | undefined, dotenvFile: string, environment: Readonly<Record<string, string | undefined>>): Promise<Map<string, string> | null> {
    let read = this.dotenvReads.get(dotenvFile);
    if (read === undefined) {
      read = this.readDotenvOnce(service, dotenvFile, environment);
      this.dotenvReads.set(dotenvFile, read);
    }
    return read;
  }

  private async readDotenvOnce(service: string | undefined, dotenvFile: string, environment: Readonly<Record<string, string | undefined>>): Promise<Map<string, string> | null> {
    let text: string;
    try {
      this.inputs.add(dotenvFile);
      text = await this.files.readText(dotenvFile, MAX_DOTENV_BYTES);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.problems.push({ severity: 'warning', code: 'COFFRE_COMPOSE_INVALID', ...(service !== undefined ? { service } : {}), file: this.rel(dotenvFile), message: `cannot read the project ${path.basename(dotenvFile)}: ${describeReadError(error)}` });
      }
      return null;
    }
    try {
      const parsed = parseEnvFile(text, { file: this.rel(dotenvFile), lookup: (name) => environment[name] });
      return new Map(parsed.entries.map((entry) => [entry.key, entry.value] as const));
    } catch (error) {
      if (!isCoffreError(error)) throw error;
      this.problems.push({ severity: 'error', code: 'COFFRE_COMPOSE_INVALID', ...(service !== undefined ? { service } : {}), file: this.rel(dotenvFile), ...(error.location.line !== undefined ? { line: error.location.line } : {}), message: `the project ${path.basename(dotenvFile)} cannot be parsed: ${error.message}` });
      return null;
    }
  }

  /**
   * The project `.env` (`${VAR}` of the compose files) is a secrets file too when the compose files interpolate
   * variables and an example of it exists (`.env.example`, `.env.dist`, `.env.sample`, `env.example`, `env.sample`…). Variables
   * used without a default that the example does not declare are reported (COMPOSE_VARIABLE_UNDECLARED).
   */
  private async addProjectDotenv(found: FoundService, project: ProjectPlan, layers: ComposeLayer[], targets: Map<string, TargetAccumulator>): Promise<void> {
    const variables = new Map<string, { hasDefault: boolean; fileRel: string }>();
    for (const layer of layers) {
      for (const use of layer.parsed.variables) {
        const seen = variables.get(use.name);
        if (seen === undefined) variables.set(use.name, { hasDefault: use.hasDefault, fileRel: layer.fileRel });
        else seen.hasDefault &&= use.hasDefault;
      }
    }
    if (variables.size === 0) return;
    const dotenv = project.dotenvFiles[0]!;
    const candidates = [...this.config.examples.suffixes.map((suffix) => dotenv + suffix), ...this.config.examples.suffixes.map((suffix) => path.join(path.dirname(dotenv), PROJECT_ENV_EXAMPLE_STEM + suffix))];
    let example: string | undefined;
    for (const candidate of candidates) {
      if (await this.isFile(candidate)) {
        example = candidate;
        break;
      }
    }
    if (example === undefined) return;
    const firstFile = layers[0]!.fileRel;
    const existing = targets.get(dotenv);
    if (existing === undefined) {
      const where = this.locateTarget(path.relative(found.dir, dotenv), found.dir);
      targets.set(dotenv, { ...where, declaredPath: path.relative(found.dir, dotenv).split(path.sep).join('/'), format: 'compose', required: true, line: null, fileRel: firstFile, example, projectEnv: true });
    } else if (existing.format === 'compose') {
      existing.example ??= example;
    }
    this.referencedExamples.add(example);

    let declared: Set<string>;
    try {
      const text = await this.files.readText(example, MAX_DOTENV_BYTES);
      this.inputs.add(example);
      declared = new Set(parseExample(text, this.rel(example)).keys.map((key) => key.name));
    } catch {
      // An unreadable or invalid example is reported where it is checked.
      return;
    }
    const environment = this.options.environment ?? {};
    const undeclared = [...variables].filter(([name, use]) => !use.hasDefault && !declared.has(name) && environment[name] === undefined && !name.startsWith('COMPOSE_'));
    if (undeclared.length > 0) {
      this.problem('warning', 'COMPOSE_VARIABLE_UNDECLARED', found.name, undeclared[0]![1].fileRel, null, `${undeclared.map(([name]) => name).join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} interpolated by the compose file with no default, but ${this.rel(example)} does not declare ${undeclared.length === 1 ? 'it' : 'them'}: the project .env coffre renders would leave ${undeclared.length === 1 ? 'it' : 'them'} unset`);
    }
  }

  /** Warns about env-like example files in service folders that no env_file uses. */
  async reportUnreferencedExamples(services: ServiceModel[], found: FoundService[]): Promise<void> {
    const serviceDirs = new Set(found.map((s) => s.dir));
    const isComposeName = (stem: string) => this.composeFileNames(new Set([stem])).length > 0;
    for (const service of services) {
      for (const file of await this.listExampleFiles(service.dir, serviceDirs)) {
        if (this.referencedExamples.has(file)) continue;
        const suffix = this.config.examples.suffixes.find((s) => file.endsWith(s))!;
        const stem = path.basename(file).slice(0, -suffix.length);
        if (isComposeName(stem) || classifyExample(stem, path.relative(service.dir, path.dirname(file))) !== 'env') continue;
        this.problems.push({
          severity: 'warning',
          code: 'EXAMPLE_UNREFERENCED',
          service: service.name,
          file: this.rel(file),
          message: `${this.rel(file)} is an example that no env_file of ${service.composeFileRel} uses`,
        });
      }
    }
  }

  private async listExampleFiles(serviceDir: string, serviceDirs: Set<string>): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      const entries = await this.readDirectory(dir);
      for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const full = path.join(dir, entry.name);
        if (entry.kind === 'dir') {
          const rel = this.rel(full);
          if (depth < EXAMPLE_SCAN_DEPTH && !entry.name.startsWith('.') && !serviceDirs.has(full) && !this.isExcluded(rel, entry.name)) await walk(full, depth + 1);
        } else if (this.config.examples.suffixes.some((s) => entry.name.endsWith(s) && entry.name.length > s.length) && (await this.filesIn(dir)).has(entry.name)) {
          out.push(full);
        }
      }
    };
    await walk(serviceDir, 0);
    return out;
  }

  /** Warns about coffre.yaml services and files that match nothing, so a typo is not silently ignored. */
  reportConfigMismatches(found: FoundService[]): void {
    const file = this.options.configFile ? this.rel(path.resolve(this.root, this.options.configFile)) : 'coffre.yaml';
    const names = new Set(found.map((s) => s.name));
    for (const [serviceName, serviceConfig] of Object.entries(this.config.services)) {
      if (!names.has(serviceName)) {
        this.problems.push({ severity: 'warning', code: 'COFFRE_CONFIG_INVALID', file, message: `services.${serviceName} matches no service folder (services: ${[...names].join(', ') || 'none'})` });
        continue;
      }
      if (serviceConfig.skip) continue;
      for (const key of Object.keys(serviceConfig.files)) {
        if (this.usedFileOverrides.has(`${serviceName}\0${key}`)) continue;
        this.problems.push({ severity: 'warning', code: 'COFFRE_CONFIG_INVALID', service: serviceName, file, message: `services.${serviceName}.files["${key}"] matches no env_file target of ${serviceName}` });
      }
    }
    for (const glob of Object.keys(this.config.files)) {
      if (!this.usedFilePolicies.has(glob)) this.problems.push({ severity: 'warning', code: 'COFFRE_CONFIG_INVALID', file, message: `files["${glob}"] matches no env_file target (globs match target paths relative to the repo root)` });
    }
  }

  /** Two targets whose derived Vault paths coincide would share one secret: an error, unless coffre.yaml chose it. */
  reportVaultPathCollisions(services: ServiceModel[]): void {
    const seen = new Map<string, SecretFileModel>();
    for (const file of services.flatMap((s) => s.secretFiles)) {
      if (file.source?.kind !== 'vault' || this.overriddenTargets.has(file.target)) continue;
      const key = `${file.source.mount}\0${file.source.path}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, file);
      } else if (first.target !== file.target) {
        this.problems.push({
          severity: 'error',
          code: 'COFFRE_CONFIG_INVALID',
          service: file.service,
          file: this.rel(this.serviceComposeFile(services, file.service)),
          ...(file.composeLine !== null ? { line: file.composeLine } : {}),
          message: `${file.targetRel} and ${first.targetRel} both map to Vault path ${file.source.mount}/${file.source.path}: set services.${file.service}.files.<target>.source in coffre.yaml`,
        });
      }
    }
  }

  /**
   * One file read by two services (an `include:`d or `extends:`ed file of another service folder, `../` paths)
   * must come from one source, or the last render would win: an error naming both, unless the sources agree.
   */
  reportSharedTargets(services: ServiceModel[]): void {
    const seen = new Map<string, SecretFileModel>();
    const describe = (file: SecretFileModel): string => (file.source === null ? 'no source' : file.source.kind === 'vault' ? `Vault ${file.source.mount}/${file.source.path}` : `sops ${this.rel(file.source.file)}`);
    for (const file of services.flatMap((s) => s.secretFiles)) {
      const first = seen.get(file.target);
      if (first === undefined) {
        seen.set(file.target, file);
      } else if (first.service !== file.service && describe(first) !== describe(file)) {
        this.problems.push({
          severity: 'error',
          code: 'COFFRE_CONFIG_INVALID',
          service: file.service,
          file: file.targetRel,
          message: `${file.targetRel} is a target of ${first.service} (${describe(first)}) and of ${file.service} (${describe(file)}): give it one source (a sops file beside it, or services.<s>.files.<target>.source in coffre.yaml for both)`,
        });
      }
    }
  }

  private serviceComposeFile(services: ServiceModel[], name: string): string {
    return services.find((s) => s.name === name)?.composeFile ?? this.root;
  }

  private async readDirectory(dir: string): Promise<RepoEntry[]> {
    this.inputs.add(dir);
    const listed = await this.listOnce(dir);
    if ('entries' in listed) return listed.entries;
    this.problems.push({ severity: 'warning', code: 'COFFRE_USAGE', file: this.rel(dir), message: `cannot list ${this.rel(dir)}: ${(listed.error as NodeJS.ErrnoException).code ?? 'error'}` });
    return [];
  }

  /**
   * Each folder is listed once per discovery, whoever asks (the walk, presence probes, the example scans):
   * the outcome is kept, a failure too, so that every caller still reports (or ignores) it as it did.
   */
  private readonly listings = new Map<string, Promise<{ entries: RepoEntry[] } | { error: unknown }>>();

  private listOnce(dir: string): Promise<{ entries: RepoEntry[] } | { error: unknown }> {
    let listed = this.listings.get(dir);
    if (listed === undefined) {
      listed = this.files.list(dir).then(
        (entries) => ({ entries }),
        (error: unknown) => ({ error }),
      );
      this.listings.set(dir, listed);
    }
    return listed;
  }

  /** Regular files (or links to one) per folder, from its one listing: examples, sops and compose files are probed by name. */
  private readonly fileListings = new Map<string, Promise<Set<string>>>();

  /** The sets of {@link fileListings} already settled: most probes are answered without waiting on a promise. */
  private readonly knownFileNames = new Map<string, Set<string>>();

  /** The names of a folder's regular files (symlinks resolved by the view); none when it cannot be listed. */
  private filesIn(dir: string): Promise<Set<string>> {
    let names = this.fileListings.get(dir);
    if (names === undefined) {
      names = this.listOnce(dir).then(async (listed) => {
        const out = new Set<string>();
        // A folder that cannot be listed holds no file we could use; a probe is not the place to report it.
        if (!('entries' in listed)) return out;
        for (const entry of listed.entries) {
          if (entry.kind === 'file') out.add(entry.name);
          // Only a link costs a look at what it points to.
          else if (entry.kind === 'symlink' && (await isFileEntry(this.files, dir, entry))) out.add(entry.name);
        }
        this.knownFileNames.set(dir, out);
        return out;
      });
      this.fileListings.set(dir, names);
    }
    return names;
  }

  /** A probe for a file's presence: one listing of its folder answers every probe there (and its change time covers them). */
  private async isFile(file: string): Promise<boolean> {
    const dir = path.dirname(file);
    this.inputs.add(dir);
    return (this.knownFileNames.get(dir) ?? (await this.filesIn(dir))).has(path.basename(file));
  }

  private problem(severity: RepoProblem['severity'], code: RepoProblem['code'], service: string, file: string, line: number | null, message: string): void {
    this.problems.push({ severity, code, service, file, ...(line !== null ? { line } : {}), message });
  }

  private rel(absolute: string): string {
    return toPosixRelative(this.root, absolute);
  }
}

/** `absolute` relative to `root`, with `/` separators; `.` for the root itself. */
export function toPosixRelative(root: string, absolute: string): string {
  return path.relative(root, absolute).split(path.sep).join('/') || '.';
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The default project of a service folder: `docker compose` run in it, override file merged, its own `.env`. */
function defaultProject(found: FoundService): ProjectPlan {
  return { files: [found.composeFile], projectDir: found.dir, dotenvFiles: [path.join(found.dir, '.env')], overrides: true, ownsDotenv: true };
}

function describeFormat(format: TargetAccumulator['format']): string {
  return format === 'secret' ? 'a secret file' : `format ${format}`;
}

/**
 * Whether an example's stem (its name without the example suffix) names an env file: `*.secrets`, `*.env`,
 * `.env`, `.env.*`, `env`, or any file in a `secrets/` folder. Other templates (`nginx.conf.sample`) are not ours.
 */
export function isEnvLike(stem: string, relDir: string): boolean {
  return classifyExample(stem, relDir) === 'env';
}

/** A pattern that picomatch would match only against the identical string (no glob syntax, plain segments). */
const LITERAL_PATTERN = /^(?!\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._-]+)*$/;

/**
 * A matcher for exclude patterns: literal names (the defaults `node_modules`, `.git`) by equality, anything
 * else by picomatch, required only then (start-up: a check with the default config never loads it).
 */
export function excludeMatcher(patterns: string[]): (value: string) => boolean {
  const literals = new Set(patterns.filter((p) => LITERAL_PATTERN.test(p)));
  const globs = patterns.filter((p) => !literals.has(p));
  if (globs.length === 0) return (value) => literals.has(value);
  const glob = loadPicomatch()(globs, { dot: true });
  return (value) => literals.has(value) || glob(value);
}
