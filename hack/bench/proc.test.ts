import { expect } from "chai";
import { machineCpuBetween, readMachine } from "./proc.js";

describe("the machine's CPU by process", () => {
  it("puts the CPU a process used between two readings under the name given to its pid", async () => {
    const me = new Map([[process.pid, "me"]]);
    const before = await readMachine(me);
    const until = performance.now() + 300;
    while (performance.now() < until); // busy on purpose: 0.3 s of this process's CPU
    const used = machineCpuBetween(before, await readMachine(me));
    expect(used.byProcess.me).to.be.at.least(0.2);
    // /proc/stat and /proc/<pid>/stat are sampled apart, so the machine's total may trail by a few ticks
    expect(used.seconds).to.be.at.least(used.byProcess.me! - 0.1);
    expect(Object.values(used.byProcess).every((seconds) => seconds >= 0.05)).to.equal(true);
  });
});
