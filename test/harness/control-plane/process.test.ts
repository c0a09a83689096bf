import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { retryOnPortClash, ServerProcess, waitFor } from "./process.js";

describe("server processes of the test harness", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), "kompost-process-"))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it("stops a running process with SIGTERM and waits for its exit", async () => {
    const server = await ServerProcess.start("sleeper", "sleep", ["600"], path.join(dir, "sleep.log"));
    expect(server.running).to.equal(true);
    await server.stop();
    expect(server.running).to.equal(false);
    expect(() => process.kill(server.pid, 0)).to.throw(/ESRCH/);
  });

  it("kills a process that ignores SIGTERM once the grace period is over", async () => {
    const script = "trap '' TERM; echo trapped; while true; do sleep 0.1; done";
    const server = await ServerProcess.start("stubborn", "sh", ["-c", script], path.join(dir, "stubborn.log"));
    await waitFor("the trap to be set", 10_000, [server], async () =>
      (await server.logTail()).includes("trapped") ? true : undefined,
    );
    await server.stop(200);
    expect(server.exitDescription).to.equal("was killed by SIGKILL");
  });

  it("fails a wait with the log tail when the process exits", async () => {
    const script = "echo the reason it failed; exit 3";
    const server = await ServerProcess.start("quitter", "sh", ["-c", script], path.join(dir, "quitter.log"));
    let error: unknown;
    await waitFor("something that never happens", 10_000, [server], () => Promise.resolve(undefined)).catch(
      (err: unknown) => (error = err),
    );
    expect(String(error)).to.include("quitter exited with code 3").and.to.include("the reason it failed");
  });

  it("fails to start a missing binary with a message naming it", async () => {
    let error: unknown;
    await ServerProcess.start("ghost", path.join(dir, "no-such-binary"), [], path.join(dir, "ghost.log")).catch(
      (err: unknown) => (error = err),
    );
    expect(String(error)).to.include("while starting ghost").and.to.include("ENOENT");
  });

  it("starts again after a port clash, and not after any other failure", async () => {
    let calls = 0;
    const result = await retryOnPortClash(() => {
      calls++;
      const clash = new Error("listen tcp 127.0.0.1:1234: bind: address already in use");
      return calls < 3 ? Promise.reject(clash) : Promise.resolve("started");
    });
    expect([result, calls]).to.deep.equal(["started", 3]);

    calls = 0;
    let error: unknown;
    await retryOnPortClash(() => {
      calls++;
      return Promise.reject(new Error("bad flag"));
    }).catch((err: unknown) => (error = err));
    expect([String(error), calls]).to.deep.equal(["Error: bad flag", 1]);
  });
});
