// coffre's own Vault/OpenBao HTTP client, on undici's connection pool: a thin transport that returns every
// HTTP answer as `{ status, body }` and turns transport failures into a small classified error. It reads no
// env, follows no redirects (a 3xx is an answer), uses no proxy, and logs nothing. Each request is held to
// one overall deadline covering connect, headers AND body: a server trickling its answer cannot hold a call.
// (It replaced node-vault, whose client and axios cost ~100 ms to load and most of the CPU of each request;
// test/sources/vault-node-vault.test.ts keeps node-vault as an independent cross-check of what it reads.)
import type { buildConnector, Client, Dispatcher } from 'undici';

/** One HTTP answer from Vault/OpenBao, whatever its status. `body` is parsed JSON (or null). */
export interface VaultAnswer {
  status: number;
  body: unknown;
}

/** A request that got no HTTP answer. `reason` is a value-free code name (e.g. `ECONNREFUSED`). */
export class VaultTransportFailure extends Error {
  readonly kind: 'unreachable' | 'timeout';
  readonly reason: string;
  constructor(kind: 'unreachable' | 'timeout', reason: string) {
    super(`${kind}: ${reason}`);
    this.name = 'VaultTransportFailure';
    this.kind = kind;
    this.reason = reason;
  }
}

/**
 * TLS settings for an https address, the file contents already read at the edge (VAULT_CACERT & co, or
 * `vault.tls` in coffre.yaml). Verification is never turned off.
 */
export interface VaultTls {
  /** PEM CA certificates trusted instead of Node's built-in roots (as Vault's VAULT_CACERT / VAULT_CAPATH do). */
  ca?: string[];
  /** PEM client certificate (chain) and its key, for servers that ask for one. */
  cert?: string;
  key?: string;
  /** SNI name sent and the name the server certificate must hold (VAULT_TLS_SERVER_NAME). */
  servername?: string;
}

/**
 * Read-after-write across the nodes of a cluster (OpenBao standbys serve reads from their own, possibly lagging,
 * copy): the highest `X-Vault-Index` any node answered is sent with every later request, so a standby that has
 * not applied that index yet answers 429 (retried elsewhere by vault-failover.ts) instead of older data.
 */
export interface VaultIndexTracker {
  /** The opaque index to send, or undefined before any answer carried one. */
  current(): string | undefined;
  /** Takes an answer's `X-Vault-Index` into account (the highest wins). */
  observe(index: string): void;
}

/** Options of {@link createVaultTransport}; everything is explicit, nothing comes from the environment. */
export interface VaultTransportOptions {
  /** `http(s)://host:port`, no trailing path. */
  address: string;
  namespace?: string;
  timeoutMs: number;
  tls?: VaultTls;
  /** Told about every request sent (coffre serve's metrics). */
  observer?: VaultRequestObserver;
  /** Shared by the transports of one cluster's nodes; absent for a single address (no header sent). */
  index?: VaultIndexTracker;
}

/** What kind of Vault API a request called: bounded names, never its path (which names services and secrets). */
export type VaultOperation = 'kv-data' | 'kv-metadata' | 'kv-subkeys' | 'auth' | 'sys' | 'other';

/** How a request ended: the status class of its answer, or why it got none. */
export type VaultRequestOutcome = '2xx' | '3xx' | '4xx' | '5xx' | 'unreachable' | 'timeout';

/**
 * Told about each request the transport sent, once it settled: what kind, how long, how it ended. It never
 * sees a path, token, body or answer. Its failures are ignored (it may not break a request).
 */
export interface VaultRequestObserver {
  requestSettled(event: { operation: VaultOperation; outcome: VaultRequestOutcome; seconds: number }): void;
}

/** The operation kind of an API path relative to `/v1/` (KV v2: `<mount…>/data|metadata|subkeys/<path>`). */
export function vaultOperationOf(apiPath: string): VaultOperation {
  if (apiPath.startsWith('sys/')) return 'sys';
  if (apiPath.startsWith('auth/')) return 'auth';
  const kv = /^(?:[^/?]+\/)+?(data|metadata|subkeys)(?:\/|\?|$)/.exec(apiPath);
  return kv ? (`kv-${kv[1]}` as VaultOperation) : 'other';
}

