// The only importer of node-vault: a thin HTTP transport to Vault/OpenBao that returns every HTTP answer
// as `{ status, body }` and turns transport failures into a small classified error. It reads no env
// (node-vault's env defaults are overridden), follows no redirects, uses no proxy, and logs nothing.
// node-vault builds the requests; they are sent by this module's own node:http call (node-vault's
// `request-promise` hook), which holds each request to one overall deadline: connect, headers AND body.
import type http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import type createNodeVaultType from 'node-vault';

// node-vault (and its axios), node:http and node:https (tls) are loaded on the first transport only: a run
// without a Vault address (check of a sops-only repo, --version) never pays for them (see bench/start.ts).
const require = createRequire(import.meta.url);
let nodeVaultFactory: typeof createNodeVaultType | undefined;
function createNodeVault(...args: Parameters<typeof createNodeVaultType>): ReturnType<typeof createNodeVaultType> {
  nodeVaultFactory ??= require('node-vault') as typeof createNodeVaultType;
  return nodeVaultFactory(...args);
}

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

/** The subset of node-vault's client we use, with the fields its typings leave out. */
interface NodeVaultClient {
  token: string | undefined;
  namespace: string | undefined;
  pathPrefix: string;
  endpoint: string;
  read(path: string, requestOptions?: object): Promise<unknown>;
  write(path: string, data: unknown, requestOptions?: object): Promise<unknown>;
  approleLogin(args: { role_id: string; secret_id: string; mount_point?: string; requestOptions?: object }): Promise<unknown>;
}

/** What node-vault hands its `request-promise` hook (the fields we use). */
interface HookRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Ours, passed through node-vault's request options: receives the answer's X-Vault-Index. */
  coffreIndex?: VaultIndexTracker;
}

/** What node-vault expects back from the hook (then it turns non-2xx into an ApiResponseError). */
interface HookResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);
/** An answer larger than this is cut off (Vault's own request limit is 32 MB). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One HTTP request, settled within `timeoutMs` of being sent whatever the server does (a server trickling
 * its body byte by byte included): at the deadline the request and its socket are destroyed. No redirect
 * is followed (a 3xx is an answer) and no proxy is used (node:http reads no proxy variables).
 */
function sendWithDeadline(options: HookRequest, agents: { http: http.Agent; https: https.Agent }, timeoutMs: number): Promise<HookResponse> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(options.uri);
    } catch {
      reject(codedError('ERR_INVALID_URL', 'invalid URL'));
      return;
    }
    const secure = url.protocol === 'https:';
    // As node-vault's axios did: only an object is sent as a JSON body.
    const body = typeof options.json === 'object' && options.json !== null ? JSON.stringify(options.json) : undefined;
    const headers: Record<string, string | number> = { ...options.headers, Accept: 'application/json' };
    if (body !== undefined) {
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outcome();
    };
    const request = (require(secure ? 'node:https' : 'node:http') as typeof import('node:http')).request(
      url,
      { method: options.method, headers, agent: secure ? agents.https : agents.http },
      (response) => {
        const index = response.headers['x-vault-index'];
        if (typeof index === 'string' && index !== '') options.coffreIndex?.observe(index);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            const tooLarge = codedError('ERESPONSETOOLARGE', 'answer too large');
            settle(() => reject(tooLarge));
            request.destroy(tooLarge);
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', (error) => settle(() => reject(error)));
        response.on('end', () =>
          settle(() => resolve({ statusCode: response.statusCode ?? 0, body: parseAnswer(Buffer.concat(chunks)), request: { path: url.pathname } })),
        );
      },
    );
    const deadline = setTimeout(() => {
      const timeout = codedError('ETIMEDOUT', `timeout of ${timeoutMs}ms exceeded`);
      settle(() => reject(timeout));
      request.destroy(timeout);
    }, timeoutMs);
    request.on('error', (error) => settle(() => reject(error)));
    request.end(body);
  });
}

