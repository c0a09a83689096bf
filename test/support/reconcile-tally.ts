/**
 * Finished reconciles per object, counted by the test envs' controllers, so that a test can
 * wait until the controller has had its chance instead of sleeping. A negative assertion
 * ("nothing was written", "no second Event") waits for `more(key, 2)`: the second of those
 * reconciles started after the call, so it saw whatever the test did before.
 */
import { keyString, type ObjectKey } from "../../runtime/resource-kind.js";
import { eventually } from "./eventually.js";

/** Counts finished reconciles (whatever their outcome) per object key. */
export class ReconcileTally {
  private readonly counts = new Map<string, number>();

  /** Counts one finished reconcile of `key`; the controllers of the test envs call it. */
  record(key: ObjectKey): void {
    const id = keyString(key);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** How many reconciles of `key` have finished so far. */
  count(key: ObjectKey): number {
    return this.counts.get(keyString(key)) ?? 0;
  }

  /** Waits until `times` more reconciles of `key` have finished than had when it was called. */
  more(key: ObjectKey, times: number, timeoutMs = 30_000): Promise<void> {
    return this.atLeast(key, this.count(key) + times, timeoutMs);
  }

  /** Waits until `target` reconciles of `key` have finished in all (see `count`). */
  async atLeast(key: ObjectKey, target: number, timeoutMs = 30_000): Promise<void> {
    await eventually(
      () => {
        const now = this.count(key);
        if (now < target) throw new Error(`${keyString(key)} was reconciled ${now} times, waiting for ${target}`);
      },
      timeoutMs,
      20,
    );
  }
}
