import type { KubernetesObject } from "@kubernetes/client-node";
import { errorMessage, isConflict, isNotFound, type ReconcileResult } from "./errors.js";
import type { KubeClient } from "./kube-client.js";
import { keyOf, keyString, type ObjectKey, type ResourceKind } from "./resource-kind.js";
import { finalizersCut } from "./slim-object.js";

/** True when `obj` lists `finalizer`. */
export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** What the finalizer step does with the finalizer of an object. */
export type FinalizerPolicy =
  /** Adds it when missing (the default); once the object is being deleted, cleans up and removes it. */
  | "ensure"
  /** Adds none, but one already there is handled as with "ensure" (e.g. the object may not hold anything yet). */
  | "keep"
  /** Removes it without a clean-up, also while the object is being deleted (e.g. nothing outside is to be cleaned up). */
  | "release";

/** A clean-up's verdict: "done" lets the finalizer go; anything else keeps it and is the reconcile's result. */
export type CleanUpResult = "done" | ReconcileResult;

/** How a controller's finalizer is handled. */
export interface FinalizerSteps<T extends KubernetesObject> {
  /** Default "ensure". */
  readonly policy?: FinalizerPolicy;
  /** Runs right after the finalizer was added (e.g. a fault point of a crash test). */
  readonly added?: (obj: T) => Promise<void>;
  /** Cleans up for an object being deleted that carries the finalizer; a throw keeps the finalizer (and is retried). */
  readonly cleanUp: (obj: T) => Promise<CleanUpResult>;
}

/**
 * Where the reconcile goes after the finalizer step: on, with the object as stored now; or it
 * ends with `result` (the object is being deleted or gone). `released`: the step has just
 * removed the finalizer after a clean-up.
 */
export type FinalizerStep<T> =
  | { readonly proceed: true; readonly object: T }
  | { readonly proceed: false; readonly result: ReconcileResult; readonly released: boolean };

/**
 * The finalizer step of a reconcile, the same for every controller. Not deleting: adds
 * `finalizer` when the policy is "ensure" and it is missing. Deleting (`deletionTimestamp` set)
 * with the finalizer present: runs `cleanUp`, and removes the finalizer when it says "done",
 * so the API server can delete the object. The "release" policy removes the finalizer
 * without a clean-up. Every write is a conditional patch (409 → re-read).
 */
export async function handleFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  finalizer: string,
  steps: FinalizerSteps<T>,
): Promise<FinalizerStep<T>> {
  const policy = steps.policy ?? "ensure";
  if (policy === "release" && hasFinalizer(obj, finalizer)) {
    const object = await removeFinalizer(client, kind, obj, finalizer);
    return object && !object.metadata?.deletionTimestamp ? proceed(object) : stop(undefined);
  }
  if (obj.metadata?.deletionTimestamp) {
    if (!hasFinalizer(obj, finalizer)) return stop(undefined);
    const outcome = await steps.cleanUp(obj);
    if (outcome !== "done") return stop(outcome);
    await removeFinalizer(client, kind, obj, finalizer);
    return stop(undefined, true);
  }
  if (policy !== "ensure" || hasFinalizer(obj, finalizer)) return proceed(obj);
  const added = await addFinalizer(client, kind, obj, finalizer);
  if (!added) return stop(undefined);
  await steps.added?.(added);
  return proceed(added);
}

function proceed<T>(object: T): FinalizerStep<T> {
  return { proceed: true, object };
}

function stop<T>(result: ReconcileResult, released = false): FinalizerStep<T> {
  return { proceed: false, result, released };
}

/** Adds `finalizer` with a conditional patch; returns the stored object, or undefined if it is gone. */
export function addFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  finalizer: string,
): Promise<T | undefined> {
  return patchFinalizers(client, kind, obj, `adding finalizer "${finalizer}"`, (list) =>
    list.includes(finalizer) ? undefined : [...list, finalizer],
  );
}

/** Removes `finalizer` with a conditional patch; returns the stored object, or undefined if it is gone. */
export function removeFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  finalizer: string,
): Promise<T | undefined> {
  return patchFinalizers(client, kind, obj, `removing finalizer "${finalizer}"`, (list) =>
    list.includes(finalizer) ? list.filter((entry) => entry !== finalizer) : undefined,
  );
}

/** Attempts before a conflict is returned to the caller (whose reconcile is then retried), like client-go's RetryOnConflict. */
const MAX_ATTEMPTS = 5;

/**
 * Writes the finalizer list `change` makes of the current one, as a merge patch carrying the
 * resourceVersion it was computed from, so a concurrent writer's finalizer is never lost:
 * on 409 Conflict the object is read again and the change recomputed.
 */
async function patchFinalizers<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  doing: string,
  change: (finalizers: readonly string[]) => string[] | undefined,
): Promise<T | undefined> {
  const key = keyOf(obj);
  let current = obj;
  for (let attempt = 1; ; attempt++) {
    const finalizers = change(current.metadata?.finalizers ?? []);
    if (!finalizers) return current;
    if (finalizersCut(current)) {
      // A cache's slim copy holds only some of a long list: compute the list written from the whole one.
      const whole = await read<T>(client, kind, key, doing);
      if (!whole) return undefined;
      current = whole;
      continue;
    }
    const patch = { metadata: { resourceVersion: current.metadata?.resourceVersion, finalizers } };
    try {
      return await client.patch<T>(kind, key, patch);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (!isConflict(err) || attempt >= MAX_ATTEMPTS) {
        throw new Error(`while ${doing} to ${kind.kind} "${keyString(key)}": ${errorMessage(err)}`, { cause: err });
      }
    }
    const stored = await read<T>(client, kind, key, doing);
    if (!stored) return undefined;
    current = stored;
  }
}

/** The object as stored now; undefined when it is gone. */
async function read<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  key: ObjectKey,
  doing: string,
): Promise<T | undefined> {
  try {
    return await client.get<T>(kind, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new Error(`while ${doing} to ${kind.kind} "${keyString(key)}": ${errorMessage(err)}`, { cause: err });
  }
}
