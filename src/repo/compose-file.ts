// Reads the `env_file` entries of a compose file's services from its YAML text, with their lines. Pure: no
// file access, no interpolation (the caller resolves `${VAR}` in paths), no other compose semantics.
// Handles the three `env_file` shapes, YAML anchors/aliases and `<<` merge keys; reports `extends:` and
// `include:` for the caller to follow or refuse (they name other files), and refuses alias bombs.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type YAMLMap } from 'yaml';
import { listComposeVariables, type ComposeVariableUse } from './compose-interpolation.js';
import { describeYamlError, lineOfError, lineOfNode, parseLocatedYaml } from './yaml-position.js';

/** One `env_file` entry of one compose service, before `${VAR}` interpolation of its path. */
export interface ComposeEnvFileEntry {
  /** The compose service (`services.<name>`) declaring it. */
  composeService: string;
  /** The path as written, relative to the compose file's folder unless absolute. */
  path: string;
  /** `required:` of the long syntax; true for the short syntax (compose's default). */
  required: boolean;
  /** `format: raw` of the long syntax, else the compose dotenv dialect. */
  format: 'compose' | 'raw';
  /** 1-based line of the entry in the compose file. */
  line: number | null;
}

/** Something wrong in the compose file; it never holds a value from an env file. */
export interface ComposeFileProblem {
  line: number | null;
  message: string;
}

/** `extends:` of one compose service: its env_file entries come from `service` (in `file`, or this file). */
export interface ComposeServiceExtends {
  composeService: string;
  /** The base service. */
  service: string;
  /** The file holding the base service as written (before interpolation), or null for the same file. */
  file: string | null;
  line: number | null;
}

/** One top-level `include:` entry (compose ≥ 2.20): another compose file whose services join the project. */
export interface ComposeInclude {
  line: number | null;
  /** The compose file(s) included, as written (before interpolation); empty when the entry is unreadable. */
  paths: string[];
  /** `project_directory:` as written, or null. */
  projectDirectory: string | null;
  /** `env_file:` as written (one or a list), or null for the default (`.env` beside the included file). */
  envFiles: string[] | null;
}

/** One top-level `secrets.<name>.file` (a file compose mounts into containers as is). */
export interface ComposeSecretFile {
  /** The secret's name (`secrets.<name>`). */
  name: string;
  /** The path as written, before interpolation, relative to the project directory unless absolute. */
  path: string;
  line: number | null;
}

/** What {@link readComposeEnvFiles} found. A YAML syntax error gives one problem and no entries. */
export interface ComposeEnvFiles {
  entries: ComposeEnvFileEntry[];
  problems: ComposeFileProblem[];
  /** Services declaring `extends:`, in file order. */
  extends: ComposeServiceExtends[];
  /** Top-level `include:` entries. */
  includes: ComposeInclude[];
  /** Names of the services the file declares. */
  services: string[];
  /** Top-level secrets read from a file, in file order. */
  secretFiles: ComposeSecretFile[];
  /** Variables the file's values interpolate (`${VAR}`, `$VAR`), in order of first use. */
  variables: ComposeVariableUse[];
}

/**
 * How many nodes alias expansion may produce: docker compose (go-yaml) refuses "excessive aliasing" too,
 * and a billion-laughs file must be a named error, not an exhausted process.
 */
export const MAX_COMPOSE_ALIAS_COUNT = 10_000;

