// Serialises work per service inside this process: a render of a service waits for the previous one of the
// same service, while different services proceed in parallel. Knows service names only.

/** Runs tasks one at a time per key. */
export interface ServiceQueue {
  run<T>(service: string, task: () => Promise<T>): Promise<T>;
  /** Services with a task queued or running (for tests and metrics). */
  readonly busy: number;
}

export function createServiceQueue(): ServiceQueue {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(service: string, task: () => Promise<T>): Promise<T> {
      const previous = tails.get(service) ?? Promise.resolve();
      // A failed render must not block the next one: chain on settlement, not on success.
      const result = previous.then(task, task);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(service, tail);
      void tail.then(() => {
        if (tails.get(service) === tail) tails.delete(service);
      });
      return result;
    },
    get busy() {
      return tails.size;
    },
  };
}
