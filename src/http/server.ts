// Runs a built app: listens on an address and closes it (waiting for in-flight requests) on SIGTERM/SIGINT.
// The signals come from the caller (the CLI passes `process`): no http/ module touches the process itself.
import type { FastifyInstance } from 'fastify';
import { CoffreError } from '../errors.js';

/** A `--listen` value split into host and port. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (= 127.0.0.1); throws COFFRE_USAGE otherwise. */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new CoffreError('COFFRE_USAGE', `--listen "${text}" is not HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)`);
  }
  return { host: match[1] ?? (match[2] === '' ? '127.0.0.1' : (match[2] as string)), port };
}

/** Whether a host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}

/** Starts listening; resolves with the URL actually bound (the port is known even when 0 was asked). */
export async function listen(app: FastifyInstance, address: ListenAddress, secure = false): Promise<string> {
  await app.listen({ host: address.host, port: address.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
  const scheme = secure ? 'https' : 'http';
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${port}`;
}

/** Where signals arrive: the CLI passes `process`; this module never touches it itself. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * Resolves with the signal once one of `signals` arrived at `source` and `app.close()` finished: new
 * connections are refused, in-flight requests complete, then the server stops. A second signal does not
 * kill the wait.
 */
export function closeOnSignals(app: FastifyInstance, source: SignalSource, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): Promise<NodeJS.Signals> {
  return new Promise((resolve, reject) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'closing: waiting for in-flight requests');
      app.close().then(
        () => {
          for (const s of signals) source.removeListener(s, onSignal);
          resolve(signal);
        },
        (error: unknown) => {
          for (const s of signals) source.removeListener(s, onSignal);
          reject(error);
        },
      );
    };
    for (const signal of signals) source.on(signal, onSignal);
  });
}
