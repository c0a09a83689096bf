/** The keys of one group waiting: first attempts, and retries after a failure. */
interface Waiting {
  readonly fresh: string[];
  readonly retried: string[];
}

/**
 * The keys waiting in a work queue, first in first out within each group (e.g. the server a
 * key's object lives on), and how many keys of each group are being processed.
 *
 * `take` hands out the oldest key of the group that holds the fewest workers now; of groups
 * holding as many, the one served longest ago goes first (round-robin). So a group holds more
 * workers than the other groups with keys waiting only while it is alone in waiting: a group
 * whose reconciles hang (a server that never answers, a tenant holding a lock) gets its share
 * of the workers, and the keys of the other groups are taken past its own. With one group this
 * is a plain FIFO and every worker may run it.
 *
 * Keys retried after a failure wait behind every first attempt, and at most `maxRetrying` of
 * them run at once: failures that keep failing never fill the workers that new work needs.
 */
export class GroupQueue {
  private readonly waiting = new Map<string, Waiting>();
  private readonly busy = new Map<string, number>();
  private readonly lastServed = new Map<string, number>();
  /** Each key being processed: its group as it was when taken, and whether it was a retry. */
  private readonly taken = new Map<string, { readonly group: string; readonly retried: boolean }>();
  private retrying = 0;
  private served = 0;
  private count = 0;

  constructor(private readonly maxRetrying: number = Infinity) {}

  /** Number of keys waiting. */
  get length(): number {
    return this.count;
  }

  /** Queues `key` at the end of its group's first attempts, or of its retries. */
  push(key: string, group: string, retried: boolean): void {
    let keys = this.waiting.get(group);
    if (!keys) this.waiting.set(group, (keys = { fresh: [], retried: [] }));
    (retried ? keys.retried : keys.fresh).push(key);
    this.count += 1;
  }

  /** The next key to process (its group now holds one more worker), or undefined when none may run now. */
  take(): string | undefined {
    const fresh = this.nextGroup("fresh");
    const group = fresh ?? (this.retrying < this.maxRetrying ? this.nextGroup("retried") : undefined);
    if (group === undefined) return undefined;
    const keys = this.waiting.get(group)!;
    const retried = fresh === undefined;
    const key = (retried ? keys.retried : keys.fresh).shift()!;
    if (keys.fresh.length + keys.retried.length === 0) this.waiting.delete(group);
    this.count -= 1;
    if (retried) this.retrying += 1;
    this.busy.set(group, this.workersOf(group) + 1);
    this.lastServed.set(group, ++this.served);
    this.taken.set(key, { group, retried });
    return key;
  }

  /** `key` was processed: its group holds one worker less. */
  release(key: string): void {
    const taken = this.taken.get(key);
    if (!taken) return;
    this.taken.delete(key);
    if (taken.retried) this.retrying -= 1;
    const workers = this.workersOf(taken.group) - 1;
    if (workers > 0) return void this.busy.set(taken.group, workers);
    this.busy.delete(taken.group);
    // An idle group keeps no history: it comes back as a newcomer.
    if (!this.waiting.has(taken.group)) this.lastServed.delete(taken.group);
  }

  /** How many keys of `group` are being processed. */
  workersOf(group: string): number {
    return this.busy.get(group) ?? 0;
  }

  private nextGroup(kind: keyof Waiting): string | undefined {
    let best: string | undefined;
    for (const [group, keys] of this.waiting) {
      if (keys[kind].length > 0 && (best === undefined || this.comesBefore(group, best))) best = group;
    }
    return best;
  }

  private comesBefore(a: string, b: string): boolean {
    const byWorkers = this.workersOf(a) - this.workersOf(b);
    if (byWorkers !== 0) return byWorkers < 0;
    return (this.lastServed.get(a) ?? 0) < (this.lastServed.get(b) ?? 0);
  }
}