/** The transport: raw calls relative to `/v1/`, a token slot, AppRole login, and `close()`. */
export interface VaultTransport {
  /** `token`, when given and not empty, is sent for this call instead of the token slot. */
  get(apiPath: string, token?: string): Promise<VaultAnswer>;
  /** `body` undefined sends no body; `token` as for {@link VaultTransport.get}. */
  post(apiPath: string, body: unknown, token?: string): Promise<VaultAnswer>;
  /** Sets the token sent with every later call ('' sends none). */
  setToken(token: string): void;
  /** `POST auth/<mount>/login` with no token sent; returns the answer (the token is NOT kept here). */
  approleLogin(mount: string, roleId: string, secretId: string): Promise<VaultAnswer>;
  /** Destroys the connection pool; later calls fail. */
  close(): void;
}

/** An answer larger than this is cut off (Vault's own request limit is 32 MB). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

// undici's Client (with its connector and HTTP/1.1 parser) is imported on the first request only: a run without
// a Vault address (check of a sops-only repo, --version) never loads it, nor node:http/net/tls (see
// bench/start.ts). Only these modules are loaded, not undici's index (fetch, mocks, caches…), which costs three
// times as much to load.
interface Undici {
  Client: typeof Client;
  buildConnector: typeof buildConnector;
}
let undici: Promise<Undici> | undefined;
let liftoffOnly = true;

/**
 * For a long-lived process (coffre serve), called before its first Vault request: llhttp may then be optimised
 * by TurboFan (see loadUndici). Over thousands of requests the one-off compilation pays: serve's CPU per check
 * of one Vault-backed service measured 4.9 -> 3.9 ms, per render dryRun 4.5 -> 3.8 ms (2-core VM).
 */
export function optimiseHttpParserForLongRun(): void {
  liftoffOnly = false;
}

function loadUndici(): Promise<Undici> {
  undici ??= (async () => {
    // undici parses HTTP/1.1 with llhttp compiled to WebAssembly. After a few answers V8 recompiles it with
    // TurboFan on background threads: measured ~130-200 ms CPU and +30 MB RSS in a cold `coffre check`, for no
    // gain (the same CPU per read with V8's baseline code, Liftoff, for Vault's small answers). coffre runs no
    // other WebAssembly, so V8 keeps to Liftoff (set before llhttp is compiled, at the first connection),
    // unless the process runs long (optimiseHttpParserForLongRun).
    if (liftoffOnly) (await import('node:v8')).setFlagsFromString('--liftoff-only');
    const [client, connect] = await Promise.all([import('undici/lib/dispatcher/client.js'), import('undici/lib/core/connect.js')]);
    return { Client: client.default, buildConnector: connect.default };
  })();
  return undici;
}

/** A failure of ours, coded like Node's (the `code` is what {@link classify} reads). */
function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One keep-alive connection (an undici Client with pipelining 1) and how many requests it carries (0 or 1). */
interface Connection {
  client: Client;
  inFlight: number;
  /** Destroyed after a failed request: never handed out again. */
  retired: boolean;
}

/** What one request sends: the path (with its query) under the origin, and the exact header list. */
interface Outgoing {
  method: 'GET' | 'POST';
  path: string;
  headers: string[];
  body: string | undefined;
}

/**
 * Sends one request on `connection`; settles within `timeoutMs` whatever the server does. At the deadline the
 * request is aborted (undici then destroys its socket), so a server trickling its body byte by byte cannot
 * hold the call. The answer's body is collected up to {@link MAX_ANSWER_BYTES}.
 */
