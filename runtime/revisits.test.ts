import { expect } from "chai";
import { resyncDelayMs, Revisits, type RevisitTimers } from "./revisits.js";

/** Timers that only record what was scheduled; `fire` runs one. */
class RecordedTimers implements RevisitTimers {
  readonly pending = new Map<number, { fn: () => void; delayMs: number }>();
  private next = 0;
  readonly set = (fn: () => void, delayMs: number): unknown => {
    const id = this.next++;
    this.pending.set(id, { fn, delayMs });
    return id;
  };
  readonly clear = (timer: unknown): void => {
    this.pending.delete(timer as number);
  };
  delays(): number[] {
    return [...this.pending.values()].map((timer) => timer.delayMs);
  }
  fireAll(): void {
    const due = [...this.pending.entries()];
    this.pending.clear();
    for (const [, timer] of due) timer.fn();
  }
}

describe("Revisits", () => {
  it("spreads the first resync of keys reconciled together over a whole period, later ones within ±10 %", () => {
    const period = 60_000;
    expect(resyncDelayMs(period, true, 0)).to.equal(30_000);
    expect(resyncDelayMs(period, true, 0.999)).to.be.closeTo(89_940, 1);
    expect(resyncDelayMs(period, false, 0)).to.equal(54_000);
    expect(resyncDelayMs(period, false, 0.999)).to.be.closeTo(65_988, 1);

    // 1,000 keys reconciled in the same instant after a start: their resyncs fill [P/2, 3P/2) evenly.
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const timers = new RecordedTimers();
    const revisits = new Revisits(() => undefined, { periodMs: period, random, timers });
    for (let i = 0; i < 1000; i++) revisits.reconciled(`ns/db-${i}`);
    const buckets = new Array<number>(10).fill(0);
    for (const delay of timers.delays()) buckets[Math.floor((delay - period / 2) / (period / 10))]!++;
    for (const count of buckets) expect(count).to.be.within(60, 140);
  });

  it("lets the latest reconcile decide: an earlier requeue does not run the key again after a later reconcile", () => {
    const enqueued: string[] = [];
    const timers = new RecordedTimers();
    const revisits = new Revisits((key) => enqueued.push(key), { periodMs: 300_000, random: () => 0.5, timers });

    // Waiting for the instance: come back in 10 s. Then the instance is published and the key
    // reconciled fully: the 10 s requeue is gone, only the resync stays.
    expect(revisits.reconciled("ns/db", 10_000)).to.equal(10_000);
    expect(revisits.reconciled("ns/db")).to.equal(300_000);
    expect(timers.delays()).to.deep.equal([300_000]);
    timers.fireAll();
    expect(enqueued).to.deep.equal(["ns/db"]);

    // The next resync is within ±10 % of the period; a requeue sooner than it wins.
    expect(revisits.reconciled("ns/db")).to.equal(300_000);
    expect(revisits.reconciled("ns/db", 86_400_000)).to.equal(300_000);
    expect(revisits.reconciled("ns/db", 1_000)).to.equal(1_000);
    expect(revisits.size).to.equal(1);
  });

  it("keeps the start's spread for the first resync that follows requeues", () => {
    const timers = new RecordedTimers();
    const revisits = new Revisits(() => undefined, { periodMs: 100_000, random: () => 0, timers });
    revisits.reconciled("ns/db", 500);
    expect(revisits.reconciled("ns/db")).to.equal(50_000);
    expect(revisits.reconciled("ns/db")).to.equal(90_000);
  });

  it("schedules only requeues when the resync is off, and nothing once stopped or for a key that is gone", () => {
    const timers = new RecordedTimers();
    const revisits = new Revisits(() => undefined, { periodMs: 0, timers });
    expect(revisits.reconciled("ns/a")).to.equal(undefined);
    expect(revisits.reconciled("ns/a", 200)).to.equal(200);
    revisits.forget("ns/a");
    expect(timers.pending.size).to.equal(0);
    revisits.reconciled("ns/b", 200);
    revisits.stop();
    expect(timers.pending.size).to.equal(0);
    expect(revisits.reconciled("ns/b", 200)).to.equal(undefined);
  });
});
