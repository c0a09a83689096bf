/**
 * Polls `fn` until it returns without throwing (and, if it returns a value, that value),
 * or rethrows its last error once `timeoutMs` has passed. For tests that wait on
 * asynchronous effects without asserting on timing.
 */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
