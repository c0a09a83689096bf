import {
  workqueueAddsTotal,
  workqueueDepth,
  workqueueQueueDurationSeconds,
  workqueueRetriesRunning,
  workqueueRetriesTotal,
  workqueueWorkDurationSeconds,
} from "./metrics.js";
import { GroupQueue } from "./group-queue.js";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter.js";

/** Options of a work queue. */
export interface WorkQueueOptions {
  /** Queue name for the metric labels `name` and `controller` (the controller's name). */
  readonly name: string;
  /** Delays of `addRateLimited`; defaults to `defaultControllerRateLimiter()`. */
  readonly rateLimiter?: RateLimiter;
  /**
   * The group of a key, asked when the key is queued: workers are shared fairly between groups
   * (see GroupQueue). Default: one group for every key, a plain FIFO.
   */
  readonly groupOf?: (key: string) => string;
  /**
   * Lanes for keys retried after a failure, beside the workers that call `get`: with lanes, `get`
   * hands out first attempts only and `getRetry` the retries (see GroupQueue), so that failures
   * that keep failing never take a worker new work needs. Default 0: retries queue like any key.
   */
  readonly retryLanes?: number;
}

/** How a key is queued: `retry` for a retry after a failure (see `addAfter`). */
export interface AddOptions {
  readonly retry?: boolean;
}

interface Delayed {
  readonly at: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * A rate-limited, delaying work queue of string keys with client-go's guarantees:
 * a key waits in the queue at most once (de-duplicated), a key handed out by `get` is
 * not handed out again until `done`, and a key added while it is processed runs again after.
 * Keys of one group are handed out in the order they were queued; between groups, the next key
 * comes from the group that holds the fewest workers. With `retryLanes`, keys retried after a
 * failure are handed out by `getRetry` to lanes of their own (see GroupQueue); a key that is
 * added again (an event, not a failure) while it waits as a retry becomes a first attempt.
 */
export class WorkQueue {
  private readonly queue: GroupQueue;
  /** The keys queued and not yet handed out: true for a retry after a failure. */
  private readonly dirty = new Map<string, boolean>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly waiters = { first: [] as Waiter[], retry: [] as Waiter[] };
  private readonly rateLimiter: RateLimiter;
  private readonly labels: { readonly name: string; readonly controller: string };
  private readonly groupOf: (key: string) => string;
  private readonly retryLanes: number;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.labels = { name: options.name, controller: options.name };
    this.groupOf = options.groupOf ?? (() => "");
    this.retryLanes = options.retryLanes ?? 0;
    this.queue = new GroupQueue(this.retryLanes);
    workqueueDepth.set(this.labels, 0);
    workqueueRetriesRunning.set(this.labels, 0);
  }

  /** Number of keys waiting (not counting keys being processed or delayed). */
  get length(): number {
    return this.queue.length;
  }

  /** True once `shutDown` was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Queues `key` as a first attempt unless it is already waiting (a waiting retry becomes a
   * first attempt); a key being processed is queued again once it is done.
   */
  add(key: string): void {
    this.enqueue(key, false);
  }

  /**
   * Queues `key` after `delayMs`, as a retry after a failure when `options.retry`; of several
   * pending delays for one key, the earliest wins (with its kind).
   */
  addAfter(key: string, delayMs: number, options: AddOptions = {}): void {
    if (this.shuttingDown) return;
    const retry = options.retry ?? false;
    if (delayMs <= 0) return this.enqueue(key, retry);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.enqueue(key, retry);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Queues `key` as a retry after the rate limiter's delay for it (one more failure). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    workqueueRetriesTotal.inc(this.labels);
    this.addAfter(key, this.rateLimiter.when(key), { retry: true });
  }

  /** Clears the failure history of `key`, so its next failure starts from the base delay. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How many times `key` failed since it was last forgotten. */
  retries(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /**
   * The next key for a worker (with retry lanes: the next first attempt), waiting for one if
   * needed; `undefined` once the queue is shut down.
   */
  get(): Promise<string | undefined> {
    return this.next(this.waiters.first, () => this.queue.takeFirst());
  }

  /**
   * The next retry for a retry lane, waiting for one that may run (see GroupQueue); `undefined`
   * once the queue is shut down, and at once when it has no retry lanes.
   */
  getRetry(): Promise<string | undefined> {
    if (this.retryLanes === 0) return Promise.resolve(undefined);
    return this.next(this.waiters.retry, () => this.queue.takeRetry());
  }

  /** Marks `key` as processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    const started = this.startedAt.get(key);
    if (started !== undefined) workqueueWorkDurationSeconds.observe(this.labels, (Date.now() - started) / 1000);
    this.startedAt.delete(key);
    if (this.processing.delete(key)) this.queue.release(key);
    workqueueRetriesRunning.set(this.labels, this.queue.retrying);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    else this.dispatch(); // a retry may run in the lane this one leaves
  }

  /** Stops handing out keys: waiting and later `get` calls return `undefined`; delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of [...this.waiters.first.splice(0), ...this.waiters.retry.splice(0)]) waiter(undefined);
  }

  private enqueue(key: string, retry: boolean): void {
    if (this.shuttingDown) return;
    const retried = retry && this.retryLanes > 0;
    const queued = this.dirty.get(key);
    if (queued !== undefined) {
      if (queued && !retried) this.promote(key);
      return;
    }
    this.dirty.set(key, retried);
    this.addedAt.set(key, Date.now());
    workqueueAddsTotal.inc(this.labels);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** A queued retry becomes a first attempt: what it waited for may have changed (e.g. its server answers again). */
  private promote(key: string): void {
    this.dirty.set(key, false);
    if (this.processing.has(key)) return;
    this.queue.promote(key);
    this.dispatch();
  }

  private push(key: string): void {
    this.queue.push(key, this.groupOf(key), this.dirty.get(key) ?? false);
    this.dispatch();
  }

  private next(waiters: Waiter[], take: () => string | undefined): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = take();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => waiters.push(resolve));
  }

  /** Hands waiting keys to waiting workers and lanes, as far as the group queue lets them run. */
  private dispatch(): void {
    handOut(
      this.waiters.first,
      () => this.queue.takeFirst(),
      (key) => this.take(key),
    );
    handOut(
      this.waiters.retry,
      () => this.queue.takeRetry(),
      (key) => this.take(key),
    );
    workqueueDepth.set(this.labels, this.queue.length);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    this.startedAt.set(key, Date.now());
    const added = this.addedAt.get(key);
    if (added !== undefined) workqueueQueueDurationSeconds.observe(this.labels, (Date.now() - added) / 1000);
    this.addedAt.delete(key);
    workqueueDepth.set(this.labels, this.queue.length);
    workqueueRetriesRunning.set(this.labels, this.queue.retrying);
    return key;
  }
}

type Waiter = (key: string | undefined) => void;

/** Gives `waiters` the keys `take` finds, until either runs out. */
function handOut(waiters: Waiter[], take: () => string | undefined, taken: (key: string) => string): void {
  while (waiters.length > 0) {
    const key = take();
    if (key === undefined) return;
    waiters.shift()!(taken(key));
  }
}
