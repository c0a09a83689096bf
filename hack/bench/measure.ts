/** What an operator process did in one phase of the bench: its CPU, its API requests and SQL statements, its queues. */
import type { KubernetesObject } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { KubeClient } from "../../runtime/kube-client.js";
import type { ResourceKind } from "../../runtime/resource-kind.js";
import type { ControlPlane } from "../../test/harness/control-plane.js";
import { delay } from "../../test/support/eventually.js";
import type { Activity, BenchLogs, Mark } from "./logs.js";
import type { BenchOperator } from "./operator.js";
import { machineCpuBetween, readMachine, type MachineCpu, type MachineReading } from "./proc.js";

/** How many creates the bench itself sends at once, for Kompost and its peer (its own requests are not counted: it is not the operator). */
export const CREATE_PARALLELISM = 8;

/** Whose requests and statements count: the operator's API user and PostgreSQL user. */
export interface Who {
  readonly apiUser: string;
  readonly pgUser: string;
}

/** Where a phase began. */
export interface Start {
  readonly mark: Mark;
  readonly time: number;
  readonly cpu: number;
  /** The whole machine's CPU so far. */
  readonly machine: MachineReading;
}

/** Flushes the page cache's dirty pages, then marks both logs and reads the operator's CPU time. */
export async function measureStart(logs: BenchLogs, operator: BenchOperator): Promise<Start> {
  await flushDirtyPages();
  return {
    mark: await logs.mark(),
    time: Date.now(),
    cpu: await operator.cpuSeconds(),
    machine: await readMachine(named(operator)),
  };
}

/** The whole machine's CPU since `start` (read when the timed part ends, before settling). */
export async function machineSince(start: Start, operator: BenchOperator): Promise<MachineCpu> {
  return machineCpuBetween(start.machine, await readMachine(named(operator)));
}

/** The operator's and the bench's own process under those names; every other process under its command's. */
function named(operator: BenchOperator): Map<number, string> {
  return new Map([
    [operator.pid, "operator"],
    [process.pid, "bench"],
  ]);
}

/**
 * Writes out what earlier phases left dirty in the page cache (`sync`), before a timed phase
 * begins: a run of N=1000 writes some 15 GB (each CREATE DATABASE copies its template), and
 * without this the next phase pays the writeback of the one before it.
 */
export async function flushDirtyPages(): Promise<void> {
  await promisify(execFile)("sync");
}

/** What `who` did since `start`, and the operator's CPU seconds since then. */
export async function measureEnd(
  logs: BenchLogs,
  who: Who,
  operator: BenchOperator,
  start: Start,
): Promise<Activity & { cpuSeconds: number }> {
  const cpuSeconds = (await operator.cpuSeconds()) - start.cpu;
  const activity = await logs.between(start.mark, await logs.mark(), who);
  return { ...activity, cpuSeconds };
}

/**
 * Waits until the operator's work queues are empty and no worker is busy, twice in a row (the
 * workqueue_depth and controller_runtime_active_workers metrics, which Kompost names as controller-runtime does).
 */
export async function settle(operator: BenchOperator): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    const busy =
      (await operator.counter("workqueue_depth")) + (await operator.counter("controller_runtime_active_workers"));
    quiet = busy === 0 ? quiet + 1 : 0;
    await delay(500);
  }
}

/** Runs `task(0)` … `task(count - 1)`, `parallelism` at a time, as a client creating objects would. */
export async function inParallel(
  count: number,
  parallelism: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallelism }, async () => {
      for (let i = next++; i < count; i = next++) await task(i);
    }),
  );
}

/**
 * Creates `objects` (each of the kind `kindOf` gives), CREATE_PARALLELISM at a time, over
 * keep-alive connections as kubectl or a GitOps tool would: the generated clients of
 * @kubernetes/client-node open a new TLS connection per request, whose handshakes would load
 * the API server and the machine during the operator's phase and count against it.
 */
export async function createAll(
  cp: ControlPlane,
  objects: readonly KubernetesObject[],
  kindOf: (object: KubernetesObject) => ResourceKind,
): Promise<void> {
  const client = new KubeClient(cp.kubeConfig, { userAgent: "kompost-bench" });
  await inParallel(objects.length, CREATE_PARALLELISM, async (i) => {
    await client.create(kindOf(objects[i]!), objects[i]!);
  });
}

/** The 10th, 50th and 90th percentile (nearest rank) of `values`. */
export function percentiles(values: readonly number[]): { p10: number; p50: number; p90: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p10: rank(10), p50: rank(50), p90: rank(90) };
}
