// The one place coffre runs the `git` binary. Repo content, the repo's own .git/config and the caller's
// environment are untrusted: git runs with a fixed environment and command-line overrides so that no
// config, hook, pager, signature check or lazy fetch can run a program. Read-only subcommands only.
import type { spawn as spawnType } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CoffreError } from '../errors.js';

/**
 * The subcommands coffre runs, each with the options that keep it from running a configured program
 * (`options`, after the subcommand) and the global options it takes (`global`, before it).
 * --literal-pathspecs: coffre passes file names, never patterns or `:(magic)` (check-ignore refuses it,
 * and reads its paths from stdin).
 */
const SUBCOMMANDS = {
  // Reads the index only: no content is compared, so no clean/smudge filter runs (-m/-d are not used). `-o`
  // (guard --tree) walks the work tree reading .gitignore files; with core.fsmonitor off it runs nothing.
  'ls-files': { global: ['--literal-pathspecs'], options: [] },
  // With --no-index it reads .gitignore files and nothing else; the user's excludes file is not a rule.
  'check-ignore': { global: [], options: ['--no-index'] },
  // A path-limited walk compares trees, not blobs: no diff driver, textconv or filter runs; the flags make
  // sure of it, and --no-show-signature stops log.showSignature from running gpg.program on signed commits.
  log: { global: ['--literal-pathspecs'], options: ['--no-show-signature', '--no-ext-diff', '--no-textconv', '--no-color', '--no-notes'] },
  // `--as-of <commit>`: reads objects only. rev-parse resolves a commit id (callers pass `--verify`); ls-tree
  // lists a tree; cat-file prints a blob by its object id exactly as stored (plumbing: no textconv, no filter).
  'rev-parse': { global: [], options: [] },
  'ls-tree': { global: ['--literal-pathspecs'], options: [] },
  'cat-file': { global: [], options: [] },
} as const;

export type GitSubcommand = keyof typeof SUBCOMMANDS;

/**
 * `-c` overrides given to every git run. Command-line config wins over every config file, including the
 * repo's own .git/config; each line names what it stops. `filter.<driver>.*` and `diff.<driver>.*` cannot be
 * overridden (the repo names its drivers): the subcommands and options above never run them.
 */
const CONFIG_OVERRIDES = [
  'core.fsmonitor=false', // a hook run by every index read (ls-files): the main local-config vector
  // A bare repository committed inside the work tree (HEAD, config, objects/, refs/ in a service folder) would
  // be found before the real .git, with its committed config and a forged history: only an explicit one counts.
  'safe.bareRepository=explicit',
  'core.hooksPath=/dev/null', // no hook runs for these read-only commands; keep it so
  'core.pager=cat', // with --no-pager and a piped stdout, a pager never starts; belt and braces
  'core.excludesFile=/dev/null', // a user's global excludes must not make a target look ignored
  'core.attributesFile=/dev/null', // no user-wide filter or diff driver assignments
  'log.showSignature=false', // signature checks run gpg.program…
  'gpg.program=/dev/null', // …so none of the verifiers can be a program (executing /dev/null fails)
  'gpg.openpgp.program=/dev/null',
  'gpg.x509.program=/dev/null',
  'gpg.ssh.program=/dev/null',
  'diff.external=', // --no-ext-diff on log already ignores it
  'core.sshCommand=/dev/null', // transports are off (GIT_ALLOW_PROTOCOL, GIT_NO_LAZY_FETCH); belt and braces
  'core.askPass=/dev/null',
  'credential.helper=',
  'protocol.allow=never',
  'log.follow=false', // history of one path, no rename guessing steered by the repo's config
  'i18n.logOutputEncoding=UTF-8',
] as const;

/**
 * A commit named on the command line or over HTTP (`--as-of`): a full or abbreviated hex object id, nothing
 * else. No ref names, no `HEAD~1`, no `@{…}`: an id never starts with `-` (no option injection) and names the
 * same commit on every host. Throws COFFRE_USAGE otherwise.
 */
export function checkCommitId(value: string): string {
  if (!COMMIT_ID.test(value)) {
    throw new CoffreError('COFFRE_USAGE', `--as-of takes a commit id (4 to 40 hex digits), not ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`);
  }
  return value.toLowerCase();
}

const COMMIT_ID = /^[0-9a-fA-F]{4,40}$/;

/** What one git run printed. */
export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (`cat-file --batch` sizes count bytes, and blobs need not be UTF-8). */
  stdoutBytes?: Buffer;
}

export interface GitRunOptions {
  /** Written to git's stdin. */
  input?: string;
  timeoutMs?: number;
  /**
   * GIT_INDEX_FILE for this run (absolute; anything else is ignored): the index `git commit -a` / `git commit
   * <paths>` hands its pre-commit hook, which is not .git/index. A path to read, never a program.
   */
  indexFile?: string;
}

/**
 * Runs `git --no-pager [--literal-pathspecs] -C <dir> -c … <subcommand> <hardening options> <args>` and
 * resolves with its exit code and output (a non-zero exit is not a rejection). Rejects with the spawn error
 * (ENOENT: no git installed).
 *
 * When git refuses the repository for "dubious ownership", the run is retried once with the `safe.directory`
 * entries of the user's global and system git config, passed with `-c` (the only keys read from those files;
 * git honours safe.directory only there and on the command line); coffre never adds one of its own.
 */
