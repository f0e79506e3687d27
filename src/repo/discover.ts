// Discovers the services of an infra repo (folders with a compose file), their env_file targets, examples and
// sources, and reports what is wrong as problems rather than throwing. Reads files only; writes nothing and
// never opens a rendered target or reads a secret value (the project .env is read for `${VAR}` in paths only).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type picomatchType from 'picomatch';
import { parseEnvFile } from '../core/env-file.js';
import { CoffreError, isCoffreError, type ErrorCode } from '../errors.js';
import type { SourceRef } from '../core/source-ref.js';
import { describeReadError, MAX_COMPOSE_BYTES, MAX_DOTENV_BYTES } from './bounded-read.js';
import { readComposeEnvFiles, type ComposeEnvFileEntry, type ComposeEnvFiles, type ComposeServiceExtends } from './compose-file.js';
import { interpolateComposeString, type VariableLookup } from './compose-interpolation.js';
import { renderSettingsFor, type CoffreConfig, type FileOverride, type RenderSettings } from './config.js';
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
  /** The env_file path as written in compose, after `${VAR}` interpolation (render refuses `..` and absolute ones). */
  declaredPath: string;
  format: 'compose' | 'raw';
  /** False only when every compose entry naming the target says `required: false`. */
  required: boolean;
  /** Absolute example, or null when none exists. */
  example: string | null;
  exampleRel: string | null;
  /** Line of the first compose entry naming the target. */
  composeLine: number | null;
  source: SourceRef | null;
  /**
   * Why `source` is null, said to the user instead of "missing" for every key: no sops file beside the target
   * and no Vault address, or `source: null` in coffre.yaml. Absent when there is a source. Never holds a value.
   */
  noSourceReason?: string;
}

