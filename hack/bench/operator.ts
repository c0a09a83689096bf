/** The compiled operator as its own process, with its CPU time, memory and metrics at hand. */
import path from "node:path";
import { eventually } from "../../test/support/eventually.js";
import { imageNodeFlags } from "../../test/harness/image-entrypoint.js";
import { type SpawnedOperator, spawnOperator } from "../../test/harness/operator-process.js";
import type { OperatorDeployment } from "../../test/e2e/operator-process.js";
import { cpuSeconds, memory } from "./proc.js";

/** How to run one operator process. */
export interface OperatorOptions {
  /** The compiled entrypoint, e.g. dist/cmd/main.js. */
  readonly main: string;
  /** Flags after the Deployment's (a later flag wins). */
  readonly extraArgs: readonly string[];
  /** When set, node writes a CPU profile (--cpu-prof) into this directory on exit. */
  readonly profileDir?: string;
}

/** One running operator process. */
export class BenchOperator {
  private output = "";

  private constructor(private readonly spawned: SpawnedOperator) {
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-200_000));
    spawned.child.stdout!.on("data", keep);
    spawned.child.stderr!.on("data", keep);
  }

  /**
   * Starts the operator as the image and the Deployment run it (node's flags from the
   * Dockerfile's ENTRYPOINT), under its ServiceAccount, and waits for /readyz.
   */
  static async start(deployment: OperatorDeployment, options: OperatorOptions): Promise<BenchOperator> {
    const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
    return BenchOperator.whenReady(
      await spawnOperator({
        entrypoint: [...nodeFlagsOfTree(options.main), ...profile, options.main],
        args: [...deployment.args, ...options.extraArgs, `--kubeconfig=${deployment.kubeconfigPath}`],
        cwd: process.cwd(),
        env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAMESPACE: deployment.namespace },
      }),
    );
  }

  /**
   * Starts another operator's executable (the Go peer) with `args` and only `env` besides PATH and
   * HOME, its probes and metrics on free loopback ports (--health-probe-bind-address and
   * --metrics-bind-address, as controller-runtime's scaffold names them), and waits for /readyz.
   */
  static async startExecutable(
    executable: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Promise<BenchOperator> {
    return BenchOperator.whenReady(
      await spawnOperator({
        command: executable,
        entrypoint: [],
        args,
        cwd: process.cwd(),
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      }),
    );
  }

  private static async whenReady(spawned: SpawnedOperator): Promise<BenchOperator> {
    const operator = new BenchOperator(spawned);
    await eventually(async () => {
      if (spawned.child.exitCode !== null)
        throw new Error(`the operator exited before it was ready:\n${operator.output}`);
      const response = await fetch(`${spawned.healthProbeUrl}/readyz`);
      if (response.status !== 200) throw new Error(`the operator's /readyz answered ${response.status}`);
    }, 120_000);
    return operator;
  }

  get pid(): number {
    return this.spawned.child.pid!;
  }

  /** The last 200 kB the process wrote to stdout and stderr. */
  get logs(): string {
    return this.output;
  }

  /** CPU seconds used so far (user + system). */
  async cpuSeconds(): Promise<number> {
    return cpuSeconds(this.pid);
  }

  /** Resident memory now and its peak so far, in bytes. */
  async memory(): Promise<{ rss: number; peak: number }> {
    return memory(this.pid);
  }

  /** The sum of a counter of /metrics over the series whose labels contain every `labels` pair. */
  async counter(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const text = await (await fetch(`${this.spawned.metricsUrl}/metrics`)).text();
    let sum = 0;
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm"))) {
      const series = match[1] ?? "";
      if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) sum += Number(match[2]);
    }
    return sum;
  }

  /** SIGTERM, then waits for the exit (and so for the CPU profile, if one was asked for). */
  async stop(): Promise<void> {
    if (this.spawned.child.exitCode === null) this.spawned.child.kill("SIGTERM");
    const exit = await this.spawned.exited;
    if (exit.code !== 0)
      throw new Error(`the operator exited with ${exit.code ?? exit.signal} on SIGTERM:\n${this.output.slice(-5000)}`);
  }
}

/** node's flags of the image built from the tree `main` was compiled from (`<tree>/dist/cmd/main.js`); none without a Dockerfile. */
function nodeFlagsOfTree(main: string): string[] {
  return imageNodeFlags(path.resolve(path.dirname(main), "..", "..", "Dockerfile"));
}
