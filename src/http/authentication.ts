// Bearer-token authentication and role checks for the /v1 routes, with rate limiting of failures per client
// address and per presented credential (its sha256). A valid token is never refused by that limiter. A
// presented token is hashed and dropped: it is never logged, stored or echoed.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
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
  limiters: { perClient: AuthFailureLimiter; perCredential: AuthFailureLimiter };
  metrics: ServerMetrics;
}

// The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
const BEARER = /^Bearer[ ]+([\x21-\x7e]{1,512})$/i;

/** Adds the onRequest hook that authenticates every route of `scope` and checks its `config.permission`. */
export function installAuthentication(scope: FastifyInstance, options: AuthenticationOptions): void {
  scope.decorateRequest('principal', null);
  scope.addHook('onRequest', async (request) => {
    const principal = authenticate(request, options);
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

function authenticate(request: FastifyRequest, options: AuthenticationOptions): Principal {
  if (options.tokens === null) return ANONYMOUS_READER;
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const principal = match?.[1] !== undefined ? options.tokens.authenticate(match[1]) : null;
  // A valid token always passes: failures of others (on the same address or not) never lock it out.
  if (principal !== null) return principal;

  const { perClient, perCredential } = options.limiters;
  const client = request.ip;
  // The credential is keyed by its digest: the same wrong token is limited from every address.
  const credential = typeof header === 'string' ? tokenDigest(match?.[1] ?? header) : null;
  const wait = Math.max(perClient.retryAfter(client), credential === null ? 0 : perCredential.retryAfter(credential));
  if (wait > 0) {
    options.metrics.authFailures.inc({ reason: 'rate-limited' });
    throw new HttpRefusal('COFFRE_RATE_LIMITED', `too many failed authentications from this client or with this credential; retry in ${wait} s`, wait);
  }
  perClient.recordFailure(client);
  if (credential !== null) perCredential.recordFailure(credential);
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
