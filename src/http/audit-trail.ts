// The recent audit lines of `coffre serve`, kept in memory (a ring buffer, lost on restart) so the admin page
// can show each service's last renders and writes. Records are copied field by field from the audit lines
// (names, versions, outcomes, token ids): an audit line never holds a value, and nothing else is kept.
import type { Logger } from 'pino';

/** One remembered audit line. */
export interface AuditTrailEntry {
  /** ISO-8601 time the line was written. */
  time: string;
  action: 'render' | 'rotate' | 'set' | 'rollback' | 'import';
  service: string;
  /** Logical file name (writes); null for renders. */
  file: string | null;
  key: string | null;
  /** Renders: the targets; writes: []. */
  files: string[];
  /** Renders: key names added, changed or removed; multi-key writes: the names written. */
  keys: string[];
  outcome: string;
  dryRun: boolean;
  /** The API token id that acted. */
  tokenId: string | null;
  oldVersion: number | string | null;
  newVersion: number | string | null;
  errorCode: string | null;
}

export interface AuditTrail {
  /** How many entries are kept (the oldest are dropped first). */
  readonly capacity: number;
  /** Remembers one audit line (ignored unless it carries a known `audit` action and a service). */
  record(fields: Record<string, unknown>, now?: Date): void;
  /** Newest first, optionally one service's only. */
  recent(service?: string): AuditTrailEntry[];
  /** A child of `audit` whose `info(fields, msg)` also records `fields` here. */
  wrap(audit: Logger): Logger;
}

const ACTIONS = new Set(['render', 'rotate', 'set', 'rollback', 'import']);

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function version(value: unknown): number | string | null {
  return typeof value === 'number' || typeof value === 'string' ? value : null;
}

export function createAuditTrail(capacity = 500, clock: () => Date = () => new Date()): AuditTrail {
  const entries: AuditTrailEntry[] = [];
  const trail: AuditTrail = {
    capacity,
    record(fields, now = clock()) {
      const action = text(fields.audit);
      const service = text(fields.service);
      if (action === null || !ACTIONS.has(action) || service === null) return;
      entries.push({
        time: now.toISOString(),
        action: action as AuditTrailEntry['action'],
        service,
        file: text(fields.file),
        key: text(fields.key),
        files: names(fields.files),
        keys: names(fields.keys),
        outcome: text(fields.outcome) ?? 'unknown',
        dryRun: fields.dryRun === true,
        tokenId: text(fields.tokenId),
        oldVersion: version(fields.oldVersion),
        newVersion: version(fields.newVersion),
        errorCode: text(fields.errorCode),
      });
      if (entries.length > capacity) entries.splice(0, entries.length - capacity);
    },
    recent(service) {
      return entries.filter((entry) => service === undefined || entry.service === service).reverse();
    },
    wrap(audit) {
      const wrapped = Object.create(audit) as Logger;
      const info = audit.info.bind(audit) as (...args: unknown[]) => void;
      Object.defineProperty(wrapped, 'info', {
        value: (...args: unknown[]) => {
          const [first] = args;
          if (first !== null && typeof first === 'object') trail.record(first as Record<string, unknown>);
          info(...args);
        },
      });
      return wrapped;
    },
  };
  return trail;
}
