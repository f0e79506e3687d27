// `coffre guard`: refuses a commit (the index) or a tree (tracked files, or everything `git add -A` would stage)
// that holds a rendered target, a sops file with clear-text values or no metadata, a target the ignore rules
// no longer cover, or (with the store) a current secret value. Reads through git-tree.ts (hardened git);
// findings carry names, paths and lines, never a value nor a line's content. Also installs the git hook.
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { GuardFinding, GuardReport, GuardScope } from '../core/guard-report.js';
import type { SopsStoreFormat } from '../core/source-ref.js';
import { looksLikePlaceholder } from '../core/placeholder.js';
import { CoffreError } from '../errors.js';
import { gitignoreLineFor, targetsNotIgnoredByGitignore, targetsNotIgnoredInIndex, whyNotIgnored } from '../render/git-exposure.js';
import { userConfigValues } from '../render/git-command.js';
import { gitCommonDirOf, gitPrefixOf, listGitFiles, readGitBlobs, type GitFileEntry } from '../render/git-tree.js';
import { loadConfig } from '../repo/config.js';
import { discoverRepo, type RepoModel } from '../repo/discover.js';
import { readExampleOf } from '../repo/read-example.js';
import { inspectSopsText } from '../sources/sops.js';
import { indexFiles } from './commit-view.js';
import { readValuesOf, sourceLabel } from './source-set.js';
import { openWorkspace, type Environment } from './workspace.js';

export interface GuardOptions {
  root: string;
  env: Environment;
  scope: GuardScope;
  /** Compare every line with the current store values (needs the Vault token / age key, like render). */
  withStore: boolean;
  /** `staged`: the index to read (absolute GIT_INDEX_FILE a pre-commit hook gets), instead of .git/index. */
  indexFile?: string;
}

/** The shortest value guard looks for: shorter ones would match ordinary text. */
export const MIN_GUARDED_VALUE_LENGTH = 8;

/**
 * The sops store of a file named like a sops source, or null: `<name>.sops` (binary) or
 * `<name>.sops.{yaml,yml,json,env,ini}` with a non-empty name (`.sops.yaml`, sops' own configuration, is not
 * one), also with a backup suffix (`.bak`, `.orig`, `.dec`, `.decrypted`…: where `sops -d` output lands).
 */
export function sopsStoreOfName(file: string): SopsStoreFormat | null {
  const match = /^.+\.sops(?:\.(ya?ml|json|env|ini))?(?:\.(?:bak|backup|orig|old|dec|decrypted|plain|clear|tmp|save|copy|swp)|~)*$/i.exec(path.posix.basename(file));
  if (!match) return null;
  const extension = match[1]?.toLowerCase();
  return extension === undefined ? 'binary' : extension === 'yml' ? 'yaml' : extension === 'env' ? 'dotenv' : (extension as SopsStoreFormat);
}

interface Needle {
  value: string;
  key: string;
  where: string;
}

