/** The keys of one group waiting: first attempts, and retries after a failure. */
interface Waiting {
  readonly fresh: string[];
  readonly retried: string[];
}

/** Where a key waits or runs: its group as it was when queued, and whether it is a retry. */
interface Place {
  readonly group: string;
  readonly retried: boolean;
}

/**
 * How one kind of runner (the workers, or the retry lanes) is shared between groups: how many
 * each group holds now, and when each was last served, for the round-robin between equals.
 */
class Shares {
  private readonly held = new Map<string, number>();
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  /** How many runners are held, by every group together. */
  total = 0;

  /** How many runners `group` holds. */
  of(group: string): number {
    return this.held.get(group) ?? 0;
  }

  take(group: string): void {
    this.held.set(group, this.of(group) + 1);
    this.lastServed.set(group, ++this.served);
    this.total += 1;
  }

  /** `group` gives one runner back; a group that holds none and waits for none keeps no history. */
  release(group: string, waiting: boolean): void {
    this.total -= 1;
    const held = this.of(group) - 1;
    if (held > 0) return void this.held.set(group, held);
    this.held.delete(group);
    // An idle group comes back as a newcomer.
    if (!waiting) this.lastServed.delete(group);
  }

  /** True when `a` goes before `b`: it holds fewer runners, or as many and was served longer ago. */
  before(a: string, b: string): boolean {
    const byHeld = this.of(a) - this.of(b);
    if (byHeld !== 0) return byHeld < 0;
    return (this.lastServed.get(a) ?? 0) < (this.lastServed.get(b) ?? 0);
  }
}

/**
 * The keys waiting in a work queue, first in first out within each group (e.g. the server a
 * key's object lives on), and who is processing them: first attempts run on the workers,
 * retries after a failure on `retryLanes` lanes of their own.
 *
 * `takeFirst` hands a worker the oldest first attempt of the group that holds the fewest workers
 * now; of groups holding as many, the one served longest ago goes first (round-robin). So a group
 * holds more workers than the other groups with keys waiting only while it is alone in waiting:
 * a group whose reconciles hang (a server that never answers, a tenant holding a lock) gets its
 * share of the workers, and the keys of the other groups are taken past its own. With one group
 * this is a plain FIFO and every worker may run it.
 *
 * `takeRetry` hands a retry lane the oldest retry of a group in the same way, and always leaves
 * one lane free for a group that holds none: a group takes its first lane while any is free,
 * and another only while two are. A retry therefore never takes a worker that a first attempt
 * needs, a group whose reconciles keep failing runs at most `retryLanes - 1` retries at once
 * (all of them when there is one lane), and a retry of another group finds a lane at once or
 * after the next retry ends.
 */
export class GroupQueue {
  private readonly waiting = new Map<string, Waiting>();
  /** Each key waiting or being processed, and where. */
  private readonly waitingIn = new Map<string, Place>();
  private readonly taken = new Map<string, Place>();
  private readonly workers = new Shares();
  private readonly lanes = new Shares();
  private count = 0;

  /** `retryLanes`: how many retries may run at once, beside the workers. */
  constructor(private readonly retryLanes: number = 0) {}

  /** Number of keys waiting. */
  get length(): number {
    return this.count;
  }

  /** How many retries are being processed now (in the retry lanes). */
  get retrying(): number {
    return this.lanes.total;
  }

  /** Queues `key` at the end of its group's first attempts, or of its retries. */
  push(key: string, group: string, retried: boolean): void {
    this.keysOf(group)[retried ? "retried" : "fresh"].push(key);
    this.waitingIn.set(key, { group, retried });
    this.count += 1;
  }

  /** Moves a waiting retry to the end of its group's first attempts (something new happened to it). */
  promote(key: string): void {
    const place = this.waitingIn.get(key);
    if (!place?.retried) return;
    const keys = this.keysOf(place.group);
    keys.retried.splice(keys.retried.indexOf(key), 1);
    keys.fresh.push(key);
    this.waitingIn.set(key, { group: place.group, retried: false });
  }

  /** The next first attempt for a worker (its group now holds one more), or undefined when none waits. */
  takeFirst(): string | undefined {
    const group = this.next("fresh", this.workers, () => true);
    return group === undefined ? undefined : this.take(group, false);
  }

  /** The next retry for a retry lane, or undefined when none waits or none may run now (see the class). */
  takeRetry(): string | undefined {
    const free = this.retryLanes - this.lanes.total;
    const group = this.next("retried", this.lanes, (g) => free >= (this.lanes.of(g) === 0 ? 1 : 2));
    return group === undefined ? undefined : this.take(group, true);
  }

  /** `key` was processed: its group holds one worker (or lane) less. */
  release(key: string): void {
    const place = this.taken.get(key);
    if (!place) return;
    this.taken.delete(key);
    const kind = place.retried ? "retried" : "fresh";
    const waiting = (this.waiting.get(place.group)?.[kind].length ?? 0) > 0;
    (place.retried ? this.lanes : this.workers).release(place.group, waiting);
  }

  /** How many first attempts of `group` are being processed. */
  workersOf(group: string): number {
    return this.workers.of(group);
  }

  /** How many retries of `group` are being processed. */
  lanesOf(group: string): number {
    return this.lanes.of(group);
  }

  private keysOf(group: string): Waiting {
    let keys = this.waiting.get(group);
    if (!keys) this.waiting.set(group, (keys = { fresh: [], retried: [] }));
    return keys;
  }

  private take(group: string, retried: boolean): string {
    const keys = this.waiting.get(group)!;
    const key = (retried ? keys.retried : keys.fresh).shift()!;
    if (keys.fresh.length + keys.retried.length === 0) this.waiting.delete(group);
    this.count -= 1;
    this.waitingIn.delete(key);
    (retried ? this.lanes : this.workers).take(group);
    this.taken.set(key, { group, retried });
    return key;
  }

  /** The group whose `kind` of keys goes next among those `may` run: the first by `shares`. */
  private next(kind: keyof Waiting, shares: Shares, may: (group: string) => boolean): string | undefined {
    let best: string | undefined;
    for (const [group, keys] of this.waiting) {
      if (keys[kind].length === 0 || !may(group)) continue;
      if (best === undefined || shares.before(group, best)) best = group;
    }
    return best;
  }
}
