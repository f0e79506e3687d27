// The Vault/OpenBao KV v2 SecretSource: path validation, KV v2 envelopes, the meanings of 404, error codes,
// bounded concurrency, one read per path, AppRole login. It reads no env and no files (the edge passes
// everything in), and never puts a value or a token into an error message.
import pLimit from 'p-limit';
import { CoffreError, type ErrorCode } from '../errors.js';
import type { KeyListing, KeyPresence, SecretSource, ValueSnapshot, VaultRef } from './secret-source.js';
import { circuitNote } from './vault-circuit.js';
import { createNodesTransport, nodesLabel, VaultOutcomeUnknown } from './vault-failover.js';
import { VaultTransportFailure, type VaultAnswer, type VaultRequestObserver, type VaultTls, type VaultTransport } from './vault-transport.js';

/** How the source authenticates: a token as is, an AppRole login on first use, or a shared session's token. */
export type VaultAuth =
  | { method: 'token'; token: string }
  | { method: 'approle'; roleId: string; secretId: string; /** auth mount, default `approle` */ mount?: string }
  | { method: 'session'; session: VaultTokenProvider };

/**
 * A long-lived holder of the Vault token (vault-session.ts) that many sources share: the source asks it for
 * the token before each request instead of logging in itself.
 */
export interface VaultTokenProvider {
  /** The token to send now; logs in first when there is none (concurrent callers share one login). */
  currentToken(): Promise<string>;
  /**
   * Called after a 403 answered to a request sent with `token`. Returns a different token to retry once
   * with (the token was dead and the provider logged in again), or null when retrying cannot help.
   */
  recoverFromDenial(token: string): Promise<string | null>;
}

/** Everything the Vault source needs, parsed at the edge (this module never reads process.env or files). */
export interface VaultSourceOptions {
  /** `http(s)://host[:port]` */
  address: string;
  auth: VaultAuth;
  /** Sent as X-Vault-Namespace when set. */
  namespace?: string;
  /** CA, client certificate and SNI name for an https address (contents, read at the edge). */
  tls?: VaultTls;
  /** Per-request timeout, default 10000 ms. */
  timeoutMs?: number;
  /** Requests in flight at once, default 8. */
  concurrency?: number;
  /** A transport owned by someone else (a VaultSession), reused and not closed by `close()`. */
  transport?: VaultTransport;
  /** After a request got no answer, how long other requests fail at once before one probes again (default 5000 ms). */
  circuitCooldownMs?: number;
  /** Told about every request of the transport this source creates (a borrowed one has its own). */
  observer?: VaultRequestObserver;
  /**
   * The nodes of a cluster (`address` is then ignored): a request a node cannot serve goes to the next one
   * (vault-failover.ts), and a write whose outcome is unknown is settled by reading the KV metadata back.
   */
  addresses?: string[];
  /** Cluster only: how long one request may go from node to node, and a write be settled (default 15000 ms). */
  failoverMs?: number;
}

/** What `health()` reports. `tokenTtlSeconds` is absent when the token cannot look itself up; 0 = no expiry. */
export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  version: string;
  tokenTtlSeconds?: number;
}

/** KV v2 metadata of one secret (no values). */
export interface VaultMetadata {
  currentVersion: number;
  /** Version number → its state. */
  versions: Map<number, { createdTime: string; deletionTime: string; destroyed: boolean }>;
  casRequired: boolean;
}

/**
 * The data of one KV v2 version exactly as stored: every JSON type (numbers, booleans, null, nested maps and
 * lists) kept as it is, so that a write of one key hands every other key back unchanged.
 */
export type VaultData = Record<string, unknown>;

/** The data of the latest version together with the version it is (the check-and-set version for a write). */
export interface VaultDataSnapshot {
  data: VaultData;
  version: number;
}

