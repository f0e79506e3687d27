// Starts real OpenBao dev servers for tests and hands out per-test prefixes and policy-scoped tokens.
// Test-only: never used by src/. Talks to OpenBao with plain fetch (not node-vault) so setup cannot
// be confused with the code under test; the root token only ever lives in these helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot, toolPath } from './tools.js';

/** A dedicated dev server owned by the caller (stop it in a teardown). */
export interface OpenBaoServer {
  /** `http://127.0.0.1:<port>` */
  address: string;
  rootToken: string;
  unsealKey: string;
  /** The server's process id (benchmarks read its CPU time from /proc). */
  pid: number;
  /** `PUT sys/seal` with the root token. */
  seal(): Promise<void>;
  /** `PUT sys/unseal` with the captured unseal key. */
  unseal(): Promise<void>;
  /** Kills the server's process group and removes its temp HOME; idempotent. */
  stop(): Promise<void>;
}

/** Answer of {@link vaultHttp}: status and parsed JSON body (null for 204 / empty). */
export interface VaultHttpResult {
  status: number;
  body: any;
}

/** Options of {@link SharedOpenBao.tokenWithPolicies}. */
export interface TokenOptions {
  /** Token TTL, default `10m`. */
  ttl?: string;
  /** Leave out the built-in `default` policy (then lookup-self is denied). */
  noDefaultPolicy?: boolean;
}

/** What a test file gets from {@link sharedOpenBao}. */
export interface SharedOpenBao {
  address: string;
  rootToken: string;
  /** Unique per call (`t-<hex>`): put it first in every KV path the test writes. */
  prefix: string;
  /**
   * A token holding the named policies. Names matching `policies/<name>.hcl` are loaded from the
   * committed files first (once per server); other names must already exist on the server.
   */
  tokenWithPolicies(names: string[], opts?: TokenOptions): Promise<string>;
  /** Raw call to `/v1/<path>` (root token unless `token` is given), for test setup and assertions. */
  vaultHttp(method: string, apiPath: string, body?: unknown, token?: string): Promise<VaultHttpResult>;
}

const HEALTH_DEADLINE_MS = 30_000;
const liveServers = new Set<ChildProcess>();

