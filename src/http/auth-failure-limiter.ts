// Counts failed authentications per key (a client address, or the digest of a presented credential) in a
// fixed in-memory window and says when a key must wait. Bounded memory (oldest keys evicted first); it is
// given addresses and digests only, never a token.

/** Settings of {@link createAuthFailureLimiter}. */
export interface AuthFailureLimiterOptions {
  /** Failures allowed per window before the key is refused, default 10. */
  maxFailures?: number;
  /** Window length in ms, default 60 000. */
  windowMs?: number;
  /** Keys tracked at once, default 10 000. */
  maxAddresses?: number;
  /** Milliseconds clock (injected so tests can move time). */
  now: () => number;
}

/** Answers "may this key fail again?" and records failures. */
export interface AuthFailureLimiter {
  /** Seconds to wait when the key is over its budget, else 0. */
  retryAfter(key: string): number;
  recordFailure(key: string): void;
}

export function createAuthFailureLimiter(options: AuthFailureLimiterOptions): AuthFailureLimiter {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  // Map iteration order is insertion order: the first key is the oldest window.
  const windows = new Map<string, { start: number; failures: number }>();

  function current(key: string): { start: number; failures: number } | undefined {
    const entry = windows.get(key);
    if (entry && options.now() - entry.start >= windowMs) {
      windows.delete(key);
      return undefined;
    }
    return entry;
  }

  return {
    retryAfter(key) {
      const entry = current(key);
      if (!entry || entry.failures < maxFailures) return 0;
      return Math.max(1, Math.ceil((entry.start + windowMs - options.now()) / 1000));
    },
    recordFailure(key) {
      const entry = current(key);
      if (entry) {
        entry.failures += 1;
        return;
      }
      if (windows.size >= maxAddresses) {
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
      windows.set(key, { start: options.now(), failures: 1 });
    },
  };
}
