// The long-lived Vault/OpenBao auth session that many sources share: logs in once (AppRole, optionally with a
// response-wrapped secret_id) or adopts a static token, renews it before it expires, logs in again when renewal
// cannot help, and reports its state. It never logs, returns in state() or puts in a message a token or secret_id.
import { createHash } from 'node:crypto';
import { CoffreError, isCoffreError, type ErrorCode } from '../errors.js';
import { httpError, type VaultTokenProvider } from './vault.js';
import { circuitNote } from './vault-circuit.js';
import { createNodesTransport, nodesLabel } from './vault-failover.js';
import { VaultTransportFailure, type VaultAnswer, type VaultRequestObserver, type VaultTls, type VaultTransport } from './vault-transport.js';

/** AppRole credentials as read now (the files are read again for every login). */
export interface AppRoleCredentials {
  roleId: string;
  /** The secret_id, or a response-wrapping token holding one when `secretIdWrapped` is set. */
  secretId: string;
}

/** How the session authenticates. */
export type VaultSessionAuth =
  | { method: 'token'; token: string }
  | {
      method: 'approle';
      /** Auth mount, default `approle`. */
      mount?: string;
      /** Reads role_id and secret_id (e.g. from their files); called once per login, never cached. */
      readCredentials: () => Promise<AppRoleCredentials>;
      /** The secret_id read is a response-wrapping token to check and unwrap (usable once). */
      secretIdWrapped?: boolean;
      /** Where the secret_id comes from (a file name), for messages. */
      secretIdOrigin?: string;
    };

/** The value-free logger the session reports to (a pino logger fits). */
export interface VaultSessionLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Options of {@link createVaultSession}; everything comes from the edge. */
export interface VaultSessionOptions {
  /** `http(s)://host[:port]` */
  address: string;
  namespace?: string;
  /** CA, client certificate and SNI name for an https address (contents, read at the edge). */
  tls?: VaultTls;
  /** Per-request timeout, default 10000 ms. */
  timeoutMs?: number;
  auth: VaultSessionAuth;
  logger?: VaultSessionLogger;
  /** Milliseconds clock (default Date.now). */
  now?: () => number;
  /** Fraction of the lease after which the token is renewed, default 2/3. */
  renewFraction?: number;
  /** After a request got no answer, how long other requests fail at once before one probes again (default 5000 ms). */
  circuitCooldownMs?: number;
  /** Told about every request of the session's transport (coffre serve's metrics). */
  observer?: VaultRequestObserver;
  /** The nodes of a cluster (`address` is then ignored); requests fail over between them (vault-failover.ts). */
  addresses?: string[];
  /** Cluster only: how long one request may go from node to node (default 15000 ms). */
  failoverMs?: number;
}

/** What the session shows of itself (/readyz): never the token, its accessor or the secret_id. */
export interface VaultSessionState {
  method: 'token' | 'approle';
  /** A token is held and not known to be expired. */
  authenticated: boolean;
  /** Seconds left on the token; 0 = it never expires; absent when unknown (no token, or lookup-self denied). */
  tokenTtlSeconds?: number;
  renewable?: boolean;
  /** ISO times of the last successful login (AppRole) and renewal. */
  lastLogin?: string;
  lastRenewal?: string;
  logins: number;
  renewals: number;
  /** The last failure (login, renewal, lookup), kept after recovery so that it stays visible. */
  lastError?: { code: ErrorCode; message: string; at: string };
}

/** A session: the token provider sources use, plus its lifecycle and state. */
export interface VaultSession extends VaultTokenProvider {
  /** The normalised server origin the session's token belongs to (a cluster: its origins joined with ","). */
  readonly address: string;
  readonly namespace: string | undefined;
  /**
   * The session's connection to the server (keep-alive), lent to the per-request sources of coffre serve so
   * that a request reuses open connections instead of building a client and dialling anew. Each call names
   * its token, so sharing carries no token from one caller to another.
   */
  readonly transport: VaultTransport;
  /** Logs in now (AppRole) or looks the static token up (TTL, renewable) and arms renewal. */
  start(): Promise<void>;
  state(): VaultSessionState;
  /** Stops the renewal timer and releases the connections; later calls fail. The token is left to expire. */
  close(): void;
}

