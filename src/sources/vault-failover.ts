// One VaultTransport over the nodes of an OpenBao/Vault cluster (a list of addresses): each node has its own
// transport and circuit; a request a node cannot serve (no answer, sealed, no active node, standby behind) goes
// to the next node, with backoff, within one overall failover budget. Never follows redirects, never sends a
// request to an address outside the list, and re-sends a write only when it certainly was not processed.
import { createVaultCircuit, guardTransport, VaultCircuitOpen } from './vault-circuit.js';
import {
  createVaultTransport,
  VaultTransportFailure,
  type VaultAnswer,
  type VaultIndexTracker,
  type VaultRequestObserver,
  type VaultTls,
  type VaultTransport,
} from './vault-transport.js';

/**
 * A write (POST) that got no answer after it may have been sent (connection reset, timeout, EOF): the node may
 * or may not have applied it. It is never re-sent by the transport; the caller decides (vault.ts re-reads the
 * KV metadata to tell, see writeValues).
 */
export class VaultOutcomeUnknown extends VaultTransportFailure {
  readonly node: string;
  constructor(node: string, cause: VaultTransportFailure) {
    super(cause.kind, `${node}: ${cause.reason}`);
    this.name = 'VaultOutcomeUnknown';
    this.node = node;
  }
}

/** Options of {@link createNodesTransport}. */
export interface NodesTransportOptions {
  /** Normalised origins (`http(s)://host:port`), at least one; one address gives the plain guarded transport. */
  addresses: string[];
  namespace?: string;
  timeoutMs: number;
  tls?: VaultTls;
  /** Told about every request sent to any node (coffre serve's metrics). */
  observer?: VaultRequestObserver;
  /** Per node: after a request got no answer, how long requests skip that node (default 5000 ms). */
  circuitCooldownMs?: number;
  /** How long one request may go from node to node before it fails (default 15000 ms). Cluster only. */
  failoverMs?: number;
  /** Milliseconds clock and sleep, for tests (default Date.now and setTimeout). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** How a list of addresses is named in messages: the one address, or all of them joined with ",". */
export function nodesLabel(addresses: readonly string[]): string {
  return addresses.join(',');
}

/**
 * The transport for one address (its circuit in front, exactly as before clusters existed) or for a cluster
 * (two or more addresses): per-node transports and circuits behind a failover loop.
 */
export function createNodesTransport(options: NodesTransportOptions): VaultTransport {
  const circuit = (): ReturnType<typeof createVaultCircuit> =>
    createVaultCircuit(options.circuitCooldownMs !== undefined ? { cooldownMs: options.circuitCooldownMs } : {});
  const base = {
    timeoutMs: options.timeoutMs,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  };
  if (options.addresses.length === 1) return guardTransport(createVaultTransport({ ...base, address: options.addresses[0]! }), circuit());
  const index = createIndexTracker();
  const nodes = options.addresses.map((address) => ({ address, transport: guardTransport(createVaultTransport({ ...base, address, index }), circuit()) }));
  return createFailoverTransport(nodes, options);
}

/** The highest X-Vault-Index seen (opaque base64 JSON `{cluster, value}`; compared by value within a cluster). */
export function createIndexTracker(): VaultIndexTracker {
  let current: string | undefined;
  let cluster: string | undefined;
  let value = -1n;
  return {
    current: () => current,
    observe(index) {
      let parsed: { cluster?: unknown; value?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(index, 'base64').toString('utf8')) as { cluster?: unknown; value?: unknown };
      } catch {
        return;
      }
      if (typeof parsed.value !== 'string' || !/^\d{1,30}$/.test(parsed.value) || typeof parsed.cluster !== 'string') return;
      const next = BigInt(parsed.value);
      // Another cluster id (the cluster was rebuilt): its indexes start over, take it as it is.
      if (parsed.cluster !== cluster || next > value) {
        cluster = parsed.cluster;
        value = next;
        current = index;
      }
    },
  };
}

interface Node {
  address: string;
  transport: VaultTransport;
}

type Attempt = { answer: VaultAnswer; retry: boolean } | { failure: VaultTransportFailure };