/** The Vault source: a SecretSource plus health, close, and the writer used by rotate. */
export type VaultSource = SecretSource<VaultRef> & {
  health(): Promise<VaultHealth>;
  /**
   * Writes a new version holding exactly `values` (JSON values, types kept), with check-and-set: `cas` must
   * equal the current version (0 = only if the secret does not exist yet). A lost race throws COFFRE_CONFLICT.
   */
  writeValues(ref: VaultRef, values: Readonly<VaultData>, cas: number): Promise<{ version: number }>;
  /**
   * The latest data as stored (types kept, nested values allowed) and its version, from ONE answer: the version
   * a write must check-and-set against. Shares readValues' single read (an older answer can only make the
   * write fail with COFFRE_CONFLICT, never lose an update); null when the secret does not exist.
   */
  readData(ref: VaultRef): Promise<VaultDataSnapshot | null>;
  /** Versions and current_version of a secret, or null when it does not exist. */
  readMetadata(ref: VaultRef): Promise<VaultMetadata | null>;
  /** The data of one past version as stored (for rollback); never memoised. A missing version is a usage error. */
  readVersion(ref: VaultRef, version: number): Promise<VaultData>;
  /**
   * Who the token is, for audit lines: its display name and identity entity, from lookup-self. Best effort:
   * null when the token may not look itself up (no `default` policy) or Vault cannot be asked. Memoised.
   */
  tokenIdentity(): Promise<VaultTokenIdentity | null>;
  /** Releases the connection pool; the source cannot be used afterwards. */
  close(): void;
};

/** What a token says of itself (never the token, never its accessor). */
export interface VaultTokenIdentity {
  displayName: string | null;
  entityId: string | null;
}

const SEGMENTS = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

type Endpoint = 'subkeys' | 'data' | 'metadata';

