// `coffre rotate | set | versions | rollback`: argv → the rotate/versions use-cases → a value-free summary,
// one `audit:` JSON line per write on stderr, and an exit code. A value reaches stdout only with --show on a TTY.
import { GENERATE_ALPHABETS, type GenerateCharset } from '../core/generate.js';
import { CoffreError, ERROR_CODES } from '../errors.js';
import path from 'node:path';
import { describeReadError, readBoundedText } from '../repo/bounded-read.js';
import { runSetFromFile, type FileValuesResult } from '../use-cases/import.js';
import { runRender } from '../use-cases/render.js';
import { runRollback, runRotate, type AuditRecord, type NewValue, type WriteMode, type WriteResult } from '../use-cases/rotate.js';
import { listVersions, type VersionsReport } from '../use-cases/versions.js';
import { openWorkspace } from '../use-cases/workspace.js';
import type { OptionSpec } from './args.js';
import { flagOf, stringOf, type CliCommand, type Invocation } from './command.js';
import { isTerminalInput, readHiddenLines } from './hidden-prompt.js';
import type { CliIo } from './io.js';
import { locateRepo, normalizeServiceName, repoFlagFor } from './repo-root.js';

const NOT_SOPS_ROTATE = `"Rotate" here means a NEW VALUE for one key. It is not \`sops rotate\` (re-keying a sops file's data key):
coffre keeps the file's data key and re-encrypts only the changed value.`;

export const rotateUsage = `usage: coffre [-C DIR] rotate <service> <file> <KEY> (--generate [--length N] [--charset C] | --value-stdin)
                              [--render] [--show] [--allow-extra] [--format text|json]

Writes a new value for KEY of a secrets file to its source: Vault/OpenBao KV v2 with check-and-set against
the version read (a concurrent change fails with COFFRE_CONFLICT, exit 5; nothing is retried blindly), or the
sops file, rewritten atomically with its own data key (unchanged values keep their ciphertext, new MAC).
${NOT_SOPS_ROTATE}
<file> is the secrets file's logical name (\`db\` for secrets/db.secrets) or its target path relative to the service.
  -C, --repo DIR       act as if started in DIR (env COFFRE_REPO): the repo is found upwards from there
  --generate           a random value: the example's \`@generate=<charset>:<length>\`, else alnum:32
  --charset C          alnum, hex, base64url or ascii-safe (overrides the example)
  --length N           characters to generate (overrides the example)
  --value-stdin        read the value from stdin (one trailing newline removed; empty only if @allow-empty);
                       on a terminal: prompted on stderr, not echoed, typed twice (a mismatch writes nothing)
  --render             re-render the service's targets afterwards (on failure: exit non-zero + how to roll back)
  --show               print the new value on stdout, only when stdout is a terminal
  --allow-extra        allow a KEY the example does not declare
  --format, -f FMT     text (default) or json (names and versions, never the value)
KEY must exist in the store (use \`coffre set\` for a first value).
exit codes: 0 written, 2 usage, 3 source error (e.g. COFFRE_SOURCE_DENIED), 4 render failed, 5 conflict`;

export const setUsage = `usage: coffre [-C DIR] set <service> <file> <KEY> (--value-stdin | --generate [--length N] [--charset C])
                           [--render] [--show] [--allow-extra] [--format text|json]
       coffre [-C DIR] set <service> <file> --from-file F [--allow-extra] [--render] [--format text|json]

Gives KEY its first value (refused when KEY already has one: use \`coffre rotate\`). A missing Vault secret is
created with check-and-set 0; a sops file must exist already. Options as for \`coffre rotate\`.
  --from-file F        every KEY=value of F (compose env_file syntax, read exactly as compose reads it; \`-\` =
                       stdin) in ONE write: one Vault KV version (check-and-set), or one sops re-encryption;
                       keys new or replaced, other stored keys kept; keys not in the example need --allow-extra`;

export const versionsUsage = `usage: coffre [-C DIR] versions <service> <file> [--format text|json]

Vault/OpenBao KV v2: every kept version with its creation date (deleted/destroyed marked) and the current one.
sops: the file's \`lastmodified\` and, in a git checkout, its recent commits. Never reads a value.`;

