/** What the kernel knows of a running process: CPU time and memory, from /proc (Linux only). */
import { readdir, readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds the process has used so far, user plus system (utime + stime). */
export async function cpuSeconds(pid: number): Promise<number> {
  const { fields } = parseStat(await readFile(`/proc/${pid}/stat`, "utf8"));
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A /proc/<pid>/stat line: the command name, and the fields after it (fields[11] is utime). */
function parseStat(stat: string): { command: string; fields: string[] } {
  // The command name in parentheses may hold spaces: the fields are counted after its closing one.
  const close = stat.lastIndexOf(")");
  return { command: stat.slice(stat.indexOf("(") + 1, close), fields: stat.slice(close + 2).split(" ") };
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
async function machineBusySeconds(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user, nice, system, (idle, iowait,) irq, softirq, steal
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, field) => sum + (ticks[field] ?? 0), 0);
  return busy / CLOCK_TICKS;
}

/**
 * CPU seconds so far of every process on the machine, summed by command name, or by the name
 * `named` gives its pid. Each counts its reaped children (cutime, cstime) too, so that the
 * difference of two readings is the CPU used in between, also by processes that ran and exited
 * meanwhile (a PostgreSQL backend lands under "postgres", its postmaster having reaped it).
 */
async function cpuByProcess(named: ReadonlyMap<number, string>): Promise<Record<string, number>> {
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
  const totals: Record<string, number> = {};
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat === undefined) continue; // exited since the listing
    const { command, fields } = parseStat(stat);
    const ticks = [11, 12, 13, 14].reduce((sum, field) => sum + Number(fields[field]), 0);
    const name = named.get(Number(pid)) ?? command;
    totals[name] = (totals[name] ?? 0) + ticks / CLOCK_TICKS;
  }
  return totals;
}

/** The machine's CPU at one moment: busy seconds so far, in all and by process. */
export interface MachineReading {
  readonly busy: number;
  readonly byProcess: Readonly<Record<string, number>>;
}

/** The machine's CPU used between two readings: busy seconds, and by process those of 0.05 s or more, most first. */
export interface MachineCpu {
  readonly seconds: number;
  readonly byProcess: Readonly<Record<string, number>>;
}

/** Reads the machine's CPU now; `named` names some processes by pid (e.g. "operator"). */
export async function readMachine(named: ReadonlyMap<number, string> = new Map()): Promise<MachineReading> {
  return { busy: await machineBusySeconds(), byProcess: await cpuByProcess(named) };
}

/** What the machine used from `before` to `after`. */
export function machineCpuBetween(before: MachineReading, after: MachineReading): MachineCpu {
  const used = Object.entries(after.byProcess).map(
    ([name, seconds]) => [name, Number((seconds - (before.byProcess[name] ?? 0)).toFixed(2))] as const,
  );
  return {
    seconds: Number((after.busy - before.busy).toFixed(2)),
    byProcess: Object.fromEntries(used.filter(([, seconds]) => seconds >= 0.05).sort((a, b) => b[1] - a[1])),
  };
}