/** Creates a Vault/OpenBao KV v2 source. Nothing is sent until the first call. */
export function createVaultSource(options: VaultSourceOptions): VaultSource {
  const nodes = (options.addresses !== undefined && options.addresses.length > 0 ? options.addresses : [options.address]).map(parseAddress);
  if (new Set(nodes).size !== nodes.length) throw new CoffreError('COFFRE_CONFIG_INVALID', `Vault addresses list a node twice: ${nodesLabel(nodes)}`);
  const cluster = nodes.length > 1;
  /** How the server (or the cluster: every node) is named in messages. */
  const address = nodesLabel(nodes);
  const failoverMs = options.failoverMs ?? 15_000;
  if (!Number.isInteger(failoverMs) || failoverMs <= 0) throw usage('failoverMs must be a positive integer');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw usage('timeoutMs must be a positive integer');
  if (!Number.isInteger(concurrency) || concurrency <= 0) throw usage('concurrency must be a positive integer');
  const auth = options.auth;
  if (auth.method === 'approle') {
    if (auth.roleId === '' || auth.secretId === '') throw authError(address, 'AppRole role_id and secret_id are required');
    if (auth.mount !== undefined) checkPath(auth.mount, 'AppRole mount');
  }

  // A borrowed transport is only safe when every call names its token (session auth): token and AppRole
  // auth store their token in the transport, which would leak it to the transport's other users.
  if (options.transport !== undefined && auth.method !== 'session') throw usage('a shared transport needs session auth');
  const ownsTransport = options.transport === undefined;
  const transport: VaultTransport =
    options.transport ??
    createNodesTransport({
      addresses: nodes,
      timeoutMs,
      failoverMs,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
      ...(options.circuitCooldownMs !== undefined ? { circuitCooldownMs: options.circuitCooldownMs } : {}),
    });
  const limit = pLimit(concurrency);
  const reads = new Map<string, Promise<unknown>>();
  const mountChecks = new Map<string, Promise<string | null>>();
  let login: Promise<void> | undefined;
  const session = auth.method === 'session' ? auth.session : undefined;

  function ensureToken(): Promise<void> {
    if (login === undefined) {
      if (auth.method === 'session') login = Promise.resolve(); // the session is asked per request (sendAuthed)
      else login = auth.method === 'token' ? useToken(auth.token) : loginWithAppRole(auth.roleId, auth.secretId, auth.mount);
    }
    return login;
  }

  async function useToken(token: string): Promise<void> {
    if (token === '') throw authError(address, 'no Vault token given');
    transport.setToken(token);
  }

  async function loginWithAppRole(roleId: string, secretId: string, mount = 'approle'): Promise<void> {
    const answer = await limit(() => send(() => transport.approleLogin(mount, roleId, secretId), `AppRole login at auth/${mount}`));
    if (answer.status === 200) {
      const token = (answer.body as { auth?: { client_token?: unknown } } | null)?.auth?.client_token;
      if (typeof token !== 'string' || token === '') throw badResponse(address, `auth/${mount}/login`, 'no client_token in the login answer');
      transport.setToken(token);
      return;
    }
    if (answer.status === 400 || answer.status === 403) {
      throw authError(address, `AppRole login at auth/${mount} refused (${answer.status}): invalid role_id or secret_id`);
    }
    throw httpError(answer, address, `auth/${mount}/login`, 'AppRole login');
  }

  async function send(call: () => Promise<VaultAnswer>, where: string, keepUnknown = false): Promise<VaultAnswer> {
    try {
      return await call();
    } catch (error) {
      if (keepUnknown && error instanceof VaultOutcomeUnknown) throw error;
      if (error instanceof VaultTransportFailure) {
        if (error.kind === 'timeout') {
          throw new CoffreError('COFFRE_SOURCE_TIMEOUT', `${address}: ${where}: no answer within ${timeoutMs} ms${circuitNote(error)}`);
        }
        throw new CoffreError('COFFRE_SOURCE_UNREACHABLE', `${address}: ${where}: cannot connect (${error.reason})${circuitNote(error)}`);
      }
      throw error;
    }
  }

  /** Sends with the session's current token (taken when the request leaves the queue); a dead one is replaced once. */
  async function sendAuthed(call: (token?: string) => Promise<VaultAnswer>, where: string, keepUnknown = false): Promise<VaultAnswer> {
    if (session === undefined) return send(() => call(), where, keepUnknown);
    const token = await session.currentToken();
    const answer = await send(() => call(token), where, keepUnknown);
    if (answer.status !== 403) return answer;
    const fresh = await session.recoverFromDenial(token);
    return fresh === null ? answer : send(() => call(fresh), where, keepUnknown);
  }

  async function get(apiPath: string, where: string): Promise<VaultAnswer> {
    await ensureToken();
    return limit(() => sendAuthed((token) => transport.get(apiPath, token), where));
  }

  /** `keepUnknown`: a write that may have been applied throws VaultOutcomeUnknown (cluster), for the caller to settle. */
  async function post(apiPath: string, body: unknown, where: string, keepUnknown = false): Promise<VaultAnswer> {
    await ensureToken();
    return limit(() => sendAuthed((token) => transport.post(apiPath, body, token), where, keepUnknown));
  }

  /** A 403 means "this path is not yours" for a valid token, "no usable token" for a dead one: ask the token. */
  async function deniedOrAuth(answer: VaultAnswer, where: string, operation: string): Promise<CoffreError> {
    const self = await get('auth/token/lookup-self', where);
    // A live token without the `default` policy gets an ACL denial (a multierror) on lookup-self; an
    // unknown or expired token gets a bare "permission denied". Anything else proves nothing.
    const dead = self.status === 403 && !errorsOf(self).some((e) => e.includes('error occurred'));
    if (!dead) return httpError(answer, address, where, operation);
    return authError(address, `${where}: the Vault token is invalid or expired (403)`);
  }

  /** `{"errors":[]}` is also what a KV v1 mount answers: make sure the mount is KV v2 before saying "missing". */
  async function ensureKvV2(ref: VaultRef): Promise<void> {
    let check = mountChecks.get(ref.mount);
    if (check === undefined) {
      check = (async () => {
        const answer = await get(`sys/internal/ui/mounts/${encodePath(ref.mount)}`, describe(ref));
        if (answer.status !== 200) return null; // this token may not see mount details: trust the 404
        const data = (answer.body as { data?: { type?: unknown; options?: { version?: unknown } | null } } | null)?.data;
        if (data?.type === 'kv' && String(data.options?.version ?? '1') === '2') return null;
        return data?.type === 'kv' ? 'KV version 1' : `a "${String(data?.type)}" engine`;
      })();
      mountChecks.set(ref.mount, check);
    }
    const problem = await check;
    if (problem !== null) {
      throw new CoffreError('COFFRE_SOURCE_WRONG_MOUNT', `${address}: ${describe(ref)}: mount "${ref.mount}" is ${problem}, not KV v2`);
    }
  }

  /** GET `<mount>/<endpoint>/<path>`; 404 "missing" → null; every other failure → CoffreError. */
  async function readEnvelope(ref: VaultRef, endpoint: Endpoint, query = '', versionLabel = 'the latest version'): Promise<Record<string, unknown> | null> {
    const where = describe(ref);
    const apiPath = `${encodePath(ref.mount)}/${endpoint}/${encodePath(ref.path)}${query}`;
    const answer = await get(apiPath, where);
    if (answer.status === 200) {
      const data = (answer.body as { data?: unknown } | null)?.data;
      if (!isRecord(data)) throw badResponse(address, where, `no data object in the ${endpoint} answer`);
      return data;
    }
    if (answer.status === 404) {
      const kind = classifyNotFound(answer.body);
      if (kind === 'missing') {
        await ensureKvV2(ref);
        return null;
      }
      if (kind === 'deleted') {
        throw new CoffreError('COFFRE_SOURCE_DELETED', `${address}: ${where}: ${versionLabel} (${versionOf(answer.body)}) is soft-deleted`);
      }
      if (kind === 'destroyed') {
        throw new CoffreError('COFFRE_SOURCE_DESTROYED', `${address}: ${where}: ${versionLabel} (${versionOf(answer.body)}) is destroyed`);
      }
      throw new CoffreError('COFFRE_SOURCE_WRONG_MOUNT', `${address}: ${where}: mount "${ref.mount}" is not a KV v2 engine (or does not exist)`);
    }
    if (answer.status === 403) throw await deniedOrAuth(answer, where, `read of ${endpoint}/`);
    throw httpError(answer, address, where, `read of ${endpoint}/`);
  }

  /** The stored data map of a `data/` answer, as is. */
  function storedOf(data: Record<string, unknown>, ref: VaultRef): VaultData {
    const stored = data.data;
    if (!isRecord(stored)) throw badResponse(address, describe(ref), 'no data map in the answer');
    return stored;
  }

  /** The env values of a `data/` answer: strings as they are, numbers and booleans as text, nothing nested. */
  function valuesOf(data: Record<string, unknown>, ref: VaultRef): Map<string, string> {
    const values = new Map<string, string>();
    for (const [name, value] of Object.entries(storedOf(data, ref))) values.set(name, flatValue(value, name, address, ref));
    return values;
  }

  function memo<T>(endpoint: Endpoint | 'values', ref: VaultRef, run: () => Promise<T>): Promise<T> {
    const key = `${endpoint}\u0000${ref.mount}\u0000${ref.path}`;
    let pending = reads.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = run();
      reads.set(key, pending);
    }
    return pending;
  }

  /** The one `data/` read of the latest version per path, shared by readValues and readData (a write clears it). */
  function latestData(ref: VaultRef): Promise<Record<string, unknown> | null> {
    return memo('data', ref, () => readEnvelope(ref, 'data'));
  }

  function forget(ref: VaultRef): void {
    for (const endpoint of ['subkeys', 'data', 'values', 'metadata'] as const) reads.delete(`${endpoint}\u0000${ref.mount}\u0000${ref.path}`);
  }

  /**
   * A check-and-set write on a cluster, applied exactly once. The write is sent again only when it certainly was
   * not applied: its outcome is unknown after a dropped connection, a timeout or a 5xx (the node may have
   * committed it before dying), so coffre then reads the metadata back (on any node, X-Vault-Index kept) and
   * decides: version `cas + 1` exists and holds exactly `values` → it was applied (settled); `cas + 1` holds
   * something else → COFFRE_CONFLICT; the secret is still at `cas` → not applied, send again with the same
   * `cas`. Check-and-set lets only one write ever create version `cas + 1`, so a re-sent write can neither
   * double the version nor overwrite another writer; a check-and-set refusal after an unknown outcome is
   * settled the same way (it may be our own first write, seen late). Bounded by failoverMs.
   */
  async function writeOnCluster(ref: VaultRef, apiPath: string, values: Readonly<VaultData>, cas: number): Promise<VaultAnswer | { settled: number }> {
    const where = describe(ref);
    const deadline = Date.now() + failoverMs;
    let uncertain: string | null = null;
    for (let round = 0; ; round++) {
      let answer: VaultAnswer | null = null;
      try {
        answer = await post(apiPath, { options: { cas }, data: values }, where, true);
      } catch (error) {
        if (!(error instanceof VaultOutcomeUnknown)) throw error;
        uncertain = error.reason;
      }
      if (answer !== null) {
        const casRefused = answer.status === 400 && errorsOf(answer).some((e) => e.includes('check-and-set'));
        const unknown = answer.status >= 500;
        if (unknown) uncertain = `HTTP ${answer.status}`;
        if (!unknown && !(casRefused && uncertain !== null)) return answer;
      }
      // Outcome unknown (or a refusal that may be our own earlier write): read back what the cluster holds.
      forget(ref);
      let meta: Record<string, unknown> | null;
      try {
        meta = await readEnvelope(ref, 'metadata');
      } catch (error) {
        if (!(error instanceof CoffreError) || (error.code !== 'COFFRE_SOURCE_UNREACHABLE' && error.code !== 'COFFRE_SOURCE_TIMEOUT')) throw error;
        throw new CoffreError(
          error.code,
          `${address}: ${where}: the write was sent but its outcome is unknown (${uncertain ?? 'no answer'}) and reading it back failed too: ${error.message}; run \`coffre versions\` to see whether version ${cas + 1} was written before rotating again`,
        );
      }
      const current = meta === null ? 0 : meta.current_version;
      if (typeof current !== 'number') throw badResponse(address, where, 'no current_version in the metadata');
      if (current > cas) {
        let written: VaultData | null = null;
        try {
          const data = await readEnvelope(ref, 'data', `?version=${cas + 1}`, 'version');
          written = data === null ? null : storedOf(data, ref);
        } catch (error) {
          // Version cas+1 deleted or destroyed since: it is not ours to claim.
          if (!(error instanceof CoffreError) || (error.code !== 'COFFRE_SOURCE_DELETED' && error.code !== 'COFFRE_SOURCE_DESTROYED')) throw error;
        }
        if (written !== null && sameJson(written, values)) return { settled: cas + 1 };
        throw new CoffreError('COFFRE_CONFLICT', `${address}: ${where}: check-and-set failed, the secret is no longer at version ${cas} (another write made version ${cas + 1})`);
      }
      if (current < cas) {
        throw new CoffreError('COFFRE_CONFLICT', `${address}: ${where}: check-and-set failed, the secret is at version ${current}, not ${cas}`);
      }
      // Still at `cas`: not applied (yet). Send it again, with the same cas, while the budget lasts.
      if (Date.now() >= deadline) {
        throw new CoffreError(
          'COFFRE_SOURCE_UNREACHABLE',
          `${address}: ${where}: write not applied within ${failoverMs} ms of failover (last attempt: ${uncertain ?? 'no answer'}); the secret is still at version ${cas}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** Math.min(round, 4))));
    }
  }

  let identity: Promise<VaultTokenIdentity | null> | undefined;
  const source: VaultSource = {
    kind: 'vault',

    async listKeys(ref) {
      checkRef(ref);
      return memo('subkeys', ref, async (): Promise<KeyListing | null> => {
        const data = await readEnvelope(ref, 'subkeys', '?depth=1');
        if (data === null) return null;
        const subkeys = data.subkeys;
        if (!isRecord(subkeys)) throw badResponse(address, describe(ref), 'no subkeys map in the answer');
        const keys = new Map<string, KeyPresence>();
        for (const name of Object.keys(subkeys)) keys.set(name, 'unknown');
        const version = metadataVersion(data.metadata);
        return version === undefined ? { keys } : { keys, version };
      });
    },

    async readValues(ref) {
      checkRef(ref);
      return memo('values', ref, async (): Promise<ValueSnapshot | null> => {
        const data = await latestData(ref);
        if (data === null) return null;
        const values = valuesOf(data, ref);
        const version = metadataVersion(data.metadata);
        return version === undefined ? { values } : { values, version };
      });
    },

    async readVersion(ref, version) {
      checkRef(ref);
      if (!Number.isInteger(version) || version < 1) throw usage(`${describe(ref)}: a version is an integer >= 1`);
      const data = await readEnvelope(ref, 'data', `?version=${version}`, 'version');
      if (data === null) throw usage(`${address}: ${describe(ref)} has no version ${version}`);
      return storedOf(data, ref);
    },

    async readData(ref) {
      checkRef(ref);
      const data = await latestData(ref);
      if (data === null) return null;
      const stored = storedOf(data, ref);
      const version = metadataVersion(data.metadata);
      // No separate metadata read: a version read later could be newer than this data (a lost update).
      if (version === undefined) throw badResponse(address, describe(ref), 'no version in the data answer; refusing a write without check-and-set');
      return { data: stored, version };
    },

    release(ref) {
      forget(ref);
    },

    async readMetadata(ref) {
      checkRef(ref);
      return memo('metadata', ref, async (): Promise<VaultMetadata | null> => {
        const data = await readEnvelope(ref, 'metadata');
        if (data === null) return null;
        const current = data.current_version;
        if (typeof current !== 'number') throw badResponse(address, describe(ref), 'no current_version in the metadata');
        const versions = new Map<number, { createdTime: string; deletionTime: string; destroyed: boolean }>();
        if (isRecord(data.versions)) {
          for (const [n, v] of Object.entries(data.versions)) {
            if (!isRecord(v)) continue;
            versions.set(Number(n), {
              createdTime: String(v.created_time ?? ''),
              deletionTime: String(v.deletion_time ?? ''),
              destroyed: v.destroyed === true,
            });
          }
        }
        return { currentVersion: current, versions, casRequired: data.cas_required === true };
      });
    },

    async writeValues(ref, values, cas) {
      checkRef(ref);
      const where = describe(ref);
      if (!Number.isInteger(cas) || cas < 0) throw usage(`${where}: check-and-set version must be an integer >= 0`);
      for (const [name, value] of Object.entries(values)) {
        if (!isJsonValue(value, 0)) throw usage(`${where}: value of key ${name} is not a JSON value`);
      }
      // A KV v1 mount would silently store `{options, data}` under the key "data/<path>".
      await ensureKvV2(ref);
      forget(ref);
      const apiPath = `${encodePath(ref.mount)}/data/${encodePath(ref.path)}`;
      const answer = cluster ? await writeOnCluster(ref, apiPath, values, cas) : await post(apiPath, { options: { cas }, data: values }, where);
      forget(ref);
      if ('settled' in answer) return { version: answer.settled };
      if (answer.status === 200) {
        const version = (answer.body as { data?: { version?: unknown } } | null)?.data?.version;
        if (typeof version !== 'number') throw badResponse(address, where, 'no version in the write answer');
        return { version };
      }
      if (answer.status === 400 && errorsOf(answer).some((e) => e.includes('check-and-set'))) {
        throw new CoffreError('COFFRE_CONFLICT', `${address}: ${where}: check-and-set failed, the secret is no longer at version ${cas}`);
      }
      if (answer.status === 404) {
        throw new CoffreError('COFFRE_SOURCE_WRONG_MOUNT', `${address}: ${where}: mount "${ref.mount}" is not a KV v2 engine (or does not exist)`);
      }
      if (answer.status === 403) throw await deniedOrAuth(answer, where, 'write');
      throw httpError(answer, address, where, 'write');
    },

    async health() {
      const answer = await limit(() =>
        send(() => transport.get('sys/health?standbyok=true&sealedcode=200&uninitcode=200&perfstandbyok=true'), 'sys/health'),
      );
      const body = answer.body as { initialized?: unknown; sealed?: unknown; version?: unknown } | null;
      if (answer.status !== 200 || typeof body?.sealed !== 'boolean') throw httpError(answer, address, 'sys/health', 'health check');
      const health: VaultHealth = {
        initialized: body.initialized === true,
        sealed: body.sealed,
        version: typeof body.version === 'string' ? body.version : 'unknown',
      };
      if (health.sealed || !health.initialized) return health;
      await ensureToken();
      const self = await limit(() => sendAuthed((token) => transport.get('auth/token/lookup-self', token), 'auth/token/lookup-self'));
      const ttl = (self.body as { data?: { ttl?: unknown } } | null)?.data?.ttl;
      if (self.status === 200 && typeof ttl === 'number') health.tokenTtlSeconds = ttl;
      else if (self.status === 403 && !errorsOf(self).some((e) => e.includes('error occurred'))) {
        throw authError(address, 'auth/token/lookup-self: the Vault token is invalid or expired (403)');
      }
      return health;
    },

    tokenIdentity() {
      identity ??= (async () => {
        try {
          const self = await get('auth/token/lookup-self', 'auth/token/lookup-self');
          const data = (self.body as { data?: { display_name?: unknown; entity_id?: unknown } } | null)?.data;
          if (self.status !== 200 || data === undefined) return null;
          const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
          return { displayName: text(data.display_name), entityId: text(data.entity_id) };
        } catch {
          return null;
        }
      })();
      return identity;
    },

    close() {
      if (ownsTransport) transport.close();
    },
  };

  function checkRef(ref: VaultRef): void {
    checkPath(ref.mount, 'mount');
    checkPath(ref.path, 'path');
  }

  return source;
}

function describe(ref: VaultRef): string {
  return `${ref.mount}/${ref.path}`;
}

/** Vault paths are joined into URLs: allow only plain segments, and no `.`/`..` (URL normalisation). */
function checkPath(value: string, what: string): void {
  if (typeof value !== 'string' || !SEGMENTS.test(value) || value.split('/').some((s) => s.endsWith('.'))) {
    throw new CoffreError(
      'COFFRE_CONFIG_INVALID',
      `Vault ${what} ${JSON.stringify(value)} is not allowed: use segments of A-Z a-z 0-9 . _ - separated by "/", none ending in "."`,
    );
  }
}

function encodePath(value: string): string {
  return value.split('/').map(encodeURIComponent).join('/');
}

function parseAddress(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new CoffreError('COFFRE_CONFIG_INVALID', 'Vault address is not a URL (expected http(s)://host[:port])');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `Vault address ${url.protocol}//${url.host} must be http(s)://host[:port]`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `Vault address ${url.origin} must not have a path`);
  }
  return url.origin;
}

function usage(message: string): CoffreError {
  return new CoffreError('COFFRE_USAGE', message);
}

function authError(address: string, message: string): CoffreError {
  return new CoffreError('COFFRE_SOURCE_AUTH', `${address}: ${message}`);
}

function badResponse(address: string, where: string, message: string): CoffreError {
  return new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: ${where}: ${message}`);
}

/** Status-only mapping (shared with vault-session.ts). Server error texts are not copied: only known, value-free phrases are matched. */
export function httpError(answer: VaultAnswer, address: string, where: string, operation: string): CoffreError {
  const errors = errorsOf(answer);
  const byStatus: Record<number, [ErrorCode, string]> = {
    403: ['COFFRE_SOURCE_DENIED', 'permission denied (403)'],
    429: ['COFFRE_SOURCE_RATE_LIMITED', 'rate limit quota exceeded (429)'],
  };
  let found = byStatus[answer.status];
  if (answer.status === 503) {
    found = errors.some((e) => /sealed/i.test(e))
      ? ['COFFRE_SOURCE_SEALED', 'Vault/OpenBao is sealed (503)']
      : ['COFFRE_SOURCE_UNREACHABLE', 'service unavailable (503)'];
  }
  if (answer.status >= 300 && answer.status < 400) {
    // Following it would re-send the token to wherever Location points (docs/vault-openbao.md trap 7).
    found = ['COFFRE_SOURCE_BAD_RESPONSE', `redirected (HTTP ${answer.status}); redirects are not followed, point coffre at the active node`];
  }
  const [code, what] = found ?? ['COFFRE_SOURCE_BAD_RESPONSE', `unexpected HTTP ${answer.status}`];
  return new CoffreError(code, `${address}: ${where}: ${operation}: ${what}`);
}

function errorsOf(answer: VaultAnswer): string[] {
  const errors = (answer.body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
}

/** The four meanings of a KV v2 404, told apart by the body (docs/vault-openbao.md trap 4). */
function classifyNotFound(body: unknown): 'missing' | 'deleted' | 'destroyed' | 'wrong-path' {
  if (!isRecord(body)) return 'wrong-path';
  const data = body.data;
  if (isRecord(data) && isRecord(data.metadata)) {
    if (data.metadata.destroyed === true) return 'destroyed';
    if (typeof data.metadata.deletion_time === 'string' && data.metadata.deletion_time !== '') return 'deleted';
  }
  if (Array.isArray(body.errors) && body.errors.length === 0) return 'missing';
  return 'wrong-path';
}

function versionOf(body: unknown): string {
  const data = isRecord(body) ? body.data : undefined;
  const version = isRecord(data) ? metadataVersion(data.metadata) : undefined;
  return version === undefined ? '?' : String(version);
}

function metadataVersion(metadata: unknown): number | undefined {
  return isRecord(metadata) && typeof metadata.version === 'number' ? metadata.version : undefined;
}

/** Env values are strings: numbers and booleans are stringified, null is empty, maps and lists are refused. */
function flatValue(value: unknown, key: string, address: string, ref: VaultRef): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  throw new CoffreError(
    'COFFRE_SOURCE_NOT_FLAT',
    `${address}: ${describe(ref)}: key ${key} holds a nested ${Array.isArray(value) ? 'list' : 'map'}, not a string`,
  );
}

/** Whether `value` survives JSON unchanged: strings, finite numbers, booleans, null, plain arrays and maps of those. */
function isJsonValue(value: unknown, depth: number): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (isRecord(value)) {
    const proto = Object.getPrototypeOf(value);
    return (proto === Object.prototype || proto === null) && Object.values(value).every((v) => isJsonValue(v, depth + 1));
  }
  return false;
}

/** Deep equality of JSON values (map key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
