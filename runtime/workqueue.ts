import {
  workqueueAddsTotal,
  workqueueDepth,
  workqueueQueueDurationSeconds,
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
   * How many keys retried after a failure may be processed at once (e.g. one less than the
   * workers, so that new work always finds one); default no bound.
   */
  readonly maxRetrying?: number;
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
 * comes from the group that holds the fewest workers, and retries come after first attempts
 * (see GroupQueue).
 */
export class WorkQueue {
  private readonly queue: GroupQueue;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly rateLimiter: RateLimiter;
  private readonly labels: { readonly name: string; readonly controller: string };
  private readonly groupOf: (key: string) => string;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.labels = { name: options.name, controller: options.name };
    this.groupOf = options.groupOf ?? (() => "");
    this.queue = new GroupQueue(options.maxRetrying);
    workqueueDepth.set(this.labels, 0);
  }

  /** Number of keys waiting (not counting keys being processed or delayed). */
  get length(): number {
    return this.queue.length;
  }

  /** True once `shutDown` was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues `key` unless it is already waiting; a key being processed is queued again once it is done. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, Date.now());
    workqueueAddsTotal.inc(this.labels);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues `key` after `delayMs`; of several pending delays for one key, the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Queues `key` after the rate limiter's delay for it (one more failure). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    workqueueRetriesTotal.inc(this.labels);
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Clears the failure history of `key`, so its next failure starts from the base delay. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How many times `key` failed since it was last forgotten. */
  retries(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** The next key to process, waiting for one if needed; `undefined` once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.take();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    const started = this.startedAt.get(key);
    if (started !== undefined) workqueueWorkDurationSeconds.observe(this.labels, (Date.now() - started) / 1000);
    this.startedAt.delete(key);
    if (this.processing.delete(key)) this.queue.release(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    else this.dispatch(); // a retry may run now that this one is done
  }

  /** Stops handing out keys: waiting and later `get` calls return `undefined`; delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private push(key: string): void {
    this.queue.push(key, this.groupOf(key), this.rateLimiter.retries(key) > 0);
    this.dispatch();
  }

  /** Hands waiting keys to waiting workers, as far as the group queue lets them run. */
  private dispatch(): void {
    while (this.waiters.length > 0) {
      const key = this.queue.take();
      if (key === undefined) break;
      this.waiters.shift()!(this.take(key));
    }
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
    return key;
  }
}
