// Starts a real 3-node OpenBao Raft cluster on loopback (not dev mode) for the cluster tests, the cluster
// benchmark and `npm run cluster`: `bao server` with `storage "raft"`, `bao operator init` (one key share),
// unseal, `bao operator raft join` for the other nodes, three voters, KV v2 at `secret/`. Test/bench only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { vaultHttp, type VaultHttpResult } from './openbao.js';
import { toolPath } from './tools.js';

const run = promisify(execFile);

/** One node of the cluster. */
export interface ClusterNode {
  /** `node1`, `node2`, `node3` (the raft node_id). */
  id: string;
  /** `http://127.0.0.1:<port>` */
  address: string;
  /** The `bao server` process is running. */
  alive(): boolean;
  /** SIGKILL (no clean shutdown, no step-down); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the node again on the same data and ports, and unseals it (it rejoins as a follower). */
  restart(): Promise<void>;
}

export interface OpenBaoCluster {
  nodes: ClusterNode[];
  /** Node addresses, in order. */
  addresses: string[];
  rootToken: string;
  /** The node that is active now (asked of every live node; the first that names one wins). */
  activeNode(timeoutMs?: number): Promise<ClusterNode>;
  /** Waits until some live node is active and every live node is unsealed and healthy. */
  waitForActive(timeoutMs?: number): Promise<ClusterNode>;
  /** Raw call to `/v1/<path>` on the active node (root token unless `token` is given). */
  vaultHttp(method: string, apiPath: string, body?: unknown, token?: string): Promise<VaultHttpResult>;
  /** Kills every node and removes the temp directory; idempotent. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Overall limit for start-up (default 90 s). */
  startTimeoutMs?: number;
  /** Node count, default 3. */
  size?: number;
  /** Output lines (progress) go here when given. */
  log?: (line: string) => void;
}

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
function cleanUpNow(): void {
  for (const child of liveChildren) killGroup(child, 'SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}
process.once('exit', cleanUpNow);
// A test or bench killed by a signal (tap's timeout sends SIGTERM) runs no 'exit' handler: clean up, then die.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanUpNow();
    process.exit(128 + os.constants.signals[signal]);
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A minimal env for every child: nothing from the user's VAULT_* / BAO_* (or proxies) reaches the cluster. */
function hardenedEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home, ...extra };
}