const ERROR_MARK = 'error occurred';

/** Creates a session; nothing is sent before `start()` or the first `currentToken()`. */
export function createVaultSession(options: VaultSessionOptions): VaultSession {
  const nodes = (options.addresses !== undefined && options.addresses.length > 0 ? options.addresses : [options.address]).map(originOf);
  const address = nodesLabel(nodes);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const renewFraction = options.renewFraction ?? 2 / 3;
  const auth = options.auth;
  const mount = auth.method === 'approle' ? (auth.mount ?? 'approle') : '';
  // The mount goes into the login path as is: plain segments only.
  if (auth.method === 'approle' && (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(mount) || mount.split('/').some((s) => s.endsWith('.')))) {
    throw new CoffreError('COFFRE_CONFIG_INVALID', `Vault AppRole mount ${JSON.stringify(mount)} is not allowed: use segments of A-Z a-z 0-9 . _ - separated by "/"`);
  }
  const logger = options.logger;
  // Behind a circuit: when the server stops answering, reads fail at once; one probes again after the cool-down.
  const transport = createNodesTransport({
    addresses: nodes,
    timeoutMs,
    ...(options.failoverMs !== undefined ? { failoverMs: options.failoverMs } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.circuitCooldownMs !== undefined ? { circuitCooldownMs: options.circuitCooldownMs } : {}),
  });
  // The transport's own token slot stays empty: every call names its token, so a login or renewal running
  // beside reads can never change what those reads send.

  let token: string | null = auth.method === 'token' ? auth.token : null;
  /** ms epoch; null = never expires or unknown (see ttlKnown). */
  let expiresAt: number | null = null;
  let ttlKnown = false;
  let fullLeaseSeconds = 0;
  let renewable = false;
  /** The last renewal was cut short by the max TTL: the next step is a new login, not a renewal. */
  let capped = false;
  let lastLogin: number | undefined;
  let lastRenewal: number | undefined;
  let logins = 0;
  let renewals = 0;
  let lastError: VaultSessionState['lastError'];
  let pendingLogin: Promise<string> | undefined;
  const pendingChecks = new Map<string, Promise<string | null>>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Bumped on every new token, so that a late answer about an older token changes nothing. */
  let generation = 0;
  /** sha256 of wrapping tokens this session unwrapped (or tried to): a wrapping token works once. */
  const spentWrappingTokens = new Set<string>();

  function nearExpiry(): boolean {
    return expiresAt !== null && now() >= expiresAt - 500;
  }

  function fail(error: unknown): CoffreError {
    const coffre = isCoffreError(error) ? error : new CoffreError('COFFRE_INTERNAL', 'Vault session: unexpected failure');
    lastError = { code: coffre.code, message: coffre.message, at: new Date(now()).toISOString() };
    logger?.warn({ code: coffre.code }, coffre.message);
    return coffre;
  }

  async function send(call: () => Promise<VaultAnswer>, where: string): Promise<VaultAnswer> {
    if (closed) throw new CoffreError('COFFRE_SOURCE_AUTH', `${address}: ${where}: the Vault session is closed`);
    try {
      return await call();
    } catch (error) {
      if (error instanceof VaultTransportFailure) {
        if (error.kind === 'timeout') throw new CoffreError('COFFRE_SOURCE_TIMEOUT', `${address}: ${where}: no answer within ${timeoutMs} ms${circuitNote(error)}`);
        throw new CoffreError('COFFRE_SOURCE_UNREACHABLE', `${address}: ${where}: cannot connect (${error.reason})${circuitNote(error)}`);
      }
      throw error;
    }
  }

  function authError(message: string): CoffreError {
    return new CoffreError('COFFRE_SOURCE_AUTH', `${address}: ${message}`);
  }

  /** Takes a lease (login, renewal or lookup) into account and arms the next renewal step. */
  function adoptLease(leaseSeconds: number, isRenewable: boolean): void {
    renewable = isRenewable;
    ttlKnown = true;
    expiresAt = leaseSeconds > 0 ? now() + leaseSeconds * 1000 : null;
    schedule(leaseSeconds > 0 ? leaseSeconds * 1000 * renewFraction : null);
  }

  function schedule(delayMs: number | null): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (delayMs === null || closed) return;
    timer = setTimeout(() => void tick(), Math.max(250, Math.round(delayMs)));
    // The session must not keep a finished CLI run (or a closing server) alive.
    timer.unref();
  }

  /** After a failed step: try again while the token still has time; once it expired, the next read logs in. */
  function scheduleRetry(): void {
    if (expiresAt === null) return schedule(ttlKnown ? null : 5_000);
    const left = expiresAt - now();
    schedule(left > 1_000 ? left / 2 : null);
  }

  /** The timer: renew when that extends the token, else (AppRole) log in again. */
  async function tick(): Promise<void> {
    timer = undefined;
    if (closed || token === null) return;
    const current = token;
    const started = generation;
    if (auth.method === 'token' && !ttlKnown) {
      await lookupStaticToken().catch(() => undefined);
      return;
    }
    if (auth.method === 'approle' && (!renewable || capped)) {
      try {
        await relogin(capped ? 'the token reaches its max TTL' : 'the token is not renewable');
      } catch {
        scheduleRetry();
      }
      return;
    }
    if (!renewable) return;
    let answer: VaultAnswer;
    try {
      answer = await send(() => transport.post('auth/token/renew-self', {}, current), 'auth/token/renew-self');
    } catch (error) {
      fail(error);
      return scheduleRetry();
    }
    if (started !== generation) return;
    if (answer.status === 200) {
      const granted = leaseOf(answer.body);
      if (granted === null) {
        fail(new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: auth/token/renew-self: no lease in the answer`));
        return scheduleRetry();
      }
      renewals += 1;
      lastRenewal = now();
      // The server grants less than asked only when the token's max TTL caps it.
      capped = granted.leaseSeconds < fullLeaseSeconds;
      adoptLease(granted.leaseSeconds, granted.renewable);
      logger?.info({ method: auth.method, ttlSeconds: granted.leaseSeconds, capped }, 'Vault token renewed');
      if (capped && auth.method === 'token') schedule(null); // a static token cannot be replaced: let it run out
      return;
    }
    if (answer.status === 403 && auth.method === 'approle') {
      try {
        await relogin('renewal was refused (403)');
      } catch {
        scheduleRetry();
      }
      return;
    }
    fail(answer.status === 403 ? authError('auth/token/renew-self: the Vault token is invalid or expired (403)') : httpError(answer, address, 'auth/token/renew-self', 'token renewal'));
    if (answer.status !== 403) scheduleRetry();
  }

  async function relogin(reason: string): Promise<string> {
    logger?.info({ method: auth.method, mount, reason }, 'Vault session logs in again');
    return login();
  }

  /** One login at a time: concurrent callers wait for the same one. */
  function login(): Promise<string> {
    if (pendingLogin === undefined) {
      pendingLogin = loginOnce().finally(() => {
        pendingLogin = undefined;
      });
    }
    return pendingLogin;
  }

  async function loginOnce(): Promise<string> {
    if (auth.method !== 'approle') throw new CoffreError('COFFRE_INTERNAL', 'a token session cannot log in');
    try {
      const credentials = await auth.readCredentials();
      if (credentials.roleId === '' || credentials.secretId === '') throw authError('AppRole role_id and secret_id are required');
      const secretId = auth.secretIdWrapped ? await unwrapSecretId(credentials.secretId) : credentials.secretId;
      const where = `AppRole login at auth/${mount}`;
      const answer = await send(() => transport.approleLogin(mount, credentials.roleId, secretId), where);
      if (answer.status === 400 || answer.status === 403) {
        throw authError(`${where} refused (${answer.status}): invalid role_id or secret_id`);
      }
      if (answer.status !== 200) throw httpError(answer, address, `auth/${mount}/login`, 'AppRole login');
      const granted = leaseOf(answer.body);
      const clientToken = (answer.body as { auth?: { client_token?: unknown } } | null)?.auth?.client_token;
      if (granted === null || typeof clientToken !== 'string' || clientToken === '') {
        throw new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: auth/${mount}/login: no client_token or lease in the login answer`);
      }
      generation += 1;
      token = clientToken;
      logins += 1;
      lastLogin = now();
      capped = false;
      fullLeaseSeconds = granted.leaseSeconds;
      adoptLease(granted.leaseSeconds, granted.renewable);
      logger?.info({ method: 'approle', mount, ttlSeconds: granted.leaseSeconds, renewable: granted.renewable, logins }, 'Vault AppRole login');
      return clientToken;
    } catch (error) {
      throw fail(error);
    }
  }

  /** Checks where the wrapping token was made, then unwraps it (the wrapping token goes as X-Vault-Token only). */
  async function unwrapSecretId(wrappingToken: string): Promise<string> {
    const origin = auth.method === 'approle' && auth.secretIdOrigin ? auth.secretIdOrigin : 'the secret_id file';
    const digest = createHash('sha256').update(wrappingToken).digest('hex');
    if (spentWrappingTokens.has(digest)) {
      throw authError(
        `${origin} still holds the response-wrapping token this process already unwrapped; a wrapping token works once: write a new wrapped secret_id there`,
      );
    }
    const spent = (): CoffreError =>
      authError(
        `the response-wrapping token in ${origin} is invalid, expired or was already used: if coffre did not unwrap it, someone else did (possible interception of the secret_id): revoke it and issue a new one`,
      );
    const lookup = await send(() => transport.post('sys/wrapping/lookup', { token: wrappingToken }), 'sys/wrapping/lookup');
    if (lookup.status === 400 || lookup.status === 403 || lookup.status === 404) throw spent();
    if (lookup.status !== 200) throw httpError(lookup, address, 'sys/wrapping/lookup', 'wrapping token lookup');
    const creationPath = (lookup.body as { data?: { creation_path?: unknown } } | null)?.data?.creation_path;
    const expected = new RegExp(`^auth/${escapeRegExp(mount)}/role/[^/]+/secret-id$`);
    if (typeof creationPath !== 'string' || !expected.test(creationPath)) {
      throw authError(
        `the response-wrapping token in ${origin} was created at ${typeof creationPath === 'string' ? creationPath : 'an unknown path'}, not at auth/${mount}/role/<role>/secret-id: refusing to unwrap it (possible substitution)`,
      );
    }
    spentWrappingTokens.add(digest);
    // No body token: sending the wrapping token both as header and in the body would burn it.
    const unwrapped = await send(() => transport.post('sys/wrapping/unwrap', undefined, wrappingToken), 'sys/wrapping/unwrap');
    if (unwrapped.status === 400 || unwrapped.status === 403 || unwrapped.status === 404) throw spent();
    if (unwrapped.status !== 200) throw httpError(unwrapped, address, 'sys/wrapping/unwrap', 'unwrap');
    const secretId = (unwrapped.body as { data?: { secret_id?: unknown } } | null)?.data?.secret_id;
    if (typeof secretId !== 'string' || secretId === '') {
      throw new CoffreError('COFFRE_SOURCE_BAD_RESPONSE', `${address}: sys/wrapping/unwrap: the wrapped answer holds no secret_id`);
    }
    return secretId;
  }

  /** Static token: learn its TTL and renewability, and arm renewal when it has both. */
  async function lookupStaticToken(): Promise<void> {
    if (token === null) return;
    const current = token;
    try {
      const answer = await send(() => transport.get('auth/token/lookup-self', current), 'auth/token/lookup-self');
      if (answer.status === 200) {
        const data = (answer.body as { data?: { ttl?: unknown; renewable?: unknown; creation_ttl?: unknown } } | null)?.data;
        const ttl = typeof data?.ttl === 'number' ? data.ttl : 0;
        fullLeaseSeconds = typeof data?.creation_ttl === 'number' && data.creation_ttl > 0 ? data.creation_ttl : ttl;
        adoptLease(ttl, data?.renewable === true);
        if (!renewable) schedule(null);
        return;
      }
      if (answer.status === 403 && isDeadTokenAnswer(answer)) throw authError('auth/token/lookup-self: the Vault token is invalid or expired (403)');
      // A live token without the `default` policy may not look itself up: its TTL stays unknown.
      if (answer.status !== 403) throw httpError(answer, address, 'auth/token/lookup-self', 'token lookup');
    } catch (error) {
      const failure = fail(error);
      // Vault down or sealed at start: look again later; a dead token stays dead.
      if (failure.code !== 'COFFRE_SOURCE_AUTH') scheduleRetry();
      throw failure;
    }
  }

  const session: VaultSession = {
    address,
    namespace: options.namespace,

    async start() {
      if (auth.method === 'token') {
        if (auth.token === '') throw fail(authError('no Vault token given'));
        return lookupStaticToken();
      }
      await session.currentToken();
    },

    async currentToken() {
      if (closed) throw authError('the Vault session is closed');
      if (auth.method === 'token') {
        if (auth.token === '') throw fail(authError('no Vault token given'));
        return auth.token;
      }
      if (token !== null && !nearExpiry()) return token;
      const previous = token;
      try {
        return await login();
      } catch (error) {
        // The last half-second of the old token is still worth using while the new login fails.
        if (previous !== null && previous === token && expiresAt !== null && now() < expiresAt) return previous;
        throw error;
      }
    },

    async recoverFromDenial(denied) {
      // A static token cannot be replaced; the source reports the 403 as it is.
      if (closed || auth.method === 'token') return null;
      if (denied !== token) return token !== null && !nearExpiry() ? token : login();
      let check = pendingChecks.get(denied);
      if (check === undefined) {
        check = (async () => {
          const self = await send(() => transport.get('auth/token/lookup-self', denied), 'auth/token/lookup-self');
          if (!(self.status === 403 && isDeadTokenAnswer(self))) return null; // the token lives: a real ACL denial
          if (token === denied) {
            token = null;
            expiresAt = null;
            ttlKnown = false;
            schedule(null);
          }
          fail(authError('the Vault token was refused (revoked or expired): logging in again'));
          return relogin('the token was refused (403)');
        })().finally(() => pendingChecks.delete(denied));
        pendingChecks.set(denied, check);
      }
      return check;
    },

    state() {
      const alive = token !== null && (expiresAt === null || now() < expiresAt);
      const state: VaultSessionState = { method: auth.method, authenticated: alive, logins, renewals };
      if (alive && ttlKnown) state.tokenTtlSeconds = expiresAt === null ? 0 : Math.max(0, Math.round((expiresAt - now()) / 1000));
      if (ttlKnown) state.renewable = renewable;
      if (lastLogin !== undefined) state.lastLogin = new Date(lastLogin).toISOString();
      if (lastRenewal !== undefined) state.lastRenewal = new Date(lastRenewal).toISOString();
      if (lastError !== undefined) state.lastError = { ...lastError };
      return state;
    },

    transport,

    close() {
      if (closed) return;
      schedule(null);
      closed = true;
      transport.close();
    },
  };
  return session;
}

/** A 403 from a dead (unknown, revoked, expired) token is a bare "permission denied"; an ACL denial is a multierror. */
function isDeadTokenAnswer(answer: VaultAnswer): boolean {
  const errors = (answer.body as { errors?: unknown } | null)?.errors;
  return !(Array.isArray(errors) && errors.some((e) => typeof e === 'string' && e.includes(ERROR_MARK)));
}

function leaseOf(body: unknown): { leaseSeconds: number; renewable: boolean } | null {
  const auth = (body as { auth?: { lease_duration?: unknown; renewable?: unknown } } | null)?.auth;
  if (typeof auth?.lease_duration !== 'number') return null;
  return { leaseSeconds: auth.lease_duration, renewable: auth.renewable === true };
}

function originOf(address: string): string {
  try {
    const url = new URL(address);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // reported below
  }
  throw new CoffreError('COFFRE_CONFIG_INVALID', 'Vault address is not a URL (expected http(s)://host[:port])');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
