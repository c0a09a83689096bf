/**
 * The operator's entrypoint as a child process, as `make dev`, the end-to-end tests and the
 * entrypoint tests run it: probes and metrics on free loopback ports, and killed at the end of
 * the run (stopAll) if it is still running then.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { onStop } from "./lifecycle.js";
import { freePort } from "./ports.js";

/** Runs the TypeScript sources through tsx; the image runs the compiled dist/cmd/main.js instead. */
export const SOURCE_ENTRYPOINT: readonly string[] = ["--import", "tsx", "cmd/main.ts"];

/** How an operator process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to run. */
export interface SpawnOptions {
  /** The program: default node (process.execPath); make bench runs its Go peer's binary (entrypoint []). */
  readonly command?: string;
  /** node's arguments before the flags: default SOURCE_ENTRYPOINT. */
  readonly entrypoint?: readonly string[];
  /** The operator's flags; the probe and metrics addresses are added after them (a later flag wins). */
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A started operator process. */
export interface SpawnedOperator {
  readonly child: ChildProcess;
  /** "http://127.0.0.1:<port>", serving /healthz and /readyz. */
  readonly healthProbeUrl: string;
  /** "http://127.0.0.1:<port>", serving /metrics. */
  readonly metricsUrl: string;
  /** Resolves when the process has exited, however that happened. */
  readonly exited: Promise<Exit>;
}

const running = new Set<ChildProcess>();
onStop(() => {
  for (const child of running) child.kill("SIGKILL");
  return Promise.resolve();
});

/** Starts the operator with stdout and stderr piped; resolves once the process has spawned. */
export async function spawnOperator(options: SpawnOptions): Promise<SpawnedOperator> {
  const probes = `127.0.0.1:${await freePort()}`;
  const metrics = `127.0.0.1:${await freePort()}`;
  const args = [...options.args, `--health-probe-bind-address=${probes}`, `--metrics-bind-address=${metrics}`];
  const child = spawn(options.command ?? process.execPath, [...(options.entrypoint ?? SOURCE_ENTRYPOINT), ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new Error(`while starting the operator: ${err.message}`)));
  });
  return { child, healthProbeUrl: `http://${probes}`, metricsUrl: `http://${metrics}`, exited };
}

/** "exit code 1" or "signal SIGKILL". */
export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
