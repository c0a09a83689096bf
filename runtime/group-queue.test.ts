import { expect } from "chai";
import { GroupQueue } from "./group-queue.js";

/** Keys named "group/name". */
function groupOf(key: string): string {
  return key.split("/")[0]!;
}

/** Queues each key in its group, as a first attempt or a retry. */
function push(queue: GroupQueue, keys: readonly string[], retried: boolean): void {
  for (const key of keys) queue.push(key, groupOf(key), retried);
}

/** Takes with `take` until it gives nothing more. */
function drain(take: () => string | undefined): string[] {
  const keys: string[] = [];
  for (let key = take(); key !== undefined; key = take()) keys.push(key);
  return keys;
}

describe("GroupQueue", () => {
  it("hands first attempts to the workers and retries to the retry lanes, never one for the other", () => {
    const queue = new GroupQueue(2);
    push(queue, ["a/retry"], true);
    expect(queue.takeFirst(), "a worker takes no retry").to.equal(undefined);
    push(queue, ["a/new"], false);
    expect(queue.takeRetry()).to.equal("a/retry");
    expect(queue.takeRetry(), "a lane takes no first attempt").to.equal(undefined);
    expect(queue.takeFirst()).to.equal("a/new");
    expect([queue.workersOf("a"), queue.lanesOf("a"), queue.retrying, queue.length]).to.deep.equal([1, 1, 1, 0]);
  });

  it("runs a group's retries on every lane but one, and keeps the last lane for a group that holds none", () => {
    const queue = new GroupQueue(4);
    push(queue, ["hole/1", "hole/2", "hole/3", "hole/4", "hole/5"], true);
    expect(drain(() => queue.takeRetry())).to.deep.equal(["hole/1", "hole/2", "hole/3"]);
    push(queue, ["locked/1", "locked/2"], true);
    expect(
      drain(() => queue.takeRetry()),
      "the last lane goes to a group holding none",
    ).to.deep.equal(["locked/1"]);
    queue.release("hole/1");
    expect(queue.takeRetry(), "hole and locked both hold lanes: the free one stays free").to.equal(undefined);
    push(queue, ["free/1"], true);
    expect(queue.takeRetry(), "a third group's retry finds the free lane at once").to.equal("free/1");
    queue.release("hole/2");
    queue.release("hole/3");
    expect(
      drain(() => queue.takeRetry()),
      "hole holds none now; then one lane stays free",
    ).to.deep.equal(["hole/4"]);
    expect([queue.lanesOf("hole"), queue.lanesOf("locked"), queue.lanesOf("free"), queue.retrying]).to.deep.equal([
      1, 1, 1, 3,
    ]);
  });

  it("runs a group's retries on the only lane when there is one", () => {
    const queue = new GroupQueue(1);
    push(queue, ["a/1", "a/2", "b/1"], true);
    expect(drain(() => queue.takeRetry())).to.deep.equal(["a/1"]);
    queue.release("a/1");
    expect(
      drain(() => queue.takeRetry()),
      "b holds none and was never served",
    ).to.deep.equal(["b/1"]);
    queue.release("b/1");
    expect(drain(() => queue.takeRetry())).to.deep.equal(["a/2"]);
  });

  it("takes the retries of groups holding as many lanes in turn, each group's in the order they were queued", () => {
    const queue = new GroupQueue(8);
    push(queue, ["a/1", "a/2", "a/3", "b/1", "b/2", "c/1"], true);
    expect(drain(() => queue.takeRetry())).to.deep.equal(["a/1", "b/1", "c/1", "a/2", "b/2", "a/3"]);
  });

  it("gives a worker to the waiting group holding the fewest workers, whatever retries it runs", () => {
    const queue = new GroupQueue(4);
    push(queue, ["hole/1", "hole/2", "hole/3"], false);
    expect(drain(() => queue.takeFirst())).to.deep.equal(["hole/1", "hole/2", "hole/3"]);
    push(queue, ["free/r1", "free/r2"], true);
    expect(drain(() => queue.takeRetry())).to.deep.equal(["free/r1", "free/r2"]);
    push(queue, ["hole/4", "free/1", "free/2"], false);
    expect(queue.takeFirst(), "free holds no worker, only lanes").to.equal("free/1");
    expect(queue.takeFirst()).to.equal("free/2");
    expect(queue.takeFirst()).to.equal("hole/4");
  });

  it("moves a promoted retry to the end of its group's first attempts", () => {
    const queue = new GroupQueue(1);
    push(queue, ["a/r1", "a/r2"], true);
    push(queue, ["a/1"], false);
    queue.promote("a/r2");
    queue.promote("a/1");
    expect(drain(() => queue.takeFirst())).to.deep.equal(["a/1", "a/r2"]);
    expect(drain(() => queue.takeRetry())).to.deep.equal(["a/r1"]);
    expect(queue.length).to.equal(0);
  });

  it("counts a released key out of the runner kind it was taken by, and ignores a key it never handed out", () => {
    const queue = new GroupQueue(2);
    push(queue, ["a/1"], false);
    push(queue, ["a/2"], true);
    expect([queue.takeFirst(), queue.takeRetry()]).to.deep.equal(["a/1", "a/2"]);
    queue.release("a/2");
    queue.release("a/unknown");
    expect([queue.workersOf("a"), queue.lanesOf("a"), queue.retrying]).to.deep.equal([1, 0, 0]);
    queue.release("a/1");
    expect(queue.workersOf("a")).to.equal(0);
  });
});
