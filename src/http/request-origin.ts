// Which Host headers the server answers (DNS-rebinding protection) and which proxies it believes about the
// client address (X-Forwarded-For). Pure parsing and matching: no I/O, nothing read from the environment.
import { isIP } from 'node:net';
import { CoffreError } from '../errors.js';

/**
 * Host names a request may name in its Host header (lowercase, no port, IPv6 without brackets); `loopback`
 * is localhost, 127.0.0.0/8 and ::1, the only hosts served without authentication.
 */
export type AllowedHosts = 'loopback' | readonly string[];

/** The host name of a Host header value, lowercase, without port or IPv6 brackets; null when malformed. */
export function hostNameOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(header);
  if (!match) return null;
  return (match[1] ?? match[2] ?? '').toLowerCase();
}

/** Whether `header` (a Host header value) names one of `allowed`. */
export function hostAllowed(header: string | undefined, allowed: AllowedHosts): boolean {
  const name = hostNameOf(header);
  if (name === null) return false;
  if (allowed === 'loopback') return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
  return allowed.includes(name);
}

/** Parses one `--allowed-host` entry (a DNS name or an IP address, no port): its normalised form. */
export function parseAllowedHost(entry: string): string {
  const trimmed = entry.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (isIP(trimmed) !== 0 || /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(trimmed)) return trimmed;
  throw new CoffreError('COFFRE_USAGE', `--allowed-host "${entry}" is not a host name or IP address (give it without scheme or port)`);
}

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Parses one `--trust-proxy` entry: an IP address, a CIDR range, or loopback / linklocal / uniquelocal.
 * X-Forwarded-For is believed only from these peers (fastify's trustProxy; off by default).
 */
export function parseTrustedProxy(entry: string): string {
  const trimmed = entry.trim();
  if (PROXY_KEYWORDS.has(trimmed)) return trimmed;
  const [address, prefix, ...rest] = trimmed.split('/');
  const family = isIP(address ?? '');
  const bits = prefix === undefined ? null : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (family !== 0 && rest.length === 0 && (bits === null || (bits >= 0 && bits <= (family === 4 ? 32 : 128)))) return trimmed;
  throw new CoffreError('COFFRE_USAGE', `--trust-proxy "${entry}" is not an IP address, a CIDR range or loopback|linklocal|uniquelocal`);
}
