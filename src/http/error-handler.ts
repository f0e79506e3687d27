// The one place that turns errors into HTTP answers: CoffreError codes through httpStatusFor, HTTP-only
// refusals (401/403/429/404), fastify's own 4xx errors. Bodies are `{ error: { code, message } }`; an
// unknown error becomes a generic 500 (logged by class name only): never a value, never a stack.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatErrorMessage, httpStatusFor, isCoffreError } from '../errors.js';

/** Codes of refusals that only exist in HTTP (they have no exit code, so they are not in ERROR_CODES). */
export type HttpRefusalCode = 'COFFRE_UNAUTHENTICATED' | 'COFFRE_FORBIDDEN' | 'COFFRE_RATE_LIMITED' | 'COFFRE_NOT_FOUND';

const REFUSAL_STATUS: Record<HttpRefusalCode, number> = {
  COFFRE_UNAUTHENTICATED: 401,
  COFFRE_FORBIDDEN: 403,
  COFFRE_NOT_FOUND: 404,
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

/** Installs the error handler and the not-found handler on the root instance. */
export function installErrorHandling(app: FastifyInstance): void {
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
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({ error: { code: 'COFFRE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
