/**
 * A counting semaphore with a bounded wait: at most `max` holders at a time, later
 * callers queue in order and give up after a timeout. Bounds the connections Kompost
 * opens into tenant databases per instance, whatever the number of workers.
 */

/** The wait for a free slot ran out. */
export class SlotTimeoutError extends Error {
  override readonly name = "SlotTimeoutError";
}

/** At most `max` concurrent holders; `acquire` resolves to the function that frees the slot. */
export class Slots {
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  /** Waits up to `timeoutMillis` for a slot; rejects with SlotTimeoutError after that. */
  acquire(timeoutMillis: number): Promise<() => void> {
    if (this.inUse < this.max) {
      this.inUse++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(new SlotTimeoutError(`all ${this.max} slots stayed busy for ${timeoutMillis} ms`));
      }, timeoutMillis);
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the next waiter, so nobody can overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse--;
    };
  }
}