/** Lists the `env_file` entries of every service of a compose file, in file order. */
export function readComposeEnvFiles(text: string): ComposeEnvFiles {
  const { doc, lineCounter } = parseLocatedYaml(text);
  const [syntaxError] = doc.errors;
  if (syntaxError) {
    return { ...empty(), problems: [{ line: lineOfError(syntaxError, lineCounter), message: `not valid YAML: ${describeYamlError(syntaxError)}` }] };
  }
  let expanded: unknown = null;
  // Without an alias (`*`) nothing can expand, and without `$` (nor `\`, whose escapes could write one) no value
  // interpolates anything: the expansion would find nothing, so it is skipped (most compose files, ~10 % of a
  // parse). The parser itself refuses nesting deep enough to exhaust toJS (RESOURCE_EXHAUSTION, a syntax error).
  if (!text.includes('*') && !text.includes('$') && !text.includes('\\')) return readNodes(doc, lineCounter, []);
  try {
    // Expanded once only to bound the aliasing (the reader below walks nodes and never expands).
    expanded = doc.toJS({ maxAliasCount: MAX_COMPOSE_ALIAS_COUNT });
  } catch (error) {
    const bomb = (error instanceof ReferenceError && /excessive alias/i.test(error.message)) || error instanceof RangeError;
    // Anything else (an alias to an unknown anchor, a bad merge source) the reader reports with its line.
    if (bomb) return { ...empty(), problems: [{ line: null, message: `YAML aliases expand to too many nodes (more than ${MAX_COMPOSE_ALIAS_COUNT}, or nested too deep): refused as an alias bomb` }] };
  }
  const variables = new Map<string, ComposeVariableUse>();
  collectVariables(expanded, variables);
  return readNodes(doc, lineCounter, [...variables.values()]);
}

/** What the node reader finds in a parsed, valid document, with the variables found by the caller. */
function readNodes(doc: Document.Parsed, lineCounter: LineCounter, variables: ComposeVariableUse[]): ComposeEnvFiles {
  const reader = new EnvFileReader(doc, lineCounter);
  reader.readDocument();
  return { entries: reader.entries, problems: reader.problems, extends: reader.extends, includes: reader.includes, services: reader.services, secretFiles: reader.secretFiles, variables };
}

function empty(): ComposeEnvFiles {
  return { entries: [], problems: [], extends: [], includes: [], services: [], secretFiles: [], variables: [] };
}

/** Every string value of the expanded document, scanned for variables (mapping keys are not interpolated). */
function collectVariables(value: unknown, into: Map<string, ComposeVariableUse>): void {
  if (typeof value === 'string') listComposeVariables(value, into);
  else if (Array.isArray(value)) for (const item of value) collectVariables(item, into);
  else if (value instanceof Map) for (const item of value.values()) collectVariables(item, into);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) collectVariables(item, into);
}

class EnvFileReader {
  readonly entries: ComposeEnvFileEntry[] = [];
  readonly problems: ComposeFileProblem[] = [];
  readonly extends: ComposeServiceExtends[] = [];
  readonly includes: ComposeInclude[] = [];
  readonly services: string[] = [];
  readonly secretFiles: ComposeSecretFile[] = [];