// A test process that dies without its teardown must not leave a server behind.
process.once('exit', () => {
  for (const child of liveServers) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback port p such that p and p+1 (OpenBao's cluster port) are both free right now. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (port === null || port >= 65535) continue;
    if ((await listenOnce(port + 1)) !== null) return port;
  }
  throw new Error('no free loopback port pair found for OpenBao');
}

/** Raw JSON call to an OpenBao server. */
export async function vaultHttp(
  address: string,
  token: string | undefined,
  method: string,
  apiPath: string,
  body?: unknown,
): Promise<VaultHttpResult> {
  const clean = apiPath.replace(/^\/+/, '').replace(/^v1\//, '');
  const headers: Record<string, string> = {};
  if (token) headers['X-Vault-Token'] = token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${address}/v1/${clean}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: unknown = null;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed };
}

async function expectOk(result: Promise<VaultHttpResult>, what: string): Promise<VaultHttpResult> {
  const r = await result;
  if (r.status !== 200 && r.status !== 204) {
    throw new Error(`OpenBao setup failed: ${what} answered ${r.status} ${JSON.stringify(r.body)}`);
  }
  return r;
}

/** Starts `bao server -dev` on a free loopback port and waits until `sys/health` answers 200. */
export async function startOpenBao(): Promise<OpenBaoServer> {
  const bao = toolPath('bao');
  const port = await freePortPair();
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  const address = `http://127.0.0.1:${port}`;
  const home = mkdtempSync(path.join(os.tmpdir(), 'coffre-bao-'));
  // A minimal env: no VAULT_*/BAO_* from the developer's shell may change the server.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home };
  const child = spawn(
    bao,
    [
      'server',
      '-dev',
      `-dev-root-token-id=${rootToken}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      '-dev-no-store-token',
    ],
    { env, cwd: home, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  liveServers.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => liveServers.delete(child));
  const tail = (): string => output.split('\n').slice(-25).join('\n');

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(home, { recursive: true, force: true });
  };

  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  let healthy = false;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      const r = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(1_000) });
      await r.arrayBuffer();
      if (r.status === 200) {
        healthy = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!healthy) {
    await stop();
    throw new Error(`OpenBao dev server at ${address} did not become healthy within 30 s; output tail:\n${tail()}`);
  }
  // The banner is printed before the listener serves; give the pipe a moment if it lags.
  let unsealKey = /Unseal Key:\s*(\S+)/.exec(output)?.[1];
  for (let i = 0; unsealKey === undefined && i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    unsealKey = /Unseal Key:\s*(\S+)/.exec(output)?.[1];
  }
  if (unsealKey === undefined) {
    await stop();
    throw new Error(`OpenBao dev server at ${address} printed no "Unseal Key:"; output tail:\n${tail()}`);
  }
  const key = unsealKey;
  return {
    address,
    rootToken,
    unsealKey: key,
    pid: child.pid ?? -1,
    async seal() {
      await expectOk(vaultHttp(address, rootToken, 'PUT', 'sys/seal'), 'sys/seal');
    },
    async unseal() {
      const r = await expectOk(vaultHttp(address, undefined, 'PUT', 'sys/unseal', { key }), 'sys/unseal');
      if (r.body?.sealed !== false) throw new Error(`OpenBao at ${address} is still sealed after unseal`);
    },
    stop,
  };
}

// One server per test process when no launcher-provided server exists; stopped when the file ends.
let localServer: Promise<OpenBaoServer> | undefined;
const loadedPolicies = new Map<string, Promise<void>>();

async function serverForThisRun(): Promise<{ address: string; rootToken: string }> {
  const address = process.env.COFFRE_TEST_BAO_ADDR;
  const rootToken = process.env.COFFRE_TEST_BAO_TOKEN;
  if (address && rootToken) return { address, rootToken };
  if (localServer === undefined) {
    localServer = startOpenBao();
    const started = localServer;
    // Imported lazily so the launcher (which also imports this module) never starts a tap root test.
    const { default: tap } = await import('tap');
    tap.teardown(async () => {
      await (await started).stop();
    });
  }
  return localServer;
}

/** Loads `policies/<name>.hcl` into the server once per (server, name). Unknown names are left alone. */
function ensurePolicy(address: string, rootToken: string, name: string): Promise<void> {
  const file = path.join(projectRoot, 'policies', `${name}.hcl`);
  if (!/^[A-Za-z0-9_-]+$/.test(name) || !existsSync(file)) return Promise.resolve();
  const cacheKey = `${address} ${name}`;
  let loading = loadedPolicies.get(cacheKey);
  if (loading === undefined) {
    const policy = readFileSync(file, 'utf8');
    loading = expectOk(
      vaultHttp(address, rootToken, 'PUT', `sys/policies/acl/${name}`, { policy }),
      `loading policy ${name}`,
    ).then(() => undefined);
    loading.catch(() => loadedPolicies.delete(cacheKey));
    loadedPolicies.set(cacheKey, loading);
  }
  return loading;
}

/**
 * The run's OpenBao (from COFFRE_TEST_BAO_ADDR/COFFRE_TEST_BAO_TOKEN set by the launcher) or one
 * started for this test file. `t` is the calling test (kept for symmetry with tap helpers; the server
 * outlives it and is stopped when the file's root test ends).
 */
export async function sharedOpenBao(_t?: unknown): Promise<SharedOpenBao> {
  const { address, rootToken } = await serverForThisRun();
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  return {
    address,
    rootToken,
    prefix,
    async tokenWithPolicies(names, opts = {}) {
      for (const name of names) await ensurePolicy(address, rootToken, name);
      const r = await expectOk(
        vaultHttp(address, rootToken, 'POST', 'auth/token/create', {
          policies: names,
          ttl: opts.ttl ?? '10m',
          no_default_policy: opts.noDefaultPolicy ?? false,
        }),
        `token create for ${names.join(',')}`,
      );
      const token = r.body?.auth?.client_token;
      if (typeof token !== 'string') throw new Error('OpenBao token create returned no client_token');
      return token;
    },
    vaultHttp(method, apiPath, body, token) {
      return vaultHttp(address, token ?? rootToken, method, apiPath, body);
    },
  };
}