export const rollbackUsage = `usage: coffre [-C DIR] rollback <service> <file> --to <version> [--render] [--format text|json]

Vault/OpenBao KV v2 only: writes the data of version <version> as a new current version, with check-and-set.
sops files have no versions of their own: restore one from git (\`git checkout <commit> -- <file>\`).`;

const valueOptions: readonly OptionSpec[] = [
  { name: 'generate', type: 'boolean' },
  { name: 'value-stdin', type: 'boolean' },
  { name: 'length', type: 'string' },
  { name: 'charset', type: 'string' },
  { name: 'render', type: 'boolean' },
  { name: 'show', type: 'boolean' },
  { name: 'allow-extra', type: 'boolean' },
  { name: 'format', short: 'f', type: 'string' },
];

/** `coffre rotate`: a new value for an existing key. */
export const rotateCommand: CliCommand = {
  summary: 'a new VALUE for one key, in Vault (check-and-set) or the sops file (not sops re-keying)',
  usage: rotateUsage,
  formats: ['text', 'json'],
  options: valueOptions,
  run: (invocation, io) => writeCommand('rotate', invocation, io),
};

/** `coffre set`: the first value of a key, or several keys from an env file. */
export const setCommand: CliCommand = {
  summary: 'the first value of a key missing from its source, or several keys --from-file in one write',
  usage: setUsage,
  formats: ['text', 'json'],
  options: [...valueOptions, { name: 'from-file', type: 'string' }],
  run: (invocation, io) => (stringOf(invocation.values, 'from-file') !== undefined ? setFromFile(invocation, io) : writeCommand('set', invocation, io)),
};

async function setFromFile(invocation: Invocation, io: CliIo): Promise<number> {
  const from = stringOf(invocation.values, 'from-file') as string;
  const format = formatOf(stringOf(invocation.values, 'format'));
  for (const name of ['generate', 'value-stdin', 'show', 'length', 'charset'] as const) {
    if (invocation.values[name] !== undefined && invocation.values[name] !== false) throw new CoffreError('COFFRE_USAGE', `--from-file does not go with --${name}\n${setUsage}`);
  }
  const where = await locateRepo(io, invocation.repo, invocation.positionals, { positionals: 3 });
  if (where.positionals.length !== 2) throw new CoffreError('COFFRE_USAGE', `coffre set --from-file takes 2 names (<service> <file>), got ${where.positionals.length}\n${setUsage}`);
  const service = normalizeServiceName(where.positionals[0] as string);
  const file = where.positionals[1] as string;
  const label = from === '-' ? '(stdin)' : from;
  const text = from === '-' ? await readStdinText(io, '--from-file -', 'the input') : await readFromFile(path.resolve(io.cwd, from), from);
  const workspace = await openWorkspace({ root: where.root, env: io.env });
  try {
    const result = await runSetFromFile(workspace, { service, file, text, label, allowExtra: flagOf(invocation.values, 'allow-extra'), who: whoOf(io), audit: auditLine(io) });
    io.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : describeFileValues(result));
    if (!flagOf(invocation.values, 'render') || result.status !== 'written') return 0;
    const report = await runRender(workspace, { services: [result.service] });
    const rendered = report.services[0];
    io.stdout.write(`  render ${result.service}: ${rendered?.status ?? 'none'}\n`);
    if (rendered !== undefined && rendered.status !== 'written' && rendered.status !== 'unchanged') {
      const error = rendered.error ?? { code: 'COFFRE_TARGET_WRITE' as const, message: `render ended as ${rendered.status}` };
      io.stderr.write(`coffre: the new values are stored but rendering ${result.service} failed: ${error.code}: ${error.message}\n`);
      return Math.max(1, ERROR_CODES[error.code].exit);
    }
    return 0;
  } finally {
    workspace.close();
  }
}

async function readFromFile(absolute: string, shown: string): Promise<string> {
  try {
    return await readBoundedText(absolute, MAX_STDIN_BYTES);
  } catch (error) {
    throw new CoffreError('COFFRE_USAGE', `--from-file: cannot read ${shown}: ${describeReadError(error)}`);
  }
}

