/** Decides how long a key waits before it is retried (client-go's workqueue.RateLimiter). */
export interface RateLimiter {
  /** The delay in milliseconds before `key` may run again; counts one more failure for it. */
  when(key: string): number;
  /** Clears the failure history of `key` (after a success). */
  forget(key: string): void;
  /** How many times `key` has failed since it was last forgotten. */
  retries(key: string): number;
}

/** Per-key exponential backoff: base × 2^failures, capped at max. */
export class ExponentialBackoffLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  when(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    // Past 2^52 the doubling is meaningless; stop before the float overflows.
    const delay = this.baseMs * 2 ** Math.min(failures, 52);
    return Math.min(delay, this.maxMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** An overall token bucket shared by all keys: `qps` tokens per second, at most `burst` saved up. */
export class TokenBucketLimiter implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(_key: string): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    // Reserve a token even when none is left: the debt is paid back by the wait.
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(_key: string): void {}

  retries(_key: string): number {
    return 0;
  }
}

/** Combines limiters: the longest delay wins (client-go's MaxOfRateLimiter). */
export class MaxOfLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((limiter) => limiter.when(key)));
  }

  forget(key: string): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  retries(key: string): number {
    return Math.max(0, ...this.limiters.map((limiter) => limiter.retries(key)));
  }
}

/** Base delay of the default per-key backoff. */
export const DEFAULT_BACKOFF_BASE_MS = 100;
/** Cap of the default per-key backoff: a failing key is retried at least every 5 minutes. */
export const DEFAULT_BACKOFF_MAX_MS = 5 * 60 * 1000;

/**
 * The default controller rate limiter: per-key backoff 100 ms → 5 min, and an overall
 * 10 qps / burst 100 bucket like client-go. The cap is 5 min rather than controller-runtime's
 * 1000 s so that an unreachable PostgreSQL is retried within one resync period.
 */
export function defaultControllerRateLimiter(
  baseMs: number = DEFAULT_BACKOFF_BASE_MS,
  maxMs: number = DEFAULT_BACKOFF_MAX_MS,
): RateLimiter {
  return new MaxOfLimiter(new ExponentialBackoffLimiter(baseMs, maxMs), new TokenBucketLimiter(10, 100));
}
