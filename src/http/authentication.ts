// Bearer-token authentication and role checks for the /v1 routes, with per-address rate limiting of
// failures. A presented token is hashed and dropped: it is never logged, stored or echoed.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import { HttpRefusal } from './error-handler.js';
import type { ServerMetrics } from './metrics.js';
import { ANONYMOUS_ADMIN, roleAllows, scopeAllows, type Permission, type Principal, type TokenRegistry } from './token-registry.js';

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
  /** null: authentication is off (`--insecure-no-auth`, loopback only). */
  tokens: TokenRegistry | null;
  limiter: AuthFailureLimiter;
  metrics: ServerMetrics;
}

const BEARER = /^Bearer[ ]+([\x21-\x7e]{1,512})$/;

/** Adds the onRequest hook that authenticates every route of `scope` and checks its `config.permission`. */
export function installAuthentication(scope: FastifyInstance, options: AuthenticationOptions): void {
  scope.decorateRequest('principal', null);
  scope.addHook('onRequest', async (request) => {
    const principal = authenticate(request, options);
    const needed = request.routeOptions.config.permission ?? 'admin';
    if (!roleAllows(principal.role, needed)) {
      options.metrics.authFailures.inc({ reason: 'role' });
      throw new HttpRefusal('COFFRE_FORBIDDEN', `token "${principal.id}" (role ${principal.role}) may not ${needed}`);
    }
    request.principal = principal;
  });
}

function authenticate(request: FastifyRequest, options: AuthenticationOptions): Principal {
  if (options.tokens === null) return ANONYMOUS_ADMIN;
  const address = request.ip;
  const wait = options.limiter.retryAfter(address);
  if (wait > 0) {
    options.metrics.authFailures.inc({ reason: 'rate-limited' });
    throw new HttpRefusal('COFFRE_RATE_LIMITED', `too many failed authentications from this address; retry in ${wait} s`, wait);
  }
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const principal = match?.[1] !== undefined ? options.tokens.authenticate(match[1]) : null;
  if (principal === null) {
    options.limiter.recordFailure(address);
    const reason = header === undefined ? 'missing' : match === null ? 'malformed' : 'unknown';
    options.metrics.authFailures.inc({ reason });
    request.log.warn({ authFailure: reason }, 'authentication failed');
    throw new HttpRefusal(
      'COFFRE_UNAUTHENTICATED',
      reason === 'missing' ? 'an Authorization: Bearer <token> header is required' : reason === 'malformed' ? 'the Authorization header is not "Bearer <token>"' : 'unknown token',
    );
  }
  return principal;
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
