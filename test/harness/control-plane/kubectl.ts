import { spawn } from "node:child_process";

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Which kubectl to run, against which kubeconfig, with which discovery cache. */
export interface KubectlTarget {
  readonly binary: string;
  readonly kubeconfig: string;
  /** Keeps kubectl's discovery cache inside the run's temp dir rather than in ~/.kube. */
  readonly cacheDir: string;
}

/** Runs kubectl with `args`, optionally feeding `input` on stdin; resolves with its output whatever the exit code. */
export async function runKubectl(
  target: KubectlTarget,
  args: readonly string[],
  input?: string,
): Promise<KubectlResult> {
  const child = spawn(target.binary, [`--kubeconfig=${target.kubeconfig}`, `--cache-dir=${target.cacheDir}`, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  // kubectl may exit before reading stdin; that is its business, not an error here.
  child.stdin.on("error", () => undefined);
  child.stdin.end(input ?? "");
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`while running kubectl ${args.join(" ")}: ${err.message}`)));
    child.once("close", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  return { stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), code };
}