/** Starts the cluster; on any failure everything started so far is killed and removed. */
export async function startOpenBaoCluster(options: ClusterOptions = {}): Promise<OpenBaoCluster> {
  const bao = toolPath('bao');
  const size = options.size ?? 3;
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffre-cluster-'));
  liveDirs.add(dir);
  const specs: Array<{ id: string; port: number; clusterPort: number; home: string; config: string }> = [];
  const used = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!used.has(port)) {
        used.add(port);
        return port;
      }
    }
  };
  for (let i = 1; i <= size; i++) {
    const home = path.join(dir, `node${i}`);
    const port = await pick();
    const clusterPort = await pick();
    specs.push({ id: `node${i}`, port, clusterPort, home, config: path.join(dir, `node${i}.hcl`) });
  }

  const children = new Map<string, { child: ChildProcess; exited: Promise<void>; output: () => string }>();
  let stopped = false;
  let starting = true;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      for (const { child } of children.values()) killGroup(child, 'SIGKILL');
      await Promise.all([...children.values()].map((c) => c.exited));
    }
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  const startNode = (spec: (typeof specs)[number]): void => {
    const child = spawn(bao, ['server', `-config=${spec.config}`], {
      env: hardenedEnv(spec.home),
      cwd: spec.home,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveChildren.add(child);
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.length > 100_000) output = output.slice(-50_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => liveChildren.delete(child));
    children.set(spec.id, { child, exited, output: () => output });
  };

  const cli = async (address: string, args: string[], home: string): Promise<string> => {
    const { stdout } = await run(bao, args, {
      env: hardenedEnv(home, { BAO_ADDR: address }),
      timeout: Math.max(1_000, Math.min(30_000, deadline - Date.now())),
      maxBuffer: 1 << 20,
    });
    return stdout;
  };

  const waitUntil = async <T>(what: string, probe: () => Promise<T | null>, limit = deadline): Promise<T> => {
    while (Date.now() < limit) {
      for (const [id, { child }] of children) {
        if (starting && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${id} exited while waiting for ${what}`);
      }
      try {
        const value = await probe();
        if (value !== null) return value;
      } catch {
        // not there yet
      }
      await sleep(100);
    }
    throw new Error(`OpenBao cluster: timed out waiting for ${what}`);
  };

  const health = async (address: string): Promise<{ status: number; body: any } | null> => {
    try {
      const r = await fetch(`${address}/v1/sys/health?standbyok=true&perfstandbyok=true`, { signal: AbortSignal.timeout(1_000) });
      const body = await r.json().catch(() => null);
      return { status: r.status, body };
    } catch {
      return null;
    }
  };

  try {
    for (const spec of specs) {
      writeFileSync(
        spec.config,
        [
          `storage "raft" {`,
          `  path = ${JSON.stringify(path.join(spec.home, 'raft'))}`,
          `  node_id = "${spec.id}"`,
          // The fastest raft timings (leader election ~1-2 s after the active node dies).
          `  performance_multiplier = 1`,
          `}`,
          `listener "tcp" {`,
          `  address = "127.0.0.1:${spec.port}"`,
          `  cluster_address = "127.0.0.1:${spec.clusterPort}"`,
          `  tls_disable = true`,
          `}`,
          `api_addr = "http://127.0.0.1:${spec.port}"`,
          `cluster_addr = "https://127.0.0.1:${spec.clusterPort}"`,
          `disable_mlock = true`,
          `ui = false`,
          `log_level = "warn"`,
          '',
        ].join('\n'),
      );
      rmSync(spec.home, { recursive: true, force: true });
      mkdirSync(path.join(spec.home, 'raft'), { recursive: true });
      startNode(spec);
    }
    const address = (spec: (typeof specs)[number]): string => `http://127.0.0.1:${spec.port}`;
    const [first, ...others] = specs as [(typeof specs)[number], ...typeof specs];
    for (const spec of specs) await waitUntil(`${spec.id} to listen`, async () => ((await health(address(spec))) !== null ? true : null));

    log(`init ${first.id}`);
    const init = JSON.parse(await cli(address(first), ['operator', 'init', '-key-shares=1', '-key-threshold=1', '-format=json'], first.home)) as {
      unseal_keys_b64: string[];
      root_token: string;
    };
    const unsealKey = init.unseal_keys_b64[0]!;
    const rootToken = init.root_token;
    // The unseal key goes in a request body, not on a command line other local users could read.
    const unseal = async (spec: (typeof specs)[number]): Promise<void> => {
      await waitUntil(`${spec.id} to unseal`, async () => {
        const r = await vaultHttp(address(spec), undefined, 'PUT', 'sys/unseal', { key: unsealKey });
        return r.status === 200 && r.body?.sealed === false ? true : null;
      });
    };
    await unseal(first);
    await waitUntil(`${first.id} to become active`, async () => ((await health(address(first)))?.status === 200 ? true : null));
    // New nodes are promoted to voters once stable for this long (default 10 s).
    // (Autopilot answers 500 for a moment after the node becomes active.)
    await waitUntil('the autopilot configuration', async () => {
      const r = await vaultHttp(address(first), rootToken, 'POST', 'sys/storage/raft/autopilot/configuration', {
        server_stabilization_time: '1s',
        cleanup_dead_servers: false,
      });
      return r.status === 200 || r.status === 204 ? true : null;
    });

    for (const spec of others) {
      log(`join ${spec.id}`);
      await waitUntil(`${spec.id} to join`, async () => {
        const out = await cli(address(spec), ['operator', 'raft', 'join', '-format=json', address(first)], spec.home);
        return /"joined":\s*true/.test(out) ? true : null;
      });
      await unseal(spec);
    }
    await waitUntil('3 healthy nodes', async () => {
      for (const spec of specs) {
        const h = await health(address(spec));
        if (h === null || (h.status !== 200 && h.status !== 429) || h.body?.sealed !== false) return null;
      }
      return true;
    });
    await waitUntil(`${size} raft voters`, async () => {
      const r = await vaultHttp(address(first), rootToken, 'GET', 'sys/storage/raft/configuration');
      const servers = r.body?.data?.config?.servers as Array<{ voter?: boolean }> | undefined;
      return servers?.length === size && servers.every((s) => s.voter === true) ? true : null;
    });
    const mount = await vaultHttp(address(first), rootToken, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    if (mount.status !== 204 && mount.status !== 200) throw new Error(`enabling KV v2 at secret/ answered ${mount.status}`);
    // KV v2 upgrades its storage in the background after the mount: wait until it serves writes.
    await waitUntil('KV v2 at secret/', async () => {
      const r = await vaultHttp(address(first), rootToken, 'POST', 'secret/data/coffre-cluster-probe', { data: { ready: 'yes' } });
      return r.status === 200 ? true : null;
    });
    // Standbys serve KV reads themselves once their copy of the mount has seen the upgrade done: wait for it.
    for (const spec of specs) {
      await waitUntil(`KV v2 on ${spec.id}`, async () => {
        const r = await vaultHttp(address(spec), rootToken, 'GET', 'secret/data/coffre-cluster-probe');
        return r.status === 200 ? true : null;
      });
    }
    await vaultHttp(address(first), rootToken, 'DELETE', 'secret/metadata/coffre-cluster-probe');

    const nodes: ClusterNode[] = specs.map((spec) => ({
      id: spec.id,
      address: address(spec),
      alive() {
        const c = children.get(spec.id)!.child;
        return c.exitCode === null && c.signalCode === null;
      },
      async kill() {
        const c = children.get(spec.id)!;
        killGroup(c.child, 'SIGKILL');
        await c.exited;
      },
      async restart() {
        const c = children.get(spec.id)!;
        if (c.child.exitCode === null && c.child.signalCode === null) return;
        startNode(spec);
        await waitUntil(`${spec.id} to listen again`, async () => ((await health(address(spec))) !== null ? true : null), Date.now() + 30_000);
        await unseal(spec);
      },
    }));

    const activeNode = async (timeoutMs = 30_000): Promise<ClusterNode> =>
      waitUntil(
        'an active node',
        async () => {
          for (const node of nodes) {
            if (!node.alive()) continue;
            const h = await health(node.address);
            if (h?.status === 200 && h.body?.standby === false && h.body?.sealed === false) return node;
          }
          return null;
        },
        Date.now() + timeoutMs,
      );

    const cluster: OpenBaoCluster = {
      nodes,
      addresses: nodes.map((n) => n.address),
      rootToken,
      activeNode,
      async waitForActive(timeoutMs = 30_000) {
        const active = await activeNode(timeoutMs);
        await waitUntil(
          'every live node unsealed',
          async () => {
            for (const node of nodes) {
              if (!node.alive()) continue;
              const h = await health(node.address);
              if (h === null || h.body?.sealed !== false) return null;
            }
            return true;
          },
          Date.now() + timeoutMs,
        );
        return active;
      },
      async vaultHttp(method, apiPath, body, token) {
        const active = await activeNode();
        return vaultHttp(active.address, token ?? rootToken, method, apiPath, body);
      },
      stop,
    };
    starting = false;
    log(`cluster ready: ${cluster.addresses.join(' ')}`);
    return cluster;
  } catch (error) {
    const tails = [...children.entries()].map(([id, c]) => `--- ${id}:\n${c.output().split('\n').slice(-15).join('\n')}`).join('\n');
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
}