/** Something discovery found wrong; `file` is posix, relative to the root. Never holds a value. */
export interface RepoProblem {
  severity: 'error' | 'warning';
  code: ErrorCode | 'EXAMPLE_UNREFERENCED';
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

/** How many `extends:` hops are followed before the chain is refused (compose refuses cycles). */
const MAX_EXTENDS_DEPTH = 10;

/** One parsed compose file of a service: the compose file, its override, or a file an `extends:` names. */
interface ComposeLayer {
  file: string;
  fileRel: string;
  parsed: ComposeEnvFiles;
}

/** An env_file entry with the compose file declaring it and the folder its relative path resolves from. */
interface LocatedEntry {
  entry: ComposeEnvFileEntry;
  fileRel: string;
  baseDir: string;
}

interface FoundService {
  name: string;
  dir: string;
  composeFile: string;
}

/**
 * Walks `root` for services and builds the repo model. Throws only when the root cannot be read; everything
 * else (invalid compose YAML, unresolvable `${VAR}`, missing examples, unsafe targets…) is a problem.
 */
export async function discoverRepo(options: DiscoverRepoOptions): Promise<RepoModel> {
  const root = path.resolve(options.root);
  const rootStat = await stat(root).catch((error: unknown) => {
    throw new CoffreError('COFFRE_USAGE', `cannot read repo root ${root}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {}, { cause: error });
  });
  if (!rootStat.isDirectory()) throw new CoffreError('COFFRE_USAGE', `repo root ${root} is not a directory`);

  const discovery = new Discovery(root, options);
  const found = options.services ? await discovery.findNamedServiceFolders(options.services) : await discovery.findServiceFolders();
  const skipped = found.filter((service) => options.config.services[service.name]?.skip).map((service) => service.name);
  // Services are independent reads of independent folders; problems keep discovery order per service.
  const services = await Promise.all(found.filter((service) => !options.config.services[service.name]?.skip).map((service) => discovery.readService(service)));
  await discovery.reportUnreferencedExamples(services, found);
  if (!options.services) discovery.reportConfigMismatches(found);
  discovery.reportVaultPathCollisions(services);
  return { root, services, skipped, problems: discovery.problems, inputs: [...discovery.inputs] };
}

interface TargetAccumulator {
  target: string;
  declaredPath: string;
  format: 'compose' | 'raw';
  required: boolean;
  line: number | null;
}

class Discovery {
  readonly problems: RepoProblem[] = [];
  /** See RepoModel.inputs. */
  readonly inputs = new Set<string>();
  /** Examples some secrets file uses (or would use, for skipped files): never "unreferenced". */
  private readonly referencedExamples = new Set<string>();
  /** `services.<s>.files.<t>` keys that matched a target, as `<s>\0<t>`. */
  private readonly usedFileOverrides = new Set<string>();
  /** Targets whose source came from coffre.yaml (exempt from the collision check). */
  private readonly overriddenTargets = new Set<string>();
  private readonly config: CoffreConfig;
  private readonly isExcluded: (relPath: string, name: string) => boolean;
  /** Files named by `extends: {file}`, per service (`service\0file`). */
  private readonly extendedFiles = new Map<string, Promise<ComposeLayer | null>>();
  private readonly files: RepoFiles;

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
      const entries = await this.readDirectory(dir);
      const files = new Set<string>();
      for (const entry of entries) if (await isFileEntry(this.files, dir, entry)) files.add(entry.name);
      const composeName = this.config.discovery.composeFiles.find((candidate) => files.has(candidate));
      if (composeName !== undefined) found.push({ name, dir, composeFile: path.join(dir, composeName) });
    }
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Service folders up to `maxDepth`, skipping hidden and excluded folders and never following symlinks. */
  async findServiceFolders(): Promise<FoundService[]> {
    const found: FoundService[] = [];
    // Sibling folders are read side by side: a repo of hundreds of services is mostly waiting on readdir.
    const visit = async (dir: string, rel: string, depth: number): Promise<void> => {
      const entries = await this.readDirectory(dir);
      const files = new Set<string>();
      await Promise.all(
        entries.map(async (entry) => {
          if (await isFileEntry(this.files, dir, entry)) files.add(entry.name);
        }),
      );
      const composeNames = this.config.discovery.composeFiles.filter((name) => files.has(name));
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
    const main = await this.readComposeFile(found, found.composeFile);
    if (main === null) return model;
    // compose reads the first override file beside the default compose file as if given with a second -f.
    const layers = [main];
    const overrideFile = await this.findOverrideFile(found);
    if (overrideFile !== null) {
      const override = await this.readComposeFile(found, overrideFile);
      if (override !== null) layers.push(override);
    }
    const lookup = this.lazyLookup(found);
    const located: LocatedEntry[] = [];
    for (const layer of layers) {
      for (const include of layer.parsed.includes) {
        this.problem('error', 'COFFRE_COMPOSE_UNSUPPORTED', found.name, layer.fileRel, include.line, `"include:" is not supported: the env_file targets of included compose files would be neither checked nor rendered (make their folders services of their own)`);
      }
      // Relative paths of the compose file and its override resolve from the project folder.
      for (const entry of layer.parsed.entries) located.push({ entry, fileRel: layer.fileRel, baseDir: found.dir });
    }
    for (const layer of layers) {
      for (const base of layer.parsed.extends) located.push(...(await this.extendedEntries(found, layer, found.dir, base, lookup, 1)));
    }

    const targets = new Map<string, TargetAccumulator>();
    for (const { entry, fileRel, baseDir } of located) {
      const resolved = entry.path.includes('$') ? interpolateComposeString(entry.path, await lookup()) : ({ ok: true, value: entry.path } as const);
      if (!resolved.ok) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, fileRel, entry.line, `env_file "${entry.path}" of services.${entry.composeService}: ${resolved.reason}`);
        continue;
      }
      const target = path.resolve(baseDir, resolved.value);
      const previous = targets.get(target);
      if (!previous) {
        // A path written in another folder's compose file is given relative to this service's folder, so
        // render's rule "targets inside the service folder" holds whichever file named it.
        const declaredPath = baseDir === found.dir ? resolved.value : path.relative(found.dir, target).split(path.sep).join('/');
        targets.set(target, { target, declaredPath, format: entry.format, required: entry.required, line: entry.line });
        continue;
      }
      previous.required ||= entry.required;
      if (previous.format !== entry.format) {
        this.problem('error', 'COFFRE_COMPOSE_INVALID', found.name, fileRel, entry.line, `${resolved.value} is read as format ${entry.format} here but as ${previous.format} at line ${previous.line ?? '?'}: one file cannot be rendered both ways`);
      }
    }
    for (const accumulator of targets.values()) {
      const file = await this.buildSecretFile(found, composeFileRel, accumulator);
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
    const out: LocatedEntry[] = target.parsed.entries.filter((e) => e.composeService === ext.service).map((entry) => ({ entry, fileRel: target.fileRel, baseDir: targetDir }));
    for (const next of target.parsed.extends.filter((e) => e.composeService === ext.service)) {
      out.push(...(await this.extendedEntries(found, target, targetDir, next, lookup, depth + 1)));
    }
    return out;
  }

  /** The project lookup, read at most once per service and only when a `${VAR}` needs it. */
  private lazyLookup(found: FoundService): () => Promise<VariableLookup> {
    let lookup: Promise<VariableLookup> | undefined;
    return () => (lookup ??= this.projectLookup(found));
  }

  private async buildSecretFile(service: FoundService, composeFileRel: string, acc: TargetAccumulator): Promise<SecretFileModel | null> {
    const targetRel = this.rel(acc.target);
    const override = this.findFileOverride(service, acc.target);
    const exampleCandidates = this.config.examples.suffixes.map((suffix) => acc.target + suffix);
    if (override?.skip) {
      for (const candidate of exampleCandidates) this.referencedExamples.add(candidate);
      if (override.example) this.referencedExamples.add(path.resolve(service.dir, override.example));
      return null;
    }

    let example: string | null = null;
    if (override?.example !== undefined) {
      const configured = path.resolve(service.dir, override.example);
      this.referencedExamples.add(configured);
      if (await this.isFile(configured)) example = configured;
      else this.problem('error', 'COFFRE_EXAMPLE_MISSING', service.name, composeFileRel, acc.line, `the example configured for ${targetRel} in coffre.yaml, ${this.rel(configured)}, does not exist`);
    } else {
      for (const candidate of exampleCandidates) {
        if (await this.isFile(candidate)) {
          example = candidate;
          break;
        }
      }
      if (example === null) {
        const looked = exampleCandidates.map((c) => this.rel(c)).join(', ');
        this.problem('error', 'COFFRE_EXAMPLE_MISSING', service.name, composeFileRel, acc.line, `env_file ${targetRel} has no example (looked for ${looked})`);
      } else {
        this.referencedExamples.add(example);
      }
    }

    if (isOutsideOrUp(this.root, acc.target, acc.declaredPath)) {
      this.problem('warning', 'COFFRE_TARGET_UNSAFE', service.name, composeFileRel, acc.line, `env_file ${acc.declaredPath} ${isInside(this.root, acc.target) ? 'climbs with ".."' : 'is outside the repo'}; render will refuse it`);
    }

    const name = secretFileName(acc.target);
    const source = await this.sourceFor(service, acc.target, name, override);
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
      source,
      ...(source === null ? { noSourceReason: this.noSourceReason(acc.target, override) } : {}),
    };
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

  /** Variables for `${VAR}` in env_file paths: the given environment, then the project `.env` beside the compose file. */
  private async projectLookup(service: FoundService): Promise<VariableLookup> {
    const environment = this.options.environment ?? {};
    const dotenvFile = path.join(path.dirname(service.composeFile), '.env');
    const dotenv = new Map<string, string>();
    let text: string | null = null;
    try {
      this.inputs.add(dotenvFile);
      text = await this.files.readText(dotenvFile, MAX_DOTENV_BYTES);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.problem('warning', 'COFFRE_COMPOSE_INVALID', service.name, this.rel(dotenvFile), null, `cannot read the project .env: ${describeReadError(error)}`);
      }
    }
    if (text !== null) {
      try {
        const parsed = parseEnvFile(text, { file: this.rel(dotenvFile), lookup: (name) => environment[name] });
        for (const entry of parsed.entries) dotenv.set(entry.key, entry.value);
      } catch (error) {
        if (!isCoffreError(error)) throw error;
        this.problem('error', 'COFFRE_COMPOSE_INVALID', service.name, this.rel(dotenvFile), error.location.line ?? null, `the project .env cannot be parsed: ${error.message}`);
      }
    }
    return (name) => environment[name] ?? dotenv.get(name);
  }

  /** Warns about env-like example files in service folders that no env_file uses. */
  async reportUnreferencedExamples(services: ServiceModel[], found: FoundService[]): Promise<void> {
    const serviceDirs = new Set(found.map((s) => s.dir));
    const composeNames = new Set(this.config.discovery.composeFiles);
    for (const service of services) {
      for (const file of await this.listExampleFiles(service.dir, serviceDirs)) {
        if (this.referencedExamples.has(file)) continue;
        const suffix = this.config.examples.suffixes.find((s) => file.endsWith(s))!;
        const stem = path.basename(file).slice(0, -suffix.length);
        if (composeNames.has(stem) || !isEnvLike(stem, path.relative(service.dir, path.dirname(file)))) continue;
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
        } else if (this.config.examples.suffixes.some((s) => entry.name.endsWith(s) && entry.name.length > s.length) && (await isFileEntry(this.files, dir, entry))) {
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

  private serviceComposeFile(services: ServiceModel[], name: string): string {
    return services.find((s) => s.name === name)?.composeFile ?? this.root;
  }

  private async readDirectory(dir: string): Promise<RepoEntry[]> {
    this.inputs.add(dir);
    try {
      return await this.files.list(dir);
    } catch (error) {
      this.problems.push({ severity: 'warning', code: 'COFFRE_USAGE', file: this.rel(dir), message: `cannot list ${this.rel(dir)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` });
      return [];
    }
  }

  /** Regular files (or links to one) per folder, listed once: examples and sops files are probed by name. */
  private readonly fileListings = new Map<string, Promise<Set<string>>>();

  /** A probe for a file's presence: one listing of its folder answers every probe there (and its change time covers them). */
  private async isFile(file: string): Promise<boolean> {
    const dir = path.dirname(file);
    this.inputs.add(dir);
    let listing = this.fileListings.get(dir);
    if (listing === undefined) {
      listing = this.files.list(dir).then(
        async (entries) => {
          const names = new Set<string>();
          await Promise.all(entries.map(async (entry) => (await isFileEntry(this.files, dir, entry)) && names.add(entry.name)));
          return names;
        },
        // A folder that cannot be listed holds no file we could use; a probe is not the place to report it.
        () => new Set<string>(),
      );
      this.fileListings.set(dir, listing);
    }
    return (await listing).has(path.basename(file));
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

function isOutsideOrUp(root: string, target: string, declared: string): boolean {
  return !isInside(root, target) || declared.split(/[\\/]/).includes('..');
}

/**
 * Whether an example's stem (its name without the example suffix) names an env file: `*.secrets`, `*.env`,
 * `.env`, `.env.*`, `env`, or any file in a `secrets/` folder. Other templates (`nginx.conf.sample`) are not ours.
 */
export function isEnvLike(stem: string, relDir: string): boolean {
  if (/\.(secrets|env)$/.test(stem) || stem === '.env' || stem === 'env' || stem.startsWith('.env.')) return true;
  return relDir.split(/[\\/]/).includes('secrets');
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
  const picomatch = createRequire(import.meta.url)('picomatch') as typeof picomatchType;
  const glob = picomatch(globs, { dot: true });
  return (value) => literals.has(value) || glob(value);
}
