// The one place that turns errors into HTTP answers: CoffreError codes through httpStatusFor, HTTP-only
// refusals (401/403/404/405/421/429), fastify's own 4xx errors and its router errors. Bodies are
// `{ error: { code, message } }`; an unknown error becomes a generic 500 (logged by class name only): never a
// value, never a stack, never the request URL echoed.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatErrorMessage, httpStatusFor, isCoffreError } from '../errors.js';

/** Codes of refusals that only exist in HTTP (they have no exit code, so they are not in ERROR_CODES). */
export type HttpRefusalCode =
  | 'COFFRE_UNAUTHENTICATED'
  | 'COFFRE_FORBIDDEN'
  | 'COFFRE_RATE_LIMITED'
  | 'COFFRE_NOT_FOUND'
  | 'COFFRE_METHOD_NOT_ALLOWED'
  | 'COFFRE_HOST_REFUSED';

const REFUSAL_STATUS: Record<HttpRefusalCode, number> = {
  COFFRE_UNAUTHENTICATED: 401,
  COFFRE_FORBIDDEN: 403,
  COFFRE_NOT_FOUND: 404,
  COFFRE_METHOD_NOT_ALLOWED: 405,
  COFFRE_HOST_REFUSED: 421,
  COFFRE_RATE_LIMITED: 429,
};

/** An HTTP-level refusal (authentication, authorisation, rate limit, unknown route). */
export class HttpRefusal extends Error {
  readonly code: HttpRefusalCode;
  readonly statusCode: number;
  /** Seconds, sent as Retry-After (429). */
  readonly retryAfter: number | undefined;
  constructor(code: HttpRefusalCode, message: string, retryAfter?: number) {
    super(message);
    this.name = 'HttpRefusal';
    this.code = code;
    this.statusCode = REFUSAL_STATUS[code];
    this.retryAfter = retryAfter;
  }
}

/** The status and safe body for any error. */
export function answerFor(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpRefusal) return { status: error.statusCode, code: error.code, message: error.message };
  if (isCoffreError(error)) return { status: httpStatusFor(error), code: error.code, message: formatErrorMessage(error) };
  const fastifyError = error as Partial<FastifyError> | null;
  const status = fastifyError?.statusCode;
  // Fastify's own client errors (schema validation, bad JSON, wrong content type, body too large) name the
  // request part at fault, never its content.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: status === 404 ? 'COFFRE_NOT_FOUND' : 'COFFRE_USAGE', message: typeof fastifyError?.message === 'string' ? fastifyError.message : 'bad request' };
  }
  return { status: 500, code: 'COFFRE_INTERNAL', message: 'internal error (details in the server log)' };
}

/** A registered route as the 405 answer needs it: method and fastify path pattern (`/v1/services/:service`). */
export interface KnownRoute {
  method: string;
  url: string;
}

/**
 * Installs the error handler and the not-found handler on the root instance. A known path asked with a
 * method it does not have is 405 with `Allow` (never 404).
 */
export function installErrorHandling(app: FastifyInstance, routes: readonly KnownRoute[] = []): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = answerFor(error);
    if (answer.status >= 500) {
      // The class name and code only: an unknown error's message may hold anything.
      const name = (error as Error | null)?.name ?? 'error';
      request.log.error({ err: { type: name, code: answer.code === 'COFFRE_INTERNAL' ? undefined : answer.code } }, `request failed: ${answer.code}`);
    } else {
      request.log.info({ code: answer.code, status: answer.status }, 'request refused');
    }
    if (error instanceof HttpRefusal && error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
    if (answer.status === 401) void reply.header('www-authenticate', 'Bearer realm="coffre"');
    return reply.code(answer.status).send({ error: { code: answer.code, message: answer.message } });
  });
  let matchers: Array<{ method: string; pattern: RegExp }> | null = null;
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    // Built on first use: by then every route is registered.
    matchers ??= routes.map((route) => ({ method: route.method.toUpperCase(), pattern: pathPattern(route.url) }));
    const path = request.url.split('?')[0] ?? '';
    const allowed = new Set(matchers.filter((m) => m.pattern.test(path)).map((m) => m.method));
    if (allowed.size > 0) {
      if (allowed.has('GET')) allowed.add('HEAD');
      const allow = [...allowed].sort().join(', ');
      request.log.info({ code: 'COFFRE_METHOD_NOT_ALLOWED', status: 405 }, 'request refused');
      return reply
        .code(405)
        .header('allow', allow)
        .send({ error: { code: 'COFFRE_METHOD_NOT_ALLOWED', message: `method ${request.method} is not allowed here (allowed: ${allow})` } });
    }
    return reply.code(404).send({ error: { code: 'COFFRE_NOT_FOUND', message: `no route ${request.method} ${path}` } });
  });
}

/** A regular expression matching the raw URL paths of a fastify route pattern (`:param` = one segment). */
function pathPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // The app ignores one trailing slash.
  return new RegExp(`^${source}/?$`);
}

/**
 * fastify's `frameworkErrors`: router failures (a path parameter longer than the router accepts, a malformed
 * percent-encoding) answered in the `{ error }` shape, logged, and without echoing the URL.
 */
export function answerFrameworkError(error: Partial<FastifyError>, request: FastifyRequest, reply: FastifyReply): void {
  const known: Record<string, { status: number; message: string }> = {
    FST_ERR_MAX_PARAM_LENGTH: { status: 414, message: 'a path parameter is longer than this server accepts' },
    FST_ERR_BAD_URL: { status: 400, message: 'the URL path is not valid (malformed percent-encoding)' },
  };
  const answer = (error.code !== undefined ? known[error.code] : undefined) ?? { status: 500, message: 'internal error (details in the server log)' };
  const code = answer.status >= 500 ? 'COFFRE_INTERNAL' : 'COFFRE_USAGE';
  request.log[answer.status >= 500 ? 'error' : 'info']({ code, status: answer.status, reason: error.code }, 'request refused');
  void reply.code(answer.status).send({ error: { code, message: answer.message } });
}
