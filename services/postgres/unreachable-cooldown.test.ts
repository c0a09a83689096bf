import { expect } from "chai";
import { ConnectionError } from "./connection-failures.js";
import { DEFAULT_CONNECTION_SETTINGS, type InstanceConnectionSpec } from "./connection-spec.js";
import type { InstanceKey } from "./instance-key.js";
import { UnreachableCooldown } from "./unreachable-cooldown.js";

const hole: InstanceKey = { kind: "PostgresInstance", namespace: "team-a", name: "hole" };
const spec: InstanceConnectionSpec = { hostname: "127.0.0.1", port: 1, username: "admin", password: "secret" };

/** A connect the test ends when it wants to. */
function pendingConnect(): { promise: Promise<number>; fail: () => void; succeed: () => void } {
  let fail!: () => void;
  let succeed!: () => void;
  const promise = new Promise<number>((resolve, reject) => {
    succeed = () => resolve(1);
    fail = () => reject(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }));
  });
  return { promise, fail, succeed };
}

/** Waits (a turn of the event loop at a time) until the clock has passed `ms`. */
async function clockPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setImmediate(resolve));
}

describe("UnreachableCooldown", () => {
  it("keeps the one connect that tries the server again when connects that hung together fail one after another", async () => {
    const cooldown = new UnreachableCooldown({ ...DEFAULT_CONNECTION_SETTINGS, unreachableCooldownMillis: 1 });
    const began = Date.now();
    const [first, second, retry] = [pendingConnect(), pendingConnect(), pendingConnect()];
    const hung = [first, second].map((c) => cooldown.through(hole, spec, () => c.promise).catch((err: unknown) => err));
    first.fail();
    expect(await hung[0]).to.be.instanceOf(ConnectionError);
    await clockPast(began + 1);
    const trying = cooldown.through(hole, spec, () => retry.promise);
    second.fail();
    expect(await hung[1], "the second hung connect fails as well").to.be.instanceOf(ConnectionError);
    let called = false;
    const refused = await cooldown
      .through(hole, spec, () => {
        called = true;
        return Promise.resolve(2);
      })
      .catch((err: unknown) => err);
    expect(called, "no second connect while one tries the server").to.equal(false);
    expect(refused).to.be.instanceOf(ConnectionError).and.have.property("reason", "Timeout");
    retry.succeed();
    expect(await trying).to.equal(1);
    expect(await cooldown.through(hole, spec, () => Promise.resolve(3)), "reached: connects go ahead").to.equal(3);
  });
});