/** One file's multi-key write: key names by outcome, versions; never a value. */
export function describeFileValues(result: FileValuesResult): string {
  const where = `${result.service}/${result.file} (${result.source.ref === '' ? 'no source' : `${result.source.kind} ${result.source.ref}`})`;
  let change = '';
  if (result.status === 'written') change = result.source.kind === 'vault' ? `: version ${result.oldVersion ?? 'none'} → ${result.newVersion}` : `: lastmodified ${result.oldLastModified} → ${result.newLastModified}`;
  const lines = [`${result.status} ${where}${change}${result.created ? ' (new sops file)' : ''}`];
  const { keys } = result;
  const names = (label: string, list: string[]): void => void (list.length > 0 && lines.push(`  ${label}: ${list.join(', ')}`));
  names('new', keys.new);
  names(result.status === 'refused' || result.status === 'would-write' || result.status === 'unchanged' ? 'differs' : 'replaced', keys.differs);
  names('same', keys.same);
  names('not in the example', keys.extra);
  names('with $ expansion (read with an empty environment)', keys.interpolated);
  if (result.error) lines.push(`  refused: ${result.error.code}: ${result.error.message}`);
  return `${lines.join('\n')}\n`;
}

async function writeCommand(mode: Exclude<WriteMode, 'upsert'>, invocation: Invocation, io: CliIo): Promise<number> {
  const usage = mode === 'rotate' ? rotateUsage : setUsage;
  const values = {
    generate: flagOf(invocation.values, 'generate'),
    'value-stdin': flagOf(invocation.values, 'value-stdin'),
    length: stringOf(invocation.values, 'length'),
    charset: stringOf(invocation.values, 'charset'),
    render: flagOf(invocation.values, 'render'),
    show: flagOf(invocation.values, 'show'),
    'allow-extra': flagOf(invocation.values, 'allow-extra'),
  };
  const format = formatOf(stringOf(invocation.values, 'format'));
  // Usage is settled before stdin is read and before the repo is opened.
  const where = await locateRepo(io, invocation.repo, invocation.positionals, { positionals: 4 });
  const [service, file, key] = namesOf(where.positionals, 3, `coffre ${mode}`, usage);
  if (values.generate === values['value-stdin']) throw new CoffreError('COFFRE_USAGE', `give exactly one of --generate or --value-stdin\n${usage}`);
  if (!values.generate && (values.length !== undefined || values.charset !== undefined)) throw new CoffreError('COFFRE_USAGE', '--length and --charset go with --generate');
  const value: NewValue = values.generate ? { kind: 'generate', ...generateOptions(values.charset, values.length) } : { kind: 'value', value: await readValue(io, key) };
  const show = values.show && io.stdout.isTTY === true;
  if (values.show && !show) io.stderr.write('coffre: --show ignored: stdout is not a terminal, the value is not printed\n');

  const workspace = await openWorkspace({ root: where.root, env: io.env });
  let revealed: string | null = null;
  try {
    const result = await runRotate(workspace, {
      service,
      file,
      key,
      value,
      mode,
      allowExtra: values['allow-extra'],
      render: values.render,
      who: whoOf(io),
      audit: auditLine(io),
      ...(show ? { reveal: (v: string) => void (revealed = v) } : {}),
    });
    io.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : describeWrite(result));
    if (revealed !== null) io.stdout.write(`${revealed}\n`);
    return finishAfterRender(result, io, repoFlagFor(io.cwd, where.root));
  } finally {
    workspace.close();
  }
}

/** `coffre versions`. */
export const versionsCommand: CliCommand = {
  summary: 'versions of a secrets file (Vault KV v2 versions; sops lastmodified + git)',
  usage: versionsUsage,
  formats: ['text', 'json'],
  options: [{ name: 'format', short: 'f', type: 'string' }],
  run: versions,
};

async function versions(invocation: Invocation, io: CliIo): Promise<number> {
  const format = formatOf(stringOf(invocation.values, 'format'));
  const where = await locateRepo(io, invocation.repo, invocation.positionals, { positionals: 3 });
  const [service, file] = namesOf(where.positionals, 2, 'coffre versions', versionsUsage);
  const workspace = await openWorkspace({ root: where.root, env: io.env });
  try {
    const report = await listVersions(workspace, { service, file });
    io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : describeVersions(report));
    return 0;
  } finally {
    workspace.close();
  }
}