/** The failover loop over `nodes` (each already behind its own circuit). */
export function createFailoverTransport(nodes: Node[], options: Pick<NodesTransportOptions, 'failoverMs' | 'circuitCooldownMs' | 'now' | 'sleep'>): VaultTransport {
  const failoverMs = options.failoverMs ?? 15_000;
  const cooldownMs = options.circuitCooldownMs ?? 5_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  /** The node that answered last: requests start there (usually the active node, or a healthy standby). */
  let preferred = 0;
  /** After a request found no node answering: until when others fail at once, and with what. */
  let downUntil = 0;
  let downFailure: VaultTransportFailure | null = null;
  let closed = false;

  /** Whether an HTTP answer means "this node cannot serve it now, another may": never for a definitive answer. */
  function retryable(answer: VaultAnswer, method: 'GET' | 'POST', apiPath: string): boolean {
    if (answer.status === 503) return true; // sealed, or a standby that knows no active node
    // A sealed node's health (asked with sealedcode=200, so a success whatever its state): ask the next;
    // when every node is sealed, the last one's answer says so.
    if (apiPath.startsWith('sys/health') && (answer.body as { sealed?: unknown } | null)?.sealed === true) return true;
    if (answer.status >= 300 && answer.status < 400) return true; // a standby redirecting to the active: not followed
    if (answer.status === 429) {
      // A standby that has not applied the X-Vault-Index we sent yet answers 429 with no error text; a rate
      // limit quota names itself.
      const errors = (answer.body as { errors?: unknown } | null)?.errors;
      return !(Array.isArray(errors) && errors.some((e) => typeof e === 'string' && /rate limit/i.test(e)));
    }
    // A read is safe to send again; a write answered 5xx may have been applied (the caller decides).
    return method === 'GET' && answer.status >= 500;
  }

  async function attempt(node: Node, method: 'GET' | 'POST', apiPath: string, call: (t: VaultTransport) => Promise<VaultAnswer>): Promise<Attempt> {
    try {
      const answer = await call(node.transport);
      return { answer, retry: retryable(answer, method, apiPath) };
    } catch (error) {
      if (!(error instanceof VaultTransportFailure)) throw error;
      // Refused or skipped by an open circuit: never reached the node, safe to send elsewhere, write or not.
      const notSent = error instanceof VaultCircuitOpen || error.reason === 'ECONNREFUSED' || error.reason.startsWith('TLS');
      if (method === 'POST' && !notSent) throw new VaultOutcomeUnknown(node.address, error);
      return { failure: new VaultTransportFailure(error.kind, `${node.address} ${error.reason}${error instanceof VaultCircuitOpen ? ' (skipped: circuit open)' : ''}`) };
    }
  }

  async function send(method: 'GET' | 'POST', apiPath: string, call: (t: VaultTransport) => Promise<VaultAnswer>): Promise<VaultAnswer> {
    if (closed) throw new VaultTransportFailure('unreachable', 'source closed');
    if (downFailure !== null && now() < downUntil) throw new VaultCircuitOpen(downFailure);
    const deadline = now() + failoverMs;
    let lastAnswer: VaultAnswer | null = null;
    let round = 0;
    for (;;) {
      // One round: every node once, from the preferred one.
      const failures: VaultTransportFailure[] = [];
      lastAnswer = null;
      const start = preferred;
      for (let i = 0; i < nodes.length; i++) {
        const position = (start + i) % nodes.length;
        const outcome = await attempt(nodes[position]!, method, apiPath, call);
        if ('answer' in outcome) {
          if (!outcome.retry) {
            preferred = position;
            downFailure = null;
            return outcome.answer;
          }
          lastAnswer = outcome.answer;
        } else {
          failures.push(outcome.failure);
        }
        if (closed) throw new VaultTransportFailure('unreachable', 'source closed');
      }
      const left = deadline - now();
      if (left <= 0) {
        // Out of time: the last node's own answer (sealed, 503...) says most; with none, name every node tried.
        if (lastAnswer !== null) return lastAnswer;
        const allTimeouts = failures.every((f) => f.kind === 'timeout');
        const failure = new VaultTransportFailure(
          allTimeouts ? 'timeout' : 'unreachable',
          `no node answered within ${failoverMs} ms of failover: ${failures.map((f) => f.reason).join('; ')}`,
        );
        downFailure = failure;
        downUntil = now() + cooldownMs;
        throw failure;
      }
      round += 1;
      await sleep(Math.min(left, Math.min(1_000, 50 * 2 ** Math.min(round, 5))));
    }
  }

  return {
    get: (apiPath, token) => send('GET', apiPath, (t) => t.get(apiPath, token)),
    post: (apiPath, body, token) => send('POST', apiPath, (t) => t.post(apiPath, body, token)),
    approleLogin: (mount, roleId, secretId) => send('POST', `auth/${mount}/login`, (t) => t.approleLogin(mount, roleId, secretId)),
    setToken(token) {
      for (const node of nodes) node.transport.setToken(token);
    },
    close() {
      closed = true;
      for (const node of nodes) node.transport.close();
    },
  };
}
