// Counts failed authentications per client address in a fixed in-memory window and says when an address
// must wait. Bounded memory (oldest addresses evicted first); knows addresses only, never tokens.

/** Settings of {@link createAuthFailureLimiter}. */
export interface AuthFailureLimiterOptions {
  /** Failures allowed per window before the address is refused, default 10. */
  maxFailures?: number;
  /** Window length in ms, default 60 000. */
  windowMs?: number;
  /** Addresses tracked at once, default 10 000. */
  maxAddresses?: number;
  /** Milliseconds clock (injected so tests can move time). */
  now: () => number;
}

/** Answers "may this address try again?" and records failures. */
export interface AuthFailureLimiter {
  /** Seconds to wait when the address is over its budget, else 0. */
  retryAfter(address: string): number;
  recordFailure(address: string): void;
}

export function createAuthFailureLimiter(options: AuthFailureLimiterOptions): AuthFailureLimiter {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  // Map iteration order is insertion order: the first key is the oldest window.
  const windows = new Map<string, { start: number; failures: number }>();

  function current(address: string): { start: number; failures: number } | undefined {
    const entry = windows.get(address);
    if (entry && options.now() - entry.start >= windowMs) {
      windows.delete(address);
      return undefined;
    }
    return entry;
  }

  return {
    retryAfter(address) {
      const entry = current(address);
      if (!entry || entry.failures < maxFailures) return 0;
      return Math.max(1, Math.ceil((entry.start + windowMs - options.now()) / 1000));
    },
    recordFailure(address) {
      const entry = current(address);
      if (entry) {
        entry.failures += 1;
        return;
      }
      if (windows.size >= maxAddresses) {
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
      windows.set(address, { start: options.now(), failures: 1 });
    },
  };
}