  constructor(
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  readDocument(): void {
    const top = this.resolve(this.doc.contents);
    if (top === null || top === undefined || (isScalar(top) && top.value === null)) return;
    if (!isMap(top)) {
      this.problem(top, 'the top level is not a mapping');
      return;
    }
    const include = this.resolve(this.get(top, 'include'));
    if (include !== undefined && !(isScalar(include) && include.value === null)) {
      if (isSeq(include)) for (const item of include.items) this.readInclude(item);
      else this.problem(include, '"include" must be a list');
    }
    this.readSecrets(this.resolve(this.get(top, 'secrets')));
    const services = this.resolve(this.get(top, 'services'));
    if (services === undefined || (isScalar(services) && services.value === null)) return;
    if (!isMap(services)) {
      this.problem(services, '"services" is not a mapping');
      return;
    }
    for (const pair of services.items) {
      if (!isPair(pair) || !isScalar(pair.key) || this.isMergeKey(pair.key)) continue;
      const name = String(pair.key.value);
      const service = this.resolve(pair.value);
      this.services.push(name);
      if (!isMap(service)) continue;
      const extendsNode = this.get(service, 'extends');
      if (extendsNode !== undefined) this.readExtends(name, extendsNode);
      const envFile = this.get(service, 'env_file');
      if (envFile !== undefined) this.readEnvFileValue(name, envFile);
    }
  }

  /** One `include:` entry: a path, or `{path, project_directory, env_file}` (path and env_file: one or a list). */
  private readInclude(node: unknown): void {
    const value = this.resolve(node);
    const line = lineOfNode(value ?? node, this.lineCounter);
    const strings = (item: unknown, field: string): string[] | null => {
      const resolved = this.resolve(item);
      if (isScalar(resolved) && typeof resolved.value === 'string' && resolved.value !== '') return [resolved.value];
      if (isSeq(resolved)) {
        const out: string[] = [];
        for (const entry of resolved.items) {
          const one = this.resolve(entry);
          if (!isScalar(one) || typeof one.value !== 'string' || one.value === '') {
            this.problem(one ?? resolved, `include: ${field} must be a path or a list of paths`);
            return null;
          }
          out.push(one.value);
        }
        return out;
      }
      this.problem(resolved ?? value, `include: ${field} must be a path or a list of paths`);
      return null;
    };
    if (isScalar(value)) {
      this.includes.push({ line, paths: strings(value, 'an entry') ?? [], projectDirectory: null, envFiles: null });
      return;
    }
    if (!isMap(value)) {
      this.problem(value ?? node, 'include: an entry must be a path or a {path, project_directory, env_file} mapping');
      return;
    }
    const paths = strings(this.get(value, 'path'), 'path') ?? [];
    const directory = this.resolve(this.get(value, 'project_directory'));
    const envFile = this.get(value, 'env_file');
    this.includes.push({
      line,
      paths,
      projectDirectory: isScalar(directory) && typeof directory.value === 'string' ? directory.value : null,
      envFiles: envFile === undefined ? null : (strings(envFile, 'env_file') ?? []),
    });
  }

  /** Top-level `secrets:`: those with `file:` (others come from the environment or are external). */
  private readSecrets(secrets: unknown): void {
    if (secrets === undefined || (isScalar(secrets) && secrets.value === null)) return;
    if (!isMap(secrets)) {
      this.problem(secrets, '"secrets" is not a mapping');
      return;
    }
    for (const pair of secrets.items) {
      if (!isPair(pair) || !isScalar(pair.key) || this.isMergeKey(pair.key)) continue;
      const name = String(pair.key.value);
      const secret = this.resolve(pair.value);
      if (!isMap(secret)) continue;
      const file = this.resolve(this.get(secret, 'file'));
      if (file === undefined || (isScalar(file) && file.value === null)) continue;
      if (!isScalar(file) || typeof file.value !== 'string' || file.value === '') {
        this.problem(file, `secrets.${name}.file must be a non-empty path`);
        continue;
      }
      this.secretFiles.push({ name, path: file.value, line: lineOfNode(file, this.lineCounter) });
    }
  }

  private readEnvFileValue(service: string, node: unknown): void {
    const value = this.resolve(node);
    if (isScalar(value)) {
      if (value.value === null) return;
      this.readShortEntry(service, value);
    } else if (isSeq(value)) {
      for (const item of value.items) {
        const resolved = this.resolve(item);
        if (isMap(resolved)) this.readLongEntry(service, resolved);
        else if (isScalar(resolved)) this.readShortEntry(service, resolved);
        else this.problem(item ?? value, `services.${service}.env_file: an entry must be a path or a {path, required, format} mapping`);
      }
    } else {
      this.problem(value ?? node, `services.${service}.env_file must be a path or a list`);
    }
  }

  /** `extends: base` or `extends: {service: base, file: other.yml}`. */
  private readExtends(service: string, node: unknown): void {
    const value = this.resolve(node);
    const where = `services.${service}.extends`;
    if (isScalar(value) && typeof value.value === 'string' && value.value !== '') {
      this.extends.push({ composeService: service, service: value.value, file: null, line: lineOfNode(value, this.lineCounter) });
      return;
    }
    if (!isMap(value)) {
      this.problem(value ?? node, `${where} must be a service name or a {service, file} mapping`);
      return;
    }
    const base = this.resolve(this.get(value, 'service'));
    if (!isScalar(base) || typeof base.value !== 'string' || base.value === '') {
      this.problem(base ?? value, `${where} needs a "service"`);
      return;
    }
    const file = this.resolve(this.get(value, 'file'));
    if (file !== undefined && !(isScalar(file) && typeof file.value === 'string' && file.value !== '')) {
      this.problem(file, `${where}.file must be a path`);
      return;
    }
    this.extends.push({ composeService: service, service: base.value, file: isScalar(file) ? (file.value as string) : null, line: lineOfNode(value, this.lineCounter) });
  }

  private readShortEntry(service: string, node: { value: unknown }): void {
    if (typeof node.value !== 'string' || node.value === '') {
      this.problem(node, `services.${service}.env_file: an entry must be a non-empty path`);
      return;
    }
    this.entries.push({ composeService: service, path: node.value, required: true, format: 'compose', line: lineOfNode(node, this.lineCounter) });
  }

  private readLongEntry(service: string, map: YAMLMap): void {
    const where = `services.${service}.env_file`;
    for (const pair of map.items) {
      const key = isPair(pair) && isScalar(pair.key) ? pair.key.value : undefined;
      if (key !== 'path' && key !== 'required' && key !== 'format' && !(isPair(pair) && isScalar(pair.key) && this.isMergeKey(pair.key))) {
        this.problem(isPair(pair) ? pair.key : map, `${where}: unknown key ${JSON.stringify(String(key))} (expected path, required, format)`);
      }
    }
    const pathNode = this.resolve(this.get(map, 'path'));
    if (!isScalar(pathNode) || typeof pathNode.value !== 'string' || pathNode.value === '') {
      this.problem(pathNode ?? map, `${where}: an entry needs a non-empty "path"`);
      return;
    }
    const requiredNode = this.resolve(this.get(map, 'required'));
    let required = true;
    if (requiredNode !== undefined) {
      if (!isScalar(requiredNode) || typeof requiredNode.value !== 'boolean') {
        this.problem(requiredNode, `${where}: "required" must be true or false`);
        return;
      }
      required = requiredNode.value;
    }
    const formatNode = this.resolve(this.get(map, 'format'));
    let format: 'compose' | 'raw' = 'compose';
    if (formatNode !== undefined && !(isScalar(formatNode) && formatNode.value === null)) {
      if (!isScalar(formatNode) || formatNode.value !== 'raw') {
        this.problem(formatNode, `${where}: "format" can only be raw (or absent)`);
        return;
      }
      format = 'raw';
    }
    this.entries.push({ composeService: service, path: pathNode.value, required, format, line: lineOfNode(map, this.lineCounter) });
  }

  /** Value of `key` in `map`: its own pairs first, then `<<` merged maps in order (YAML merge-key rules). */
  private get(map: YAMLMap, key: string, seen = new Set<YAMLMap>()): unknown {
    if (seen.has(map)) return undefined;
    seen.add(map);
    for (const pair of map.items) {
      if (isPair(pair) && isScalar(pair.key) && pair.key.value === key) return pair.value;
    }
    for (const pair of map.items) {
      if (!isPair(pair) || !isScalar(pair.key) || !this.isMergeKey(pair.key)) continue;
      const merged = this.resolve(pair.value);
      const sources = isSeq(merged) ? merged.items.map((item) => this.resolve(item)) : [merged];
      for (const source of sources) {
        if (!isMap(source)) continue;
        const found = this.get(source, key, seen);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private isMergeKey(key: { value: unknown; source?: string }): boolean {
    return typeof key.value === 'symbol' || key.value === '<<';
  }

  /** Follows aliases; an alias to an unknown anchor is a problem and resolves to undefined. */
  private resolve(node: unknown): unknown {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target === undefined) this.problem(node, `unknown alias *${node.source}`);
    return target;
  }

  private problem(node: unknown, message: string): void {
    this.problems.push({ line: lineOfNode(node, this.lineCounter), message });
  }
}
