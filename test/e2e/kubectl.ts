import type { ControlPlane } from "../harness/control-plane.js";

/** Options of one kubectl run: stdin, and the identity to run as (admin unless a kubeconfig is given). */
export interface KubectlOptions {
  readonly input?: string;
  readonly kubeconfig?: string;
}

/** Runs kubectl and returns its stdout; throws with its stderr when it exits non-zero. */
export async function kubectl(cp: ControlPlane, args: readonly string[], opts: KubectlOptions = {}): Promise<string> {
  const result = await cp.kubectl(args, opts);
  if (result.code !== 0) {
    throw new Error(`while running kubectl ${args.join(" ")} (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Reads objects with `kubectl get -o json` and returns the parsed JSON. */
export async function getJson<T>(cp: ControlPlane, args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl(cp, ["get", ...args, "-o", "json"])) as T;
}

/** Waits with `kubectl wait` until the condition holds; throws with kubectl's message when it does not in time. */
export async function waitFor(
  cp: ControlPlane,
  resource: string,
  condition: string,
  opts: { namespace?: string; timeoutSeconds?: number } = {},
): Promise<void> {
  const namespace = opts.namespace === undefined ? [] : ["-n", opts.namespace];
  await kubectl(cp, ["wait", resource, ...namespace, `--for=${condition}`, `--timeout=${opts.timeoutSeconds ?? 60}s`]);
}
