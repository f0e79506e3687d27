// The server's pino logger, created once at the edge (coffre serve) and handed to buildApp. Redacts every
// header or field that could carry a token or a secret value; request lines carry method, route and ids only.
import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino replaces with `[redacted]` wherever they appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-vault-token"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-vault-token"]',
  'authorization',
  'token',
  '*.token',
  'value',
  '*.value',
  'values',
  '*.values',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'body',
  '*.body',
] as const;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: string;
  /** Where lines go (default stdout); tests pass a string-collecting stream. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'coffre' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      serializers: {
        // Fastify's default request serialiser is fine, but ours states the allow-list explicitly.
        req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({ method: req.method, url: req.url?.split('?')[0], remoteAddress: req.ip }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    options.destination ?? pino.destination(1),
  );
}

export type { Logger } from 'pino';
