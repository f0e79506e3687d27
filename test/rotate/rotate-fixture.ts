// Test fixture for rotate/set/versions/rollback: an infra repo (t.testdir, its own git repo ignoring the
// rendered targets) with a Vault-backed service `chat` in a real OpenBao, sops-backed services made by the
// real sops binary (one per store), the CLI run in-process with captured output, and canary values.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { sharedOpenBao, type SharedOpenBao } from '../support/openbao.js';
import { newAgeKey, writeSopsFile, type TestAgeKey } from '../support/sops.js';
import { toolPath } from '../support/tools.js';

export const run = promisify(execFile);

interface TestLike {
  testdir(fixture?: unknown): string;
}

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** One sops store as the fixture lays it out: service `s-<store>`, file `app`, keys APP_USER / APP_PASS. */
export interface SopsStoreCase {
  store: 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';
  suffix: string;
  plaintext: (user: string, pass: string) => string;
}

export const SOPS_STORES: SopsStoreCase[] = [
  { store: 'yaml', suffix: '.sops.yaml', plaintext: (u, p) => `APP_USER: ${u}\nAPP_PASS: ${p}\n` },
  { store: 'json', suffix: '.sops.json', plaintext: (u, p) => `{\n  "APP_USER": "${u}",\n  "APP_PASS": "${p}"\n}\n` },
  { store: 'dotenv', suffix: '.sops.env', plaintext: (u, p) => `APP_USER=${u}\nAPP_PASS=${p}\n` },
  { store: 'ini', suffix: '.sops.ini', plaintext: (u, p) => `[app]\nAPP_USER = ${u}\nAPP_PASS = ${p}\n` },
  { store: 'binary', suffix: '.sops', plaintext: (u, p) => `APP_USER=${u}\nAPP_PASS=${p}\n` },
];

export interface RotateFixture {
  dir: string;
  bao: SharedOpenBao;
  key: TestAgeKey;
  /** KV v2 path (below `secret/`) of chat's `db` file. */
  chatPath: string;
  /** Env with an admin Vault token and the age identity. */
  env: Record<string, string>;
  adminToken: string;
  /** Values planted in the stores. */
  canaries: { dbUser: string; dbPass: string; appUser: string; appPass: string };
  /** Runs the CLI in-process; every run's output is kept for the canary check. */
  coffre(argv: string[], options?: { env?: Record<string, string | undefined>; stdin?: string; isTTY?: boolean }): Promise<Captured>;
  /** All stdout/stderr captured so far. */
  outputs(): string;
  /** The sops file of a store's service (absolute). */
  sopsFile(store: SopsStoreCase): string;
  /** `sops decrypt` of a file with the real binary. */
  sopsDecrypt(file: string): Promise<string>;
  /** Current data of a KV v2 secret (root token). */
  vaultData(secretPath: string): Promise<{ version: number; data: Record<string, string> }>;
}