export async function runGit(dir: string, subcommand: GitSubcommand, args: readonly string[], options: GitRunOptions = {}): Promise<GitRun> {
  const { global, options: hardening } = SUBCOMMANDS[subcommand];
  const argv = ['--no-pager', ...global, '-C', dir, ...CONFIG_OVERRIDES.flatMap((entry) => ['-c', entry])];
  const command = [subcommand, ...hardening, ...args];
  const env = gitEnvironment();
  if (options.indexFile !== undefined && path.isAbsolute(options.indexFile)) env.GIT_INDEX_FILE = options.indexFile;
  const first = await spawnGit([...argv, ...command], env, options);
  if (first.code === 0 || !isDubiousOwnership(first.stderr)) return first;
  const trusted = await userSafeDirectories();
  if (trusted.length === 0) return first;
  return spawnGit([...argv, ...trusted.flatMap((entry) => ['-c', `safe.directory=${entry}`]), ...command], env, options);
}

/** True when git refused a repository owned by another user (the stderr keeps git's safe.directory hint). */
export function isDubiousOwnership(stderr: string): boolean {
  return /detected dubious ownership/i.test(stderr);
}

/**
 * The whole environment git gets: nothing inherited but PATH (absolute entries only). HOME and
 * XDG_CONFIG_HOME point at /dev/null, where no config, attributes or ignore file can exist; every GIT_*
 * variable of the caller (GIT_DIR, GIT_CONFIG_PARAMETERS, GIT_EXEC_PATH…) is dropped.
 */
function gitEnvironment(): NodeJS.ProcessEnv {
  return {
    PATH: safePath(),
    HOME: '/dev/null',
    XDG_CONFIG_HOME: '/dev/null',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_SYSTEM: '/dev/null',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_PAGER: 'cat',
    PAGER: 'cat',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/dev/null',
    SSH_ASKPASS: '/dev/null',
    GIT_OPTIONAL_LOCKS: '0',
    // A partial clone fetches missing objects on demand through its remote (remote.*.uploadpack, ssh, ext::…).
    GIT_NO_LAZY_FETCH: '1',
    GIT_ALLOW_PROTOCOL: '',
  };
}

function safePath(): string {
  const entries = (process.env.PATH ?? '').split(path.delimiter).filter((entry) => path.isAbsolute(entry));
  return entries.length > 0 ? entries.join(path.delimiter) : '/usr/local/bin:/usr/bin:/bin';
}

/**
 * `safe.directory` values of the user's global and system config (GIT_CONFIG_GLOBAL/SYSTEM/NOSYSTEM of the
 * caller respected, as git would).
 */
async function userSafeDirectories(): Promise<string[]> {
  return (await userConfigValues('safe.directory')).map((entry) => entry.value);
}

/** Where a config value was read: git's scopes, in its order of precedence (a later one wins). */
export type ConfigScope = 'system' | 'global' | 'local';

/**
 * Every value of `key` in the config files the user's own git reads, with their scope: the system and global
 * files (GIT_CONFIG_GLOBAL/SYSTEM/NOSYSTEM of the caller respected, as git would), then `repoConfig` when given
 * (a repository's own config file). For questions about what the user's git will do, which coffre's hardened
 * runs cannot answer (their overrides win). Reading config runs nothing; `/` as working directory keeps any
 * other repository's config out of it. Unreadable files give no values.
 */
export async function userConfigValues(key: string, repoConfig?: string): Promise<Array<{ scope: ConfigScope; value: string }>> {
  const env: NodeJS.ProcessEnv = { PATH: safePath(), LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  for (const name of ['HOME', 'XDG_CONFIG_HOME', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM', 'GIT_CONFIG_NOSYSTEM']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const scopes: Array<[ConfigScope, string[]]> = [
    ['system', ['--system']],
    ['global', ['--global']],
  ];
  if (repoConfig !== undefined) scopes.push(['local', ['--file', repoConfig]]);
  const values: Array<{ scope: ConfigScope; value: string }> = [];
  for (const [scope, selector] of scopes) {
    try {
      const found = await spawnGit(['--no-pager', 'config', ...selector, '--includes', '-z', '--get-all', key], env, { timeoutMs: 10_000 }, '/');
      if (found.code === 0) values.push(...found.stdout.split('\0').filter((entry) => entry !== '').map((value) => ({ scope, value })));
    } catch {
      // no git: the caller's own git run fails the same way
    }
  }
  return values;
}

// node:child_process is loaded on the first git run, not at start: `check` never runs git (bench/start.ts).
let spawn: typeof spawnType | undefined;

function spawnGit(argv: string[], env: NodeJS.ProcessEnv, options: GitRunOptions, cwd?: string): Promise<GitRun> {
  spawn ??= (createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')).spawn;
  const run = spawn;
  return new Promise((resolve, reject) => {
    const child = run('git', argv, { env, ...(cwd !== undefined ? { cwd } : {}), stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 30_000 });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const bytes = Buffer.concat(stdout);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: bytes.toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        stdoutBytes: bytes,
      });
    });
    child.stdin.on('error', () => {
      // git may exit before reading stdin (e.g. not a repository); its exit code tells the story.
    });
    child.stdin.end(options.input ?? '');
  });
}