export async function runGuard(options: GuardOptions): Promise<GuardReport> {
  const root = path.resolve(options.root);
  // The files first: a root outside any git work tree is refused before anything else is read.
  const files = await listGitFiles(root, options.scope === 'staged' ? 'staged' : options.scope === 'tracked' ? 'tracked' : 'addable', options.scope === 'staged' ? options.indexFile : undefined);
  const findings: GuardFinding[] = [];
  let needles: Needle[] = [];
  let repo: RepoModel | undefined;
  if (options.withStore) {
    const workspace = await openWorkspace({ root, env: options.env });
    try {
      repo = workspace.repo;
      needles = await storeNeedles(workspace.repo, workspace.sources);
    } finally {
      workspace.close();
    }
  }
  if (repo === undefined || options.scope === 'staged') {
    // The targets come from the compose files alone (no Vault setting or key needed), as the next commit holds
    // them for --staged: the index's compose files and examples, not the work tree's.
    const { config, file: configFile } = await loadConfig(root);
    repo = await discoverRepo({ root, config, vaultEnabled: false, configFile, ...(options.scope === 'staged' ? { files: indexFiles(root, files) } : {}) });
  }

  for (const problem of repo.problems) {
    if (problem.severity !== 'error' || !problem.code.startsWith('COFFRE_COMPOSE_')) continue;
    findings.push({
      code: 'GUARD_TARGETS_UNKNOWN',
      file: problem.file,
      ...(problem.line !== undefined ? { line: problem.line } : {}),
      message: `${problem.code}: ${problem.message} (the env_file targets it declares cannot be guarded)`,
    });
  }

  const targets = new Map<string, string>();
  const sopsSources = new Map<string, SopsStoreFormat>();
  for (const service of repo.services) {
    for (const file of service.secretFiles) {
      // A target outside the repo (`../…`, or an absolute path such as a `${VAR:-/dev/null}` default) is no file of it.
      if (!file.targetRel.startsWith('../') && !path.isAbsolute(file.targetRel)) targets.set(file.targetRel, service.name);
      const label = sourceLabel(root, file.source);
      if (file.source?.kind === 'sops' && label.ref !== null) sopsSources.set(label.ref, file.source.format);
    }
  }

  const held = options.scope === 'staged' ? 'staged' : 'tracked';
  for (const entry of files) {
    const service = targets.get(entry.path);
    if (service === undefined) continue;
    findings.push({
      code: 'GUARD_RENDERED_TARGET',
      file: entry.path,
      message:
        `${entry.path} is an env_file target of service ${service} (a rendered secrets file) and is ${options.scope === 'tree' ? 'tracked or about to be added' : held}: ` +
        `never commit it (git rm --cached -- ${entry.path}), and rotate its values if it was ever pushed`,
    });
  }

  if (targets.size > 0) {
    const notIgnored = options.scope === 'staged' ? await targetsNotIgnoredInIndex(root, [...targets.keys()], options.indexFile) : await targetsNotIgnoredByGitignore(root, [...targets.keys()]);
    for (const entry of notIgnored) {
      const why = whyNotIgnored(entry);
      findings.push({
        code: 'GUARD_TARGET_NOT_IGNORED',
        file: entry.rel,
        message: `env_file target ${entry.rel} of service ${targets.get(entry.rel)} is not ignored by git (${why}): add the line ${gitignoreLineFor(entry.rel)} to .gitignore`,
      });
    }
  }

  const content = contentReader(root, options.scope, files);
  for (const entry of files) {
    const format = sopsStoreOfName(entry.path) ?? sopsSources.get(entry.path);
    if (format === undefined) continue;
    const bytes = await content(entry);
    if (bytes === null) continue;
    const inspection = inspectSopsText(bytes.toString('utf8'), entry.path, format);
    if (inspection.kind === 'no-metadata') {
      findings.push({
        code: 'GUARD_SOPS_NO_METADATA',
        file: entry.path,
        ...(inspection.line !== undefined && inspection.code !== 'COFFRE_SOPS_METADATA' ? { line: inspection.line } : {}),
        message: `${entry.path} is named like a sops file but is not one (${inspection.code}): a decrypted copy, or never encrypted; encrypt it with sops (sops encrypt -i) or remove it, and rotate its values if it was ever pushed`,
      });
    } else if (inspection.kind === 'plaintext') {
      for (const key of inspection.keys) {
        findings.push({
          code: 'GUARD_SOPS_PLAINTEXT',
          file: entry.path,
          line: key.line,
          key: key.name,
          message: `${key.name} is clear text in sops file ${entry.path} although its rules say it is encrypted (edited without sops?): re-encrypt it with sops and rotate the value`,
        });
      }
    }
  }

  if (needles.length > 0) {
    for (const entry of files) {
      const bytes = await content(entry);
      if (bytes === null) continue;
      const text = bytes.toString('utf8');
      const seen = new Set<string>();
      for (const needle of needles) {
        for (let at = text.indexOf(needle.value); at !== -1; at = text.indexOf(needle.value, at + 1)) {
          const line = lineAt(text, at);
          const id = `${line}\0${needle.key}\0${needle.where}`;
          if (seen.has(id)) continue;
          seen.add(id);
          findings.push({
            code: 'GUARD_VALUE_LEAK',
            file: entry.path,
            line,
            key: needle.key,
            message: `holds the current value of ${needle.key} (${needle.where}): remove it from the file, and rotate ${needle.key} if it was ever pushed`,
          });
        }
      }
    }
  }

  findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0)));
  return { version: 1, scope: options.scope, clean: findings.length === 0, withStore: options.withStore, files: files.length, findings };
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Every current value of every secrets file with a source, at least MIN_GUARDED_VALUE_LENGTH long, that is not
 * a placeholder, nor the example's own published value, nor clear text in its own sops file. A source that cannot be read fails the guard (it must
 * not pass for want of looking).
 */
async function storeNeedles(repo: RepoModel, sources: Parameters<typeof readValuesOf>[0]): Promise<Needle[]> {
  const needles: Needle[] = [];
  for (const service of repo.services) {
    for (const file of service.secretFiles) {
      if (file.source === null) continue;
      const snapshot = await readValuesOf(sources, file.source);
      if (snapshot === null) continue;
      const published = new Map<string, string>();
      if (file.example !== null && file.exampleRel !== null) {
        try {
          for (const key of (await readExampleOf({ ...file, example: file.example, exampleRel: file.exampleRel })).keys) published.set(key.name, key.exampleValue);
        } catch {
          // an unreadable example publishes nothing
        }
      }
      // A value the sops file itself holds in clear (a key its rules leave unencrypted) is public, not a leak.
      const clearText = file.source.kind === 'sops' ? await readFile(file.source.file, 'utf8').catch(() => '') : '';
      const label = sourceLabel(repo.root, file.source);
      for (const [key, value] of snapshot.values) {
        if (value.length < MIN_GUARDED_VALUE_LENGTH || looksLikePlaceholder(value) || published.get(key) === value || clearText.includes(value)) continue;
        needles.push({ value, key, where: `${file.targetRel} of service ${service.name}, ${label.kind} ${label.ref}` });
      }
    }
  }
  return needles;
}