function dispatch(connection: Connection, request: Outgoing, timeoutMs: number, index: VaultIndexTracker | undefined): Promise<VaultAnswer> {
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    let status = 0;
    let size = 0;
    const chunks: Buffer[] = [];
    let released = false;
    /** The connection takes another request once this one is over (answered, failed or aborted). */
    const release = (): void => {
      if (released) return;
      released = true;
      connection.inFlight--;
    };
    let answered = false;
    const fail = (error: Error): void => {
      if (failure !== undefined || answered) return;
      failure = error;
      clearTimeout(deadline);
      // The connection is destroyed, not the request aborted: undici puts an aborted in-flight request back in
      // its client's queue and dials the server again for it, so a server that never answers saw one more
      // connection per timed-out request, held open until the transport closed.
      connection.retired = true;
      void connection.client.destroy(error).catch(() => {});
      reject(error);
    };
    const deadline = setTimeout(() => fail(codedError('ETIMEDOUT', `timeout of ${timeoutMs}ms exceeded`)), timeoutMs);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        if (failure !== undefined) started.abort(failure);
      },
      onResponseStart(_controller, statusCode, headers) {
        status = statusCode;
        const answered = headers['x-vault-index'];
        if (index !== undefined && typeof answered === 'string' && answered !== '') index.observe(answered);
      },
      onResponseData(_controller, chunk) {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) fail(codedError('ERESPONSETOOLARGE', 'answer too large'));
        else chunks.push(chunk);
      },
      onResponseEnd() {
        release();
        if (failure !== undefined || answered) return;
        answered = true;
        clearTimeout(deadline);
        resolve({ status, body: parseAnswer(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)) });
      },
      onResponseError(_controller, error) {
        release();
        fail(error);
      },
    };
    connection.inFlight++;
    try {
      connection.client.dispatch({ method: request.method, path: request.path, headers: request.headers, body: request.body ?? null }, handler);
    } catch (error) {
      release();
      fail(error as Error);
    }
  });
}

/** JSON when it parses, else the text (as node-vault's axios did); null for an empty body. */
function parseAnswer(bytes: Buffer): unknown {
  if (bytes.length === 0) return null;
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text === '' ? null : text;
  }
}

