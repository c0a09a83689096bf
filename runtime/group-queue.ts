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
 */
export class GroupQueue {
  private readonly waiting = new Map<string, string[]>();
  private readonly busy = new Map<string, number>();
  private readonly lastServed = new Map<string, number>();
  /** The group of each key being processed, as it was when the key was taken. */
  private readonly groupOfTaken = new Map<string, string>();
  private served = 0;
  private count = 0;

  /** Number of keys waiting. */
  get length(): number {
    return this.count;
  }

  /** Queues `key` at the end of its group. */
  push(key: string, group: string): void {
    const keys = this.waiting.get(group);
    if (keys) keys.push(key);
    else this.waiting.set(group, [key]);
    this.count += 1;
  }

  /** The next key to process (its group now holds one more worker), or undefined when none waits. */
  take(): string | undefined {
    const group = this.nextGroup();
    if (group === undefined) return undefined;
    const keys = this.waiting.get(group)!;
    const key = keys.shift()!;
    if (keys.length === 0) this.waiting.delete(group);
    this.count -= 1;
    this.busy.set(group, this.workersOf(group) + 1);
    this.lastServed.set(group, ++this.served);
    this.groupOfTaken.set(key, group);
    return key;
  }

  /** `key` was processed: its group holds one worker less. */
  release(key: string): void {
    const group = this.groupOfTaken.get(key);
    if (group === undefined) return;
    this.groupOfTaken.delete(key);
    const workers = this.workersOf(group) - 1;
    if (workers > 0) return void this.busy.set(group, workers);
    this.busy.delete(group);
    // An idle group keeps no history: it comes back as a newcomer.
    if (!this.waiting.has(group)) this.lastServed.delete(group);
  }

  /** How many keys of `group` are being processed. */
  workersOf(group: string): number {
    return this.busy.get(group) ?? 0;
  }

  private nextGroup(): string | undefined {
    let best: string | undefined;
    for (const group of this.waiting.keys()) if (best === undefined || this.comesBefore(group, best)) best = group;
    return best;
  }

  private comesBefore(a: string, b: string): boolean {
    const byWorkers = this.workersOf(a) - this.workersOf(b);
    if (byWorkers !== 0) return byWorkers < 0;
    return (this.lastServed.get(a) ?? 0) < (this.lastServed.get(b) ?? 0);
  }
}