export function canary(label: string): string {
  return `canary${label}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/**
 * Layout: chat (Vault, secret/<prefix>/chat/db: DB_USER, DB_PASS; the example adds API_KEY with
 * @generate=base64url:40, OPTIONAL_NOTE with @allow-empty), s-<store> (sops, app: APP_USER, APP_PASS),
 * exposed (Vault, target NOT git-ignored: render refuses it), exposed-sops (sops, same).
 */
export async function makeRotateFixture(t: TestLike): Promise<RotateFixture> {
  const bao = await sharedOpenBao(t);
  const key = await newAgeKey();
  const canaries = { dbUser: canary('dbuser'), dbPass: canary('dbpass'), appUser: canary('appuser'), appPass: canary('apppass') };
  const sopsServices: Record<string, unknown> = {};
  for (const c of SOPS_STORES) {
    sopsServices[`s-${c.store}`] = {
      'docker-compose.yml': 'services:\n  app:\n    image: app\n    env_file: ./secrets/app.secrets\n',
      secrets: { 'app.secrets.example': 'APP_USER=\nAPP_PASS=\n' },
    };
  }
  const dir = t.testdir({
    '.gitignore': 'chat/secrets/*.secrets\ns-*/secrets/*.secrets\n',
    'coffre.yaml': `version: 1\nvault:\n  prefix: ${bao.prefix}\n`,
    chat: {
      'docker-compose.yml': 'services:\n  db:\n    image: postgres\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'DB_USER=\nDB_PASS=changeme\n# @generate=base64url:40\nAPI_KEY=\n# @allow-empty @optional\nOPTIONAL_NOTE=\n' },
    },
    exposed: {
      'docker-compose.yml': 'services:\n  x:\n    image: x\n    env_file: ./secrets/db.secrets\n',
      secrets: { 'db.secrets.example': 'DB_PASS=\n' },
    },
    'exposed-sops': {
      'docker-compose.yml': 'services:\n  x:\n    image: x\n    env_file: ./secrets/app.secrets\n',
      secrets: { 'app.secrets.example': 'APP_PASS=\n' },
    },
    ...sopsServices,
  });
  await run('git', ['init', '--quiet', dir]);
  for (const c of SOPS_STORES) {
    await mkdir(path.join(dir, `s-${c.store}`, 'secrets'), { recursive: true });
    await writeSopsFile(path.join(dir, `s-${c.store}`, 'secrets', `app.secrets${c.suffix}`), c.plaintext(canaries.appUser, canaries.appPass), key);
  }
  await writeSopsFile(path.join(dir, 'exposed-sops', 'secrets', 'app.secrets.sops.yaml'), `APP_PASS: ${canaries.appPass}\n`, key);
  const chatPath = `${bao.prefix}/chat/db`;
  for (const [secret, data] of [
    [chatPath, { DB_USER: canaries.dbUser, DB_PASS: canaries.dbPass }],
    [`${bao.prefix}/exposed/db`, { DB_PASS: canaries.dbPass }],
  ] as const) {
    const put = await bao.vaultHttp('POST', `secret/data/${secret}`, { data });
    if (put.status !== 200) throw new Error(`OpenBao write of ${secret} answered ${put.status}`);
  }
  const adminToken = await bao.tokenWithPolicies(['coffre-admin']);
  const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: adminToken, SOPS_AGE_KEY: key.identity, USER: 'tester' };
  const captured: string[] = [];
  const sopsEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: key.identity };

  return {
    dir,
    bao,
    key,
    chatPath,
    env,
    adminToken,
    canaries,
    async coffre(argv, options = {}) {
      let stdout = '';
      let stderr = '';
      const io: CliIo = {
        stdout: { write: (s: string) => (stdout += s), isTTY: options.isTTY ?? false },
        stderr: { write: (s: string) => (stderr += s) },
        env: options.env ?? env,
        cwd: dir,
        ...(options.stdin !== undefined ? { stdin: chunks(options.stdin) } : {}),
      };
      const code = await runCli(argv, io);
      captured.push(stdout, stderr);
      return { code, stdout, stderr };
    },
    outputs: () => captured.join('\n'),
    sopsFile: (c) => path.join(dir, `s-${c.store}`, 'secrets', `app.secrets${c.suffix}`),
    async sopsDecrypt(file) {
      const { stdout } = await run(toolPath('sops'), ['decrypt', file], { env: sopsEnv });
      return stdout;
    },
    async vaultData(secretPath) {
      const answer = await bao.vaultHttp('GET', `secret/data/${secretPath}`);
      if (answer.status !== 200) throw new Error(`OpenBao read of ${secretPath} answered ${answer.status}`);
      return { version: answer.body.data.metadata.version, data: answer.body.data.data };
    },
  };
}

/** Runs the real sops binary with the fixture's identity. */
export async function sops(fixture: RotateFixture, args: string[]): Promise<string> {
  const { stdout } = await run(toolPath('sops'), args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', SOPS_AGE_KEY: fixture.key.identity } });
  return stdout;
}

/** stdin as a stream of chunks (split so that a reader must join them). */
async function* chunks(text: string): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  const middle = Math.floor(bytes.length / 2);
  yield bytes.subarray(0, middle);
  yield bytes.subarray(middle);
}