/** `coffre rollback`. */
export const rollbackCommand: CliCommand = {
  summary: 'make an older Vault KV v2 version current again (check-and-set)',
  usage: rollbackUsage,
  formats: ['text', 'json'],
  options: [
    { name: 'to', type: 'string' },
    { name: 'render', type: 'boolean' },
    { name: 'format', short: 'f', type: 'string' },
  ],
  run: rollback,
};

async function rollback(invocation: Invocation, io: CliIo): Promise<number> {
  const format = formatOf(stringOf(invocation.values, 'format'));
  const to = stringOf(invocation.values, 'to');
  const where = await locateRepo(io, invocation.repo, invocation.positionals, { positionals: 3 });
  const [service, file] = namesOf(where.positionals, 2, 'coffre rollback', rollbackUsage);
  if (to === undefined || !/^[1-9][0-9]{0,15}$/.test(to)) throw new CoffreError('COFFRE_USAGE', `rollback needs --to <version> (a KV v2 version number)\n${rollbackUsage}`);
  const workspace = await openWorkspace({ root: where.root, env: io.env });
  try {
    const result = await runRollback(
      workspace,
      { service, file, to: Number(to), render: flagOf(invocation.values, 'render'), who: whoOf(io), audit: auditLine(io) },
    );
    io.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : describeWrite(result));
    return finishAfterRender(result, io, repoFlagFor(io.cwd, where.root));
  } finally {
    workspace.close();
  }
}

/** Exactly `count` names (`<service> <file> [<KEY>]`). */
function namesOf(positionals: string[], count: 2 | 3, command: string, usage: string): [string, string, string] {
  if (positionals.length === count) return [normalizeServiceName(positionals[0] as string), ...positionals.slice(1)] as [string, string, string];
  throw new CoffreError('COFFRE_USAGE', `${command} takes ${count} names (${count === 3 ? '<service> <file> <KEY>' : '<service> <file>'}), got ${positionals.length}; name the repo with -C DIR\n${usage}`);
}

function formatOf(format: string | undefined = 'text'): 'text' | 'json' {
  if (format !== 'text' && format !== 'json') throw new CoffreError('COFFRE_USAGE', `unknown --format "${format}" (expected text or json)`);
  return format;
}

function generateOptions(charset: string | undefined, length: string | undefined): { charset?: GenerateCharset; length?: number } {
  const out: { charset?: GenerateCharset; length?: number } = {};
  if (charset !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(GENERATE_ALPHABETS, charset)) {
      throw new CoffreError('COFFRE_USAGE', `unknown --charset "${charset}" (one of ${Object.keys(GENERATE_ALPHABETS).join(', ')})`);
    }
    out.charset = charset as GenerateCharset;
  }
  if (length !== undefined) {
    if (!/^[0-9]{1,5}$/.test(length)) throw new CoffreError('COFFRE_USAGE', `--length must be a number of characters`);
    out.length = Number(length);
  }
  return out;
}

const MAX_STDIN_BYTES = 1024 * 1024;

/** The value for --value-stdin: typed twice with echo off on a terminal, else read whole from the pipe. */
async function readValue(io: CliIo, key: string): Promise<string> {
  if (!isTerminalInput(io.stdin)) return readValueFromStdin(io);
  const [first, second] = await readHiddenLines(io.stdin, io.stderr, [`New value for ${key} (not echoed): `, `Type it again: `], MAX_STDIN_BYTES);
  if (first !== second) throw new CoffreError('COFFRE_USAGE', `--value-stdin: the two values typed for ${key} differ; nothing written`);
  return first as string;
}