/** Creates a transport with its own keep-alive connection pool; call `close()` to release it. */
export function createVaultTransport(options: VaultTransportOptions): VaultTransport {
  const origin = options.address.replace(/\/+$/, '');
  const tls = options.tls ?? {};
  let closed = false;
  let token = '';
  // Keep-alive connections, one request at a time each (no pipelining: measured, it does not help with
  // OpenBao, which answers a connection's requests one after the other). A request takes an idle connection,
  // else opens one: there are as many as requests in flight (vault.ts bounds those), as with node:http's agent.
  // (undici's own Pool waits a turn of the event loop before it reuses a connection, so it opened more.)
  const connections: Connection[] = [];
  let opened: { Client: typeof Client; connect: buildConnector.connector } | undefined;
  let opening: Promise<unknown> | undefined;

  function open(): void {
    if (opened !== undefined || opening !== undefined) return;
    opening = loadUndici().then(({ Client, buildConnector }) => {
      // One connector for every connection, so TLS sessions are resumed across them. Verification is never
      // turned off; `ca` replaces Node's built-in roots when given.
      const connect = buildConnector({
        rejectUnauthorized: true,
        allowH2: false,
        timeout: options.timeoutMs,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
        ...(tls.key !== undefined ? { key: tls.key } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      });
      opened = { Client, connect };
    });
  }

  /** An idle connection, or a new one. */
  function connection(): Connection {
    for (let i = connections.length - 1; i >= 0; i--) if (connections[i]!.retired) connections.splice(i, 1);
    for (const candidate of connections) if (candidate.inFlight === 0) return candidate;
    const { Client, connect } = opened!;
    const client = new Client(origin, { pipelining: 1, allowH2: false, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connect });
    const created = { client, inFlight: 0, retired: false };
    connections.push(created);
    return created;
  }

  /** The exact request: method, normalised path (as a URL parser leaves it), and headers. */
  function outgoing(method: 'GET' | 'POST', apiPath: string, body: unknown, callToken: string | undefined): Outgoing {
    const url = new URL(`/v1/${apiPath}`, 'http://vault.invalid');
    const headers = ['Accept', 'application/json', 'X-Vault-Request', 'true'];
    const sent = callToken || token;
    if (sent) headers.push('X-Vault-Token', sent);
    if (options.namespace) headers.push('X-Vault-Namespace', options.namespace);
    const index = options.index?.current();
    if (index !== undefined) headers.push('X-Vault-Index', index);
    // As node-vault did: only an object is sent, as a JSON body.
    const json = typeof body === 'object' && body !== null ? JSON.stringify(body) : undefined;
    if (json !== undefined) headers.push('Content-Type', 'application/json');
    return { method, path: url.pathname + url.search, headers, body: json };
  }

  async function send(apiPath: string, request: () => Outgoing): Promise<VaultAnswer> {
    if (closed) throw new VaultTransportFailure('unreachable', 'source closed');
    const started = performance.now();
    let outcome: VaultAnswer | VaultTransportFailure;
    try {
      if (opened === undefined) {
        open();
        await opening;
      }
      if (closed) throw new Error('closed');
      const answer = await dispatch(connection(), request(), options.timeoutMs, options.index);
      outcome = closed ? new VaultTransportFailure('unreachable', 'source closed') : answer;
    } catch (error) {
      outcome = closed ? new VaultTransportFailure('unreachable', 'source closed') : classify(error);
    }
    if (options.observer !== undefined) {
      const settled = outcome instanceof VaultTransportFailure ? outcome.kind : (`${Math.min(5, Math.max(2, Math.floor(outcome.status / 100)))}xx` as VaultRequestOutcome);
      try {
        options.observer.requestSettled({ operation: vaultOperationOf(apiPath), outcome: settled, seconds: (performance.now() - started) / 1000 });
      } catch {
        // an observer never breaks a request
      }
    }
    if (outcome instanceof VaultTransportFailure) throw outcome;
    return outcome;
  }

  return {
    get: (apiPath, callToken) => send(apiPath, () => outgoing('GET', apiPath, undefined, callToken)),
    post: (apiPath, body, callToken) => send(apiPath, () => outgoing('POST', apiPath, body, callToken)),
    setToken(next) {
      token = next;
    },
    approleLogin(mount, roleId, secretId) {
      // The login path is unauthenticated, but a token sent along is still looked up: send none. The token
      // it returns is not kept here: the caller decides.
      const apiPath = `auth/${mount}/login`;
      return send(apiPath, () => {
        const request = outgoing('POST', apiPath, { role_id: roleId, secret_id: secretId }, undefined);
        const at = request.headers.indexOf('X-Vault-Token');
        if (at >= 0) request.headers.splice(at, 2);
        return request;
      });
    },
    close() {
      closed = true;
      for (const { client } of connections.splice(0)) void client.destroy().catch(() => {});
    },
  };
}

/** undici's codes for a deadline of its own (ours is ETIMEDOUT). */
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * A request that got no answer becomes a {@link VaultTransportFailure} named by a value-free code: Node's
 * socket and TLS codes pass through undici unchanged. The original error is dropped on purpose: it may carry
 * the request (token header, request body).
 */
function classify(error: unknown): VaultTransportFailure {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  let code = typeof e?.code === 'string' ? e.code : undefined;
  // undici wraps some socket failures (a connection closed or reset mid-answer): name them as node:http did.
  if (code === 'UND_ERR_SOCKET') code = typeof e?.cause?.code === 'string' ? e.cause.code : 'ECONNRESET';
  if (code !== undefined && TIMEOUT_CODES.has(code)) return new VaultTransportFailure('timeout', code);
  if (code !== undefined) return new VaultTransportFailure('unreachable', tlsReason(code) ?? code);
  return new VaultTransportFailure('unreachable', error instanceof Error ? error.name : 'unknown failure');
}

/** Node's (OpenSSL's) certificate verification codes: the server answered, but is not trusted. */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'INVALID_CA',
]);

/** A TLS failure named as one, with what to set; null for other codes. */
function tlsReason(code: string): string | null {
  if (TLS_TRUST_CODES.has(code)) {
    return `TLS: ${code}: the server's certificate is not trusted; give its CA with VAULT_CACERT / BAO_CACERT or vault.tls.caCert in coffre.yaml`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS: ${code}: the server's certificate does not hold the address's host name; set VAULT_TLS_SERVER_NAME / BAO_TLS_SERVER_NAME or vault.tls.serverName to the name it holds`;
  }
  if (code === 'EPROTO' || /^ERR_(SSL|TLS|OSSL)_/.test(code)) return `TLS: ${code}`;
  return null;
}
