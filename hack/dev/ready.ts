/** Waits for a Kompost resource to report Ready, and says why when it does not. */
import { setTimeout as sleep } from "node:timers/promises";
import { describeRef, type ResourceRef } from "./samples.js";

/** What running kubectl returned; kubectl never throws on a non-zero exit. */
export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs kubectl against the dev control plane. */
export type Kubectl = (args: readonly string[], opts?: { input?: string }) => Promise<KubectlResult>;

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** The parts of a Kompost resource that say whether it is Ready. */
export interface ObservedResource {
  readonly metadata: { readonly generation?: number };
  readonly status?: { readonly observedGeneration?: number; readonly conditions?: readonly Condition[] };
}

/** True when the Ready condition is True for the resource's current generation. */
export function isReady(resource: ObservedResource): boolean {
  const ready = resource.status?.conditions?.find((c) => c.type === "Ready");
  const observed = resource.status?.observedGeneration;
  const current = observed === undefined || observed === resource.metadata.generation;
  return ready?.status === "True" && current;
}

/** Why `ref` is not Ready after `timeoutMs`: its conditions, or what their absence means. */
export function notReadyMessage(ref: ResourceRef, resource: ObservedResource | undefined, timeoutMs: number): string {
  const head = `${describeRef(ref)} did not become Ready within ${Math.round(timeoutMs / 1000)} s`;
  if (!resource) return `${head}: it does not exist (was it applied?).`;
  const conditions = resource.status?.conditions ?? [];
  if (conditions.length === 0) {
    return (
      `${head}: it has no status conditions, so no controller has reconciled it. ` +
      `Is the ${ref.kind} controller registered in createControllers (controllers/index.ts)? ` +
      "The operator's log above lists the controllers it started."
    );
  }
  const listed = conditions.map((c) => {
    const why = [c.reason, c.message].filter(Boolean).join(": ");
    return `  ${c.type}=${c.status}${why ? ` (${why})` : ""}`;
  });
  const stale =
    resource.status?.observedGeneration !== undefined &&
    resource.status.observedGeneration !== resource.metadata.generation
      ? ` (observedGeneration ${resource.status.observedGeneration} is behind generation ${resource.metadata.generation})`
      : "";
  return `${head}; its conditions${stale}:\n${listed.join("\n")}`;
}

/** Polls `kubectl get` until `ref` is Ready; fails after `timeoutMs` with notReadyMessage, or when `signal` aborts. */
export async function waitUntilReady(
  kubectl: Kubectl,
  ref: ResourceRef,
  timeoutMs: number,
  signal?: AbortSignal,
  pollMs = 1000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const resource = await getResource(kubectl, ref);
    if (resource && isReady(resource)) return;
    if (Date.now() >= deadline) throw new Error(notReadyMessage(ref, resource, timeoutMs));
    await sleep(pollMs, undefined, { signal });
  }
}

async function getResource(kubectl: Kubectl, ref: ResourceRef): Promise<ObservedResource | undefined> {
  const args = ["get", ref.resource, ref.name, "-o", "json", ...(ref.namespace ? ["-n", ref.namespace] : [])];
  const result = await kubectl(args);
  if (result.code !== 0) {
    if (result.stderr.includes("NotFound")) return undefined;
    throw new Error(`while reading ${describeRef(ref)} with kubectl: ${result.stderr.trim()}`);
  }
  return JSON.parse(result.stdout) as ObservedResource;
}