/** Reads a listed file's content once: the index blob (staged), else the work-tree file (regular files only). */
function contentReader(root: string, scope: GuardScope, files: readonly GitFileEntry[]): (entry: GitFileEntry) => Promise<Buffer | null> {
  let blobs: Promise<Map<string, Buffer>> | null = null;
  return async (entry) => {
    if (scope === 'staged') {
      // Symlinks (their target path) and submodules hold no content of their own.
      if (entry.blob === undefined || entry.mode === '120000' || entry.mode === '160000') return null;
      blobs ??= readGitBlobs(
        root,
        files.filter((f) => f.blob !== undefined && f.mode !== '120000' && f.mode !== '160000').map((f) => f.blob as string),
      );
      return (await blobs).get(entry.blob) ?? null;
    }
    const file = path.join(root, ...entry.path.split('/'));
    try {
      if (!(await lstat(file)).isFile()) return null;
      return await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null; // deleted in the work tree
      throw new CoffreError('COFFRE_USAGE', `cannot read ${entry.path}: ${code ?? 'error'}`, { file: entry.path }, { cause: error });
    }
  };
}

/** The pre-commit hook `coffre guard --install-hook` writes (`prefix`: the coffre repo root inside the work tree). */
export function preCommitHookText(prefix: string): string {
  const dir = prefix === '' ? '.' : prefix.replace(/\/$/, '');
  const quoted = /^[\w./-]+$/.test(dir) ? dir : `'${dir.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    '# Installed by `coffre guard --install-hook`: refuses a commit holding a rendered secrets file, a sops file',
    '# with clear-text values, or an env_file target the ignore rules miss. Bypass once: git commit --no-verify.',
    'if ! command -v coffre >/dev/null 2>&1; then',
    '  echo "pre-commit: coffre is not on PATH; install it (or remove this hook) to commit" >&2',
    '  exit 1',
    'fi',
    `exec coffre -C ${quoted} guard --staged`,
    '',
  ].join('\n');
}

/**
 * With `core.hooksPath` set (husky, a shared hooks folder…), git runs the hooks of that folder and never
 * `.git/hooks`: a hook written there would never run, and the installer would say it guards commits while
 * it does not. Refused (COFFRE_USAGE), naming the setting and what to do instead.
 */
async function refuseOtherHooksPath(root: string, commonDir: string, hooks: string): Promise<void> {
  const setting = (await userConfigValues('core.hooksPath', path.join(commonDir, 'config'))).at(-1);
  if (setting === undefined || setting.value === '') return;
  // As git resolves it: `~/` is the home folder, a relative path is taken from the top of the work tree.
  const prefix = await gitPrefixOf(root);
  const top = path.resolve(root, ...prefix.split('/').filter((part) => part !== '').map(() => '..'));
  const value = setting.value.startsWith('~/') ? path.join(homedir(), setting.value.slice(2)) : setting.value;
  const used = path.resolve(top, value);
  if (used === hooks) return;
  throw new CoffreError(
    'COFFRE_USAGE',
    `core.hooksPath is set to ${setting.value} (${setting.scope} git config): git runs the hooks in ${used}, never ${hooks}, so a hook written there would not run. ` +
      `Add the line \`coffre guard --staged || exit 1\` to ${path.join(used, 'pre-commit')} yourself, or use the pre-commit framework (.pre-commit-hooks.yaml)`,
  );
}

/**
 * Writes `<git common dir>/hooks/pre-commit` (mode 0755, created exclusively). An identical hook already there
 * is left as is (`unchanged`); any other file, symlink included, is never overwritten (COFFRE_USAGE).
 */
export async function installPreCommitHook(root: string): Promise<{ file: string; status: 'installed' | 'unchanged' }> {
  const resolved = path.resolve(root);
  const commonDir = await gitCommonDirOf(resolved);
  const text = preCommitHookText(await gitPrefixOf(resolved));
  const hooks = path.join(commonDir, 'hooks');
  const file = path.join(hooks, 'pre-commit');
  await refuseOtherHooksPath(resolved, commonDir, hooks);
  await mkdir(hooks, { recursive: true, mode: 0o755 });
  const existing = await lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (existing !== null) {
    if (existing.isFile() && (await readFile(file, 'utf8')) === text) return { file, status: 'unchanged' };
    throw new CoffreError(
      'COFFRE_USAGE',
      `${file} already exists and is not coffre's hook: it is left as is; add the line \`coffre guard --staged || exit 1\` to it yourself, or use the pre-commit framework (.pre-commit-hooks.yaml)`,
      { file },
    );
  }
  let handle;
  try {
    handle = await open(file, 'wx', 0o755);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CoffreError('COFFRE_USAGE', `${file} appeared while installing: it is left as is`, { file });
    throw error;
  }
  try {
    await handle.writeFile(text);
    await handle.chmod(0o755);
  } finally {
    await handle.close();
  }
  return { file, status: 'installed' };
}
