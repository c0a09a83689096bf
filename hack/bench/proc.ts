/** What the kernel knows of a running process: CPU time and memory, from /proc (Linux only). */
import { readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds the process has used so far, user plus system (utime + stime). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name in parentheses may hold spaces: the fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident memory now (VmRSS) and its peak so far (VmHWM), in bytes. */
export async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** The 1-minute load average. */
export async function loadAverage(): Promise<number> {
  return Number((await readFile("/proc/loadavg", "utf8")).split(" ")[0]);
}

/**
 * CPU seconds the whole machine has been busy so far, over all cores (/proc/stat: user, nice,
 * system, irq, softirq and steal; not idle or iowait). Its rise over a phase, divided by the
 * phase's wall time, is how many cores were busy: near the core count, the phase was bound by CPU.
 */
export async function machineBusySeconds(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user, nice, system, (idle, iowait,) irq, softirq, steal
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, field) => sum + (ticks[field] ?? 0), 0);
  return busy / CLOCK_TICKS;
}