/** JSON when it parses, else the text (as axios did); '' for an empty body. */
function parseAnswer(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Creates a transport with its own keep-alive agents; call `close()` to release them. */
export function createVaultTransport(options: VaultTransportOptions): VaultTransport {
  const http = require('node:http') as typeof import('node:http');
  const https = require('node:https') as typeof import('node:https');
  const httpAgent = new http.Agent({ keepAlive: true });
  const tls = options.tls ?? {};
  const httpsAgent = new https.Agent({
    keepAlive: true,
    rejectUnauthorized: true,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  });

  // node-vault's own axios would take a proxy from HTTP_PROXY/HTTPS_PROXY, follow redirects (re-sending
  // X-Vault-Token to the new host), and its `timeout` only bounds the wait between two packets, so a server
  // trickling its answer could hold a call for ever: node-vault's request hook sends with our own call instead.
  const requestHook = {
    defaults: () => (request: HookRequest) => sendWithDeadline(request, { http: httpAgent, https: httpsAgent }, options.timeoutMs),
  };
  const config = {
    endpoint: options.address,
    apiVersion: 'v1',
    noCustomHTTPVerbs: true,
    debug: () => {},
    'request-promise': requestHook,
    // VAULT_SKIP_VERIFY (any non-empty value) would otherwise turn TLS verification off (the hook ignores
    // these defaults anyway: the https agent verifies).
    rpDefaults: { strictSSL: true },
    // No `headers` here: a config-level headers object is shared and pins the first token (trap 1).
  };
  // `rpDefaults` is read by node-vault 0.12.0 but missing from its typings.
  const client = createNodeVault(config) as unknown as NodeVaultClient;
  // node-vault falls back to VAULT_TOKEN / VAULT_NAMESPACE / VAULT_PREFIX when a config value is falsy.
  client.token = '';
  client.namespace = options.namespace ?? '';
  client.pathPrefix = '';
  client.endpoint = options.address.replace(/\/+$/, '');

  let closed = false;
  // A fresh headers object per call: node-vault writes X-Vault-Token into whatever object it is given.
  // node-vault sends a per-call X-Vault-Token header in preference to client.token.
  const freshOptions = (token?: string): object => {
    const headers: Record<string, string> = token ? { 'X-Vault-Request': 'true', 'X-Vault-Token': token } : { 'X-Vault-Request': 'true' };
    const index = options.index?.current();
    if (index !== undefined) headers['X-Vault-Index'] = index;
    return options.index === undefined ? { headers } : { headers, coffreIndex: options.index };
  };

  async function answerOf(apiPath: string, call: () => Promise<unknown>): Promise<VaultAnswer> {
    if (closed) throw new VaultTransportFailure('unreachable', 'source closed');
    const started = performance.now();
    let outcome: VaultAnswer | VaultTransportFailure;
    try {
      const body = await call();
      outcome = { status: 200, body: body === undefined || body === '' ? null : body };
    } catch (error) {
      outcome = classify(error);
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
    get: (apiPath, token) => answerOf(apiPath, () => client.read(apiPath, freshOptions(token))),
    post: (apiPath, body, token) => answerOf(apiPath, () => client.write(apiPath, body, freshOptions(token))),
    setToken(token) {
      client.token = token;
    },
    async approleLogin(mount, roleId, secretId) {
      // The login path is unauthenticated, but a token sent along is still looked up: send none.
      const previous = client.token;
      client.token = '';
      try {
        return await answerOf(`auth/${mount}/login`, () =>
          client.approleLogin({ role_id: roleId, secret_id: secretId, mount_point: mount, requestOptions: freshOptions() }),
        );
      } finally {
        // approleLogin replaces client.token on success (trap 2); the caller decides what to keep.
        client.token = previous;
      }
    },
    close() {
      closed = true;
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * An HTTP answer (node-vault rejects every non-2xx with `err.response = { statusCode, body }`) becomes a
 * {@link VaultAnswer}; anything else becomes a {@link VaultTransportFailure}. The original error is
 * dropped on purpose: it may carry the request (token header, request body).
 */
function classify(error: unknown): VaultAnswer | VaultTransportFailure {
  const e = error as { response?: { statusCode?: unknown; body?: unknown }; code?: unknown; message?: unknown } | null;
  if (e && typeof e.response?.statusCode === 'number') {
    const body = e.response.body;
    return { status: e.response.statusCode, body: body === undefined || body === '' ? null : body };
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  if ((code !== undefined && TIMEOUT_CODES.has(code)) || /timeout of \d+ms exceeded/.test(message)) {
    return new VaultTransportFailure('timeout', code ?? 'timeout');
  }
  if (code !== undefined) return new VaultTransportFailure('unreachable', tlsReason(code) ?? code);
  // tv4 schema errors or other non-HTTP failures: name the kind only.
  return new VaultTransportFailure('unreachable', e instanceof Error ? e.name : 'unknown failure');
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
