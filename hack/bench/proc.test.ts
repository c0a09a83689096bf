import { expect } from "chai";
import os from "node:os";
import { machineCpuBetween, readMachine } from "./proc.js";

describe("the machine's CPU by process", () => {
  it("puts the CPU a process used between two readings under the name given to its pid", async () => {
    const me = new Map([[process.pid, "me"]]);
    const started = performance.now();
    const before = await readMachine(me);
    burnCpu(0.3);
    const used = machineCpuBetween(before, await readMachine(me));
    const elapsed = (performance.now() - started) / 1000;
    // At least what it burned; more when a child it reaped meanwhile is counted (see cpuByProcess).
    expect(used.byProcess.me).to.be.at.least(0.25);
    expect(used.seconds, "the whole machine's busy time").to.be.within(0.2, elapsed * os.cpus().length + 0.05);
    expect(Object.values(used.byProcess).every((seconds) => seconds >= 0.05)).to.equal(true);
  });
});

/** Keeps this process busy until it has used `seconds` of CPU (not wall time: a shared machine may lend its cores elsewhere). */
function burnCpu(seconds: number): void {
  const start = process.cpuUsage();
  const usedSeconds = () => {
    const { user, system } = process.cpuUsage(start);
    return (user + system) / 1e6;
  };
  while (usedSeconds() < seconds);
}
