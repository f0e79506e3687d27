// Bearer-token authentication and role checks for the /v1 routes, with rate limiting of failures per client
// address and per presented credential (its sha256), counted by @fastify/rate-limit. A valid token is never
// refused by that limiter. A presented token is hashed and dropped: it is never logged, stored or echoed.
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpRefusal } from './error-handler.js';
import type { ServerMetrics } from './metrics.js';
import { ANONYMOUS_READER, roleAllows, scopeAllows, tokenDigest, type Permission, type Principal, type TokenRegistry } from './token-registry.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as; set by the /v1 authentication hook. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** What a /v1 route needs from the token's role. */
    permission?: Permission;
  }
}

/** Options of {@link installAuthentication}. */
export interface AuthenticationOptions {
  /** null: authentication is off (`--insecure-no-auth`, loopback only, read-only). */
  tokens: TokenRegistry | null;
  /** Failures counted per client address (`request.ip`) and per presented credential digest. */
  limiters: AuthFailureLimiters;
  metrics: ServerMetrics;
}

/** A limiter of @fastify/rate-limit (`createRateLimit`): each call counts one failure and says where the key stands. */
type RateLimiter = ReturnType<FastifyInstance['createRateLimit']>;

/** The two failure limiters of {@link installAuthentication}. */
export interface AuthFailureLimiters {
  perClient: RateLimiter;
  perCredential: RateLimiter;
}

/** Settings of {@link registerAuthFailureLimiters}. */
export interface AuthFailureLimits {
  /** Failures allowed per window before the key is refused, default 10. */
  maxFailures?: number;
  /** Window length in ms (fixed, from the first failure), default 60 000. */
  windowMs?: number;
}

/** Keys tracked at once per limiter (least recently used evicted first). */
const TRACKED_KEYS = 10_000;

/**
 * Registers @fastify/rate-limit on `scope` (no route-wide limit: `global: false`) and creates the failure
 * limiters: per client address (the plugin's key, request.ip normalised: IPv4-mapped IPv6 as IPv4, IPv6 by
 * /64), and per presented credential (its sha256; requests without an Authorization header are not counted
 * there). They count only what authenticate() records: failures, never a request with a valid token.
 */
export async function registerAuthFailureLimiters(scope: FastifyInstance, limits: AuthFailureLimits = {}): Promise<AuthFailureLimiters> {
  await scope.register(fastifyRateLimit, { global: false });
  // `cache` reaches the limiter's own store (the plugin passes it to store.child) but is missing from the typings.
  const common = { max: limits.maxFailures ?? 10, timeWindow: limits.windowMs ?? 60_000, cache: TRACKED_KEYS } as { max: number; timeWindow: number };
  return {
    // The plugin's own key, guarded: a socket already gone has no address (it would throw).
    perClient: scope.createRateLimit({ ...common, keyGenerator: (request) => normalizeIP((request.ip as string | undefined) ?? '', 64) }),
    perCredential: scope.createRateLimit({
      ...common,
      keyGenerator: (request) => credentialKey(request) ?? '',
      allowList: (request) => credentialKey(request) === null,
    }),
  };
}

/** The digest of the presented credential (the bearer token, or the whole header when malformed); null without one. */
function credentialKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  return tokenDigest(BEARER.exec(header)?.[1] ?? header);
}

/** Seconds to wait when this failure went over the budget (0: within it, or not counted by this limiter). */
function waitOf(status: Awaited<ReturnType<RateLimiter>>): number {
  if (status.isAllowed || !status.isExceeded) return 0;
  return Math.max(1, status.ttlInSeconds);
}

// The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
const BEARER = /^Bearer[ ]+([\x21-\x7e]{1,512})$/i;

/** Adds the onRequest hook that authenticates every route of `scope` and checks its `config.permission`. */
export function installAuthentication(scope: FastifyInstance, options: AuthenticationOptions): void {
  scope.decorateRequest('principal', null);
  scope.addHook('onRequest', async (request) => {
    const principal = await authenticate(request, options);
    const needed = request.routeOptions.config.permission ?? 'admin';
    if (!roleAllows(principal.role, needed)) {
      options.metrics.authFailures.inc({ reason: 'role' });
      if (principal.anonymous) {
        throw new HttpRefusal('COFFRE_FORBIDDEN', `serve runs without authentication (--insecure-no-auth), which is read-only: ${needed} needs a token from a tokens file (--tokens)`);
      }
      throw new HttpRefusal('COFFRE_FORBIDDEN', `token "${principal.id}" (role ${principal.role}) may not ${needed}`);
    }
    request.principal = principal;
  });
}

async function authenticate(request: FastifyRequest, options: AuthenticationOptions): Promise<Principal> {
  if (options.tokens === null) return ANONYMOUS_READER;
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const principal = match?.[1] !== undefined ? options.tokens.authenticate(match[1]) : null;
  // A valid token always passes: failures of others (on the same address or not) never lock it out.
  if (principal !== null) return principal;

  const { perClient, perCredential } = options.limiters;
  // Each failure is counted under both keys in one step of the store, and the answer follows from that count:
  // a peek-then-count would let concurrent failures all pass the peek. Counting refused attempts never extends
  // a window (fixed from the first failure); it can only bring the other key's limit nearer. The credential is
  // keyed by its digest: the same wrong token is limited from every address.
  const [client, credential] = await Promise.all([perClient(request), perCredential(request)]);
  const wait = Math.max(waitOf(client), waitOf(credential));
  if (wait > 0) {
    options.metrics.authFailures.inc({ reason: 'rate-limited' });
    throw new HttpRefusal('COFFRE_RATE_LIMITED', `too many failed authentications from this client or with this credential; retry in ${wait} s`, wait);
  }
  const reason = header === undefined ? 'missing' : match === null ? 'malformed' : 'unknown';
  options.metrics.authFailures.inc({ reason });
  request.log.warn({ authFailure: reason }, 'authentication failed');
  throw new HttpRefusal(
    'COFFRE_UNAUTHENTICATED',
    reason === 'missing' ? 'an Authorization: Bearer <token> header is required' : reason === 'malformed' ? 'the Authorization header is not "Bearer <token>"' : 'unknown token',
  );
}

/** The request's principal, refusing (403) when its service globs do not cover `service`. */
export function requireService(request: FastifyRequest, service: string): Principal {
  const principal = request.principal;
  if (principal === null) throw new HttpRefusal('COFFRE_UNAUTHENTICATED', 'not authenticated');
  if (!scopeAllows(principal, service)) {
    throw new HttpRefusal('COFFRE_FORBIDDEN', `token "${principal.id}" is not scoped to service "${service}"`);
  }
  return principal;
}

/** The services of `names` the request's principal may see. */
export function servicesInScope(request: FastifyRequest, names: string[]): string[] {
  const principal = request.principal;
  if (principal === null) return [];
  return names.filter((name) => scopeAllows(principal, name));
}
