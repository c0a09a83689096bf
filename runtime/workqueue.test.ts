import { expect } from "chai";
import { delay } from "../test/support/eventually.js";
import { workqueueRetriesRunning } from "./metrics.js";
import { ExponentialBackoffLimiter } from "./rate-limiter.js";
import { WorkQueue } from "./workqueue.js";

/** The next `count` keys of `queue`, each left processing. */
async function takeFrom(queue: WorkQueue, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push((await queue.get())!);
  return keys;
}

describe("WorkQueue", () => {
  let queue: WorkQueue;

  beforeEach(() => {
    queue = new WorkQueue({ name: "test", rateLimiter: new ExponentialBackoffLimiter(20, 1000) });
  });

  afterEach(() => queue.shutDown());

  it("hands out keys in the order they were added", async () => {
    queue.add("a");
    queue.add("b");
    expect(await queue.get()).to.equal("a");
    expect(await queue.get()).to.equal("b");
  });

  it("keeps a key that is added several times only once", async () => {
    queue.add("a");
    queue.add("a");
    queue.add("a");
    expect(queue.length).to.equal(1);
    expect(await queue.get()).to.equal("a");
    expect(queue.length).to.equal(0);
  });

  it("does not hand out a key again while it is processed, and runs it once more after done", async () => {
    queue.add("a");
    const first = await queue.get();
    queue.add("a");
    queue.add("a");
    expect(queue.length).to.equal(0);
    let second: string | undefined;
    const waiting = queue.get().then((key) => (second = key));
    // A key handed out resolves a waiting get at once: one turn of the event loop lets it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).to.equal(undefined);
    queue.done(first!);
    await waiting;
    expect(second).to.equal("a");
  });

  it("wakes a waiting get when a key is added", async () => {
    const pending = queue.get();
    queue.add("late");
    expect(await pending).to.equal("late");
  });

  it("adds a key after the requested delay and keeps the earliest of two delays", async () => {
    queue.addAfter("a", 200);
    queue.addAfter("a", 30);
    queue.addAfter("a", 500);
    expect(queue.length).to.equal(0);
    expect(await queue.get()).to.equal("a");
    queue.done("a");
    // A later key of the queue's own: had the 200 or 500 ms delay stayed pending, "a" would come first.
    queue.addAfter("after", 600);
    expect(await queue.get()).to.equal("after");
    expect(queue.length).to.equal(0);
  });

  it("retries a failing key with growing delays and starts over after forget", async () => {
    const gaps: number[] = [];
    let last = Date.now();
    queue.add("k");
    for (let i = 0; i < 4; i++) {
      const key = (await queue.get())!;
      const now = Date.now();
      if (i > 0) gaps.push(now - last);
      last = now;
      queue.done(key);
      queue.addRateLimited(key);
    }
    expect(queue.retries("k")).to.equal(4);
    // Each retry waits at least its backoff, 20, 40 then 80 ms (a busy machine makes timers late, never early).
    expect(
      gaps.map((gap, i) => gap >= 20 * 2 ** i - 1),
      `gaps ${gaps.join(", ")} ms`,
    ).to.deep.equal([true, true, true]);
    queue.forget("k");
    expect(queue.retries("k")).to.equal(0);
  });

  describe("with groups", () => {
    /** Keys named "group/name". */
    const byPrefix = (key: string): string => key.split("/")[0]!;
    let grouped: WorkQueue;

    beforeEach(() => (grouped = new WorkQueue({ name: "grouped", groupOf: byPrefix })));
    afterEach(() => grouped.shutDown());

    const takeAll = (count: number): Promise<string[]> => takeFrom(grouped, count);

    it("gives each worker that comes free to a waiting group holding fewer workers, past a group that fills them all", async () => {
      // Four workers all run keys of a stuck group "hole", which has more keys waiting.
      for (const key of ["hole/1", "hole/2", "hole/3", "hole/4", "hole/5", "hole/6"]) grouped.add(key);
      expect(await takeAll(4)).to.deep.equal(["hole/1", "hole/2", "hole/3", "hole/4"]);
      for (const key of ["free/1", "free/2", "free/3"]) grouped.add(key);
      grouped.done("hole/1");
      expect(await grouped.get(), "hole holds 3 workers, free none").to.equal("free/1");
      grouped.done("hole/2");
      expect(await grouped.get(), "hole holds 2 workers, free 1").to.equal("free/2");
      grouped.done("hole/3");
      expect(await grouped.get(), "hole holds 1 worker, free 2").to.equal("hole/5");
      grouped.done("free/1");
      expect(await grouped.get(), "each holds 2 workers; free was served longest ago").to.equal("free/3");
      grouped.done("free/2");
      expect(await grouped.get(), "free alone holds fewer but has nothing waiting").to.equal("hole/6");
      expect(grouped.length).to.equal(0);
    });

    it("takes groups round-robin when they hold as many workers, keeping each group's order", async () => {
      for (const key of ["a/1", "a/2", "a/3", "b/1", "b/2", "c/1"]) grouped.add(key);
      const order: string[] = [];
      while (order.length < 6) {
        const key = (await grouped.get())!;
        order.push(key);
        grouped.done(key);
      }
      expect(order).to.deep.equal(["a/1", "b/1", "c/1", "a/2", "b/2", "a/3"]);
    });

    it("lets one group use every worker while no other group has keys waiting", async () => {
      for (const key of ["only/1", "only/2", "only/3", "only/4"]) grouped.add(key);
      expect(await takeAll(4)).to.deep.equal(["only/1", "only/2", "only/3", "only/4"]);
    });

    it("queues a key again after done in the group its object has by then, once however often it was added", async () => {
      const groups = new Map([["k", "a"]]);
      const moving = new WorkQueue({ name: "moving", groupOf: (key) => groups.get(key) ?? byPrefix(key) });
      try {
        moving.add("a/1");
        moving.add("k");
        expect(await takeFrom(moving, 2)).to.deep.equal(["a/1", "k"]);
        moving.add("k");
        moving.add("k");
        groups.set("k", "b");
        moving.add("a/2");
        expect(moving.length, "k waits to run again once done").to.equal(1);
        moving.done("k");
        expect(moving.length).to.equal(2);
        expect(await moving.get(), "b holds no worker, a still holds one").to.equal("k");
        expect(await moving.get()).to.equal("a/2");
      } finally {
        moving.shutDown();
      }
    });

    describe("and retry lanes", () => {
      /** Failures are queued again at once and counted, so that no test waits for a delay. */
      const failNow = (queue: WorkQueue, key: string): void => {
        queue.addRateLimited(key);
        queue.done(key);
      };
      /** Lets promise callbacks that are due run. */
      const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
      const retriesRunning = async (): Promise<number | undefined> =>
        (await workqueueRetriesRunning.get()).values.find((value) => value.labels.name === "laned")?.value;
      let laned: WorkQueue;

      beforeEach(() => {
        const rateLimiter = new ExponentialBackoffLimiter(0, 0);
        laned = new WorkQueue({ name: "laned", groupOf: byPrefix, rateLimiter, retryLanes: 2 });
      });
      afterEach(() => laned.shutDown());

      it("runs a key that failed again in a retry lane, never on a worker, which stays free for first attempts", async () => {
        laned.add("locked/1");
        expect(await laned.get()).to.equal("locked/1");
        failNow(laned, "locked/1");
        let worker: string | undefined;
        void laned.get().then((key) => (worker = key));
        await settle();
        expect(worker, "a worker does not take the retry").to.equal(undefined);
        expect(await laned.getRetry()).to.equal("locked/1");
        expect(await retriesRunning()).to.equal(1);
        laned.add("free/1");
        await settle();
        expect(worker, "the first attempt goes to the waiting worker while the retry runs").to.equal("free/1");
        laned.done("locked/1");
        expect(await retriesRunning()).to.equal(0);
      });

      it("turns a waiting retry into a first attempt when the key is added again (e.g. its server answers again)", async () => {
        laned.add("hole/1");
        expect(await laned.get()).to.equal("hole/1");
        failNow(laned, "hole/1");
        laned.add("hole/1");
        expect(laned.length, "still queued once").to.equal(1);
        expect(await laned.get()).to.equal("hole/1");
        let lane: string | undefined;
        void laned.getRetry().then((key) => (lane = key));
        laned.done("hole/1");
        await settle();
        expect(lane, "nothing is left to retry").to.equal(undefined);
      });

      it("queues a key that failed while processed as a retry once done, or as a first attempt if it was also added", async () => {
        laned.add("a/1");
        laned.add("a/2");
        expect(await takeFrom(laned, 2)).to.deep.equal(["a/1", "a/2"]);
        for (const key of ["a/1", "a/2"]) laned.addRateLimited(key);
        laned.add("a/2");
        expect(laned.length, "both wait until they are done").to.equal(0);
        laned.done("a/1");
        laned.done("a/2");
        expect(await laned.get()).to.equal("a/2");
        expect(await laned.getRetry()).to.equal("a/1");
      });

      it("queues a requeue asked for as a retry in a retry lane", async () => {
        laned.addAfter("hole/1", 0, { retry: true });
        laned.addAfter("free/1", 0);
        expect(await laned.getRetry()).to.equal("hole/1");
        expect(await laned.get()).to.equal("free/1");
      });

      it("ends the lanes waiting for a retry at shutdown", async () => {
        const pending = laned.getRetry();
        laned.shutDown();
        expect(await pending).to.equal(undefined);
        expect(await laned.getRetry()).to.equal(undefined);
      });
    });

    it("hands a retry to get like any key, and none to getRetry, without retry lanes", async () => {
      const plain = new WorkQueue({
        name: "plain",
        groupOf: byPrefix,
        rateLimiter: new ExponentialBackoffLimiter(0, 0),
      });
      try {
        plain.add("a/1");
        expect(await plain.get()).to.equal("a/1");
        plain.addRateLimited("a/1");
        plain.done("a/1");
        expect(await plain.getRetry()).to.equal(undefined);
        expect(await plain.get()).to.equal("a/1");
      } finally {
        plain.shutDown();
      }
    });
  });

  it("returns undefined to waiting and later gets once shut down, and drops delayed keys", async () => {
    const pending = queue.get();
    queue.addAfter("later", 10);
    queue.shutDown();
    expect(await pending).to.equal(undefined);
    // Timers of one duration fire in the order they were set: by now the queue's would have fired.
    await delay(10);
    expect(queue.length).to.equal(0);
    expect(await queue.get()).to.equal(undefined);
    queue.add("x");
    expect(queue.length).to.equal(0);
  });
});
