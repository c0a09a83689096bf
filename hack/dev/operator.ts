/** The operator as a child process of `make dev`, with its log lines shown in the terminal. */
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { describeExit, type Exit, spawnOperator, type SpawnedOperator } from "../../test/harness/operator-process.js";
import { formatLogLine } from "./log-format.js";
import { REPO_ROOT } from "./paths.js";

/** How long the operator gets after SIGTERM: its default --shutdown-timeout of 30 s plus lease release. */
const STOP_GRACE_MS = 45_000;

/** How to start the operator. */
export interface OperatorOptions {
  readonly kubeconfigPath: string;
  readonly operatorNamespace: string;
  /** Receives every line the operator writes, already formatted. */
  readonly write: (line: string) => void;
}

/** A running `node --import tsx cmd/main.ts` on probe and metrics ports of 127.0.0.1. */
export class OperatorProcess {
  private exit: Exit | undefined;
  private stopping = false;

  private constructor(private readonly spawned: SpawnedOperator) {
    void spawned.exited.then((exit) => (this.exit = exit));
  }

  /** Spawns the operator with an admin kubeconfig and streams its output through `options.write`. */
  static async start(options: OperatorOptions): Promise<OperatorProcess> {
    const spawned = await spawnOperator({
      args: ["--kubeconfig", options.kubeconfigPath, "--operator-namespace", options.operatorNamespace],
      cwd: REPO_ROOT,
      env: { ...process.env, POD_NAMESPACE: "" },
    });
    for (const stream of [spawned.child.stdout!, spawned.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => options.write(formatLogLine(line)));
    }
    return new OperatorProcess(spawned);
  }

  /** Resolves when the process has exited, however that happened. */
  get exited(): Promise<Exit> {
    return this.spawned.exited;
  }

  /** "http://127.0.0.1:<port>", serving /healthz and /readyz. */
  get healthProbeUrl(): string {
    return this.spawned.healthProbeUrl;
  }

  /** "http://127.0.0.1:<port>/metrics" */
  get metricsUrl(): string {
    return `${this.spawned.metricsUrl}/metrics`;
  }

  /** The operating system's process id. */
  get pid(): number {
    return this.spawned.child.pid!;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Waits until /readyz answers 200 (every controller's cache synced); fails when the process exits or `signal` aborts first. */
  async waitUntilReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string;
    for (;;) {
      signal?.throwIfAborted();
      if (this.exit)
        throw new Error(`the operator exited (${describeExit(this.exit)}) before it was ready; see its log above`);
      try {
        const res = await fetch(`${this.healthProbeUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
        last = `${res.status} ${(await res.text()).trim()}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `the operator was not ready within ${timeoutMs / 1000} s (/readyz: ${last}); see its log above`,
        );
      }
      await sleep(250, undefined, { signal });
    }
  }

  /** True once stop() was called: an exit after that is no crash. */
  get stopRequested(): boolean {
    return this.stopping;
  }

  /** Sends SIGTERM (a graceful stop), then SIGKILL after a grace period, and waits for the exit. */
  async stop(graceMs = STOP_GRACE_MS): Promise<Exit> {
    this.stopping = true;
    if (this.exit) return this.exit;
    this.spawned.child.kill("SIGTERM");
    const timer = new AbortController();
    void sleep(graceMs, undefined, { signal: timer.signal }).then(
      () => this.spawned.child.kill("SIGKILL"),
      () => undefined,
    );
    const exit = await this.exited;
    timer.abort();
    return exit;
  }
}
