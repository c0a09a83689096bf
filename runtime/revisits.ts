/**
 * When a controller looks at each key again without a change: after the `requeueAfterMs` its
 * last reconcile asked for, else about one resync period after that reconcile. One timer per
 * key, replaced by every reconcile of the key, so the latest reconcile decides: a requeue asked
 * for by an earlier one (e.g. "wait for the instance") does not run the key once more after a
 * later reconcile already did the work, and the resync load follows the reconciles, spread over
 * the period instead of one burst at a tick (controller-runtime's SyncPeriod jitter, per key).
 */

/** The timer functions Revisits uses; tests give their own. */
export interface RevisitTimers {
  readonly set: (fn: () => void, delayMs: number) => unknown;
  readonly clear: (timer: unknown) => void;
}

/** Options of Revisits. */
export interface RevisitOptions {
  /** The resync period; 0 turns the resync off (requeues still run). */
  readonly periodMs: number;
  /** A random number in [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** setTimeout/clearTimeout (unref'd) by default. */
  readonly timers?: RevisitTimers;
}

/**
 * How long after a reconcile its key is resynced: the first time in this process at a uniformly
 * random point of [period/2, 3·period/2), so that the keys of a start (all reconciled at once)
 * spread over a whole period; later ones within ±10 % of the period.
 */
export function resyncDelayMs(periodMs: number, first: boolean, random: number): number {
  return first ? periodMs * (0.5 + random) : periodMs * (0.9 + 0.2 * random);
}

/** The next visit of each key of one controller (see the module comment). */
export class Revisits {
  private readonly timers = new Map<string, unknown>();
  /** Keys resynced at least once in this process: their next resync is no longer a start's. */
  private readonly seen = new Set<string>();
  private readonly random: () => number;
  private readonly timerFns: RevisitTimers;
  private stopped = false;

  constructor(
    private readonly enqueue: (key: string) => void,
    private readonly options: RevisitOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.timerFns = options.timers ?? {
      set: (fn, delayMs) => setTimeout(fn, delayMs).unref(),
      clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
    };
  }

  /**
   * After a reconcile of `key`: visits it again after `requeueAfterMs` or the resync delay,
   * whichever is sooner; replaces the key's earlier visit. Returns the delay, undefined for none.
   */
  reconciled(key: string, requeueAfterMs?: number): number | undefined {
    this.cancel(key);
    const requeue = requeueAfterMs !== undefined && requeueAfterMs > 0 ? requeueAfterMs : undefined;
    const resync = this.resyncDelay(key);
    const delayMs = requeue === undefined || resync === undefined ? (requeue ?? resync) : Math.min(requeue, resync);
    if (delayMs === undefined || this.stopped) return undefined;
    // A start's spread applies to the first resync that really happens, not to a requeue before it.
    if (delayMs === resync) this.seen.add(key);
    this.timers.set(
      key,
      this.timerFns.set(() => {
        this.timers.delete(key);
        this.enqueue(key);
      }, delayMs),
    );
    return delayMs;
  }

  /** Forgets a key whose object is gone. */
  forget(key: string): void {
    this.cancel(key);
    this.seen.delete(key);
  }

  /** Cancels every visit; later calls schedule nothing. */
  stop(): void {
    this.stopped = true;
    for (const key of [...this.timers.keys()]) this.cancel(key);
  }

  /** Keys with a visit scheduled (for tests and metrics). */
  get size(): number {
    return this.timers.size;
  }

  private resyncDelay(key: string): number | undefined {
    if (this.options.periodMs <= 0) return undefined;
    return resyncDelayMs(this.options.periodMs, !this.seen.has(key), this.random());
  }

  private cancel(key: string): void {
    const timer = this.timers.get(key);
    if (timer === undefined) return;
    this.timerFns.clear(timer);
    this.timers.delete(key);
  }
}
