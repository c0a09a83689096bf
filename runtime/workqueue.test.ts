import { expect } from "chai";
import { delay } from "../test/support/eventually.js";
import { ExponentialBackoffLimiter } from "./rate-limiter.js";
import { WorkQueue } from "./workqueue.js";

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
    void queue.get().then((key) => (second = key));
    await delay(20);
    expect(second).to.equal(undefined);
    queue.done(first!);
    await delay(0);
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
    await delay(600);
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
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).to.be.greaterThan(gaps[i - 1]!);
    queue.forget("k");
    expect(queue.retries("k")).to.equal(0);
  });

  it("returns undefined to waiting and later gets once shut down, and drops delayed keys", async () => {
    const pending = queue.get();
    queue.addAfter("later", 10);
    queue.shutDown();
    expect(await pending).to.equal(undefined);
    await delay(30);
    expect(await queue.get()).to.equal(undefined);
    queue.add("x");
    expect(queue.length).to.equal(0);
  });
});