/** One value from stdin: UTF-8, at most 1 MiB, ONE trailing LF removed (a CR before it is kept). */
async function readValueFromStdin(io: CliIo): Promise<string> {
  const text = await readStdinText(io, '--value-stdin', 'the value');
  // Exactly one LF: a CR before it is part of the value (the README's rule), not a line ending to eat.
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** All of stdin as UTF-8 text (at most 1 MiB; a BOM kept). */
export async function readStdinText(io: CliIo, option: string, what: string): Promise<string> {
  if (io.stdin === undefined) throw new CoffreError('COFFRE_USAGE', `${option}: no standard input available`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new CoffreError('COFFRE_USAGE', `${option}: ${what} is larger than 1 MiB`);
    chunks.push(buffer);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new CoffreError('COFFRE_USAGE', `${option}: ${what} is not valid UTF-8`);
  }
}

export function whoOf(io: CliIo): string {
  return io.env.USER || io.env.LOGNAME || 'unknown';
}

/** Refusals of the command line itself (bad name, unknown service): nothing was attempted, nothing to audit. */
export const NOT_AUDITED = new Set<string>(['COFFRE_USAGE', 'COFFRE_SERVICE_UNKNOWN']);

/** One `audit: {json}` line on stderr per write attempt (names and versions only); usage refusals get none. */
export function auditLine(io: CliIo): (record: AuditRecord) => void {
  return (record) => {
    if (record.errorCode !== undefined && NOT_AUDITED.has(record.errorCode)) return;
    io.stderr.write(`audit: ${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
}

function describeWrite(result: WriteResult): string {
  const where = `${result.service}/${result.file} (${result.source.kind} ${result.source.ref})`;
  const verb = result.action === 'rollback' ? 'rolled back' : result.action === 'set' ? 'set' : 'rotated';
  const what = result.key === null ? where : `${result.key} of ${where}`;
  let change: string;
  if (result.source.kind === 'vault') change = `version ${result.oldVersion ?? 'none'} → ${result.newVersion}`;
  else if (!result.changed) change = 'unchanged (same value)';
  else change = `lastmodified ${result.oldLastModified} → ${result.newLastModified}`;
  const lines = [`${verb} ${what}: ${change}${result.created ? ' (new key)' : ''}`];
  if (result.generated) lines.push(`  value: generated (${result.generated.charset}, ${result.generated.length} characters), not shown`);
  if (result.render) lines.push(`  render ${result.service}: ${result.render.status}`);
  return `${lines.join('\n')}\n`;
}

/** After a write: a failed render is reported with the way back, and exits non-zero. */
function finishAfterRender(result: WriteResult, io: CliIo, repoFlag: string): number {
  if (!result.renderFailed || !result.render) return 0;
  const error = result.render.error ?? { code: 'COFFRE_TARGET_WRITE' as const, message: `render ended as ${result.render.status}` };
  const stored = result.source.kind === 'vault' ? `version ${result.newVersion}` : `lastmodified ${result.newLastModified}`;
  io.stderr.write(`coffre: the new ${result.action === 'rollback' ? 'data is' : 'value is'} stored (${stored}) but rendering ${result.service} failed: ${error.code}: ${error.message}\n`);
  io.stderr.write(`coffre: to roll back: ${rollbackHint(result, repoFlag)}\n`);
  return Math.max(1, ERROR_CODES[error.code].exit);
}

function rollbackHint(result: WriteResult, repoFlag: string): string {
  switch (result.rollback.kind) {
    case 'vault':
      return `coffre ${repoFlag}rollback ${result.service} ${result.file} --to ${result.rollback.toVersion}`;
    case 'vault-new-secret':
      return `the secret did not exist before: delete it (bao kv metadata delete ${result.source.ref})`;
    case 'sops':
      return `git ${repoFlag}checkout -- ${result.rollback.file}`;
  }
}

function describeVersions(report: VersionsReport): string {
  const head = `${report.service}/${report.file} (${report.source.kind} ${report.source.ref})`;
  if (!report.exists) return `${head}: does not exist\n`;
  if (report.source.kind === 'vault' && 'versions' in report) {
    const lines = [`${head}: current version ${report.currentVersion}`];
    for (const v of [...report.versions].reverse()) {
      const state = v.destroyed ? ' destroyed' : v.deletionTime !== '' ? ` deleted ${v.deletionTime}` : '';
      lines.push(`  ${v.current ? '*' : ' '} v${v.version}  ${v.createdTime}${state}`);
    }
    return `${lines.join('\n')}\n`;
  }
  if ('lastModified' in report) {
    const lines = [`${head}: lastmodified ${report.lastModified}`];
    if (report.git === null) lines.push('  (not in a git work tree: no history)');
    else if (report.git.length === 0) lines.push('  (no commits of this file yet)');
    else for (const c of report.git) lines.push(`  ${c.commit.slice(0, 12)}  ${c.date}  ${c.subject}`);
    return `${lines.join('\n')}\n`;
  }
  return `${head}\n`;
}
