import type { KubernetesObject } from "@kubernetes/client-node";
import { errorMessage, isConflict, isNotFound } from "./errors.js";
import type { KubeClient } from "./kube-client.js";
import { keyOf, keyString, type ResourceKind } from "./resource-kind.js";

/** What `handleFinalizer` found: whether the object is being deleted, and the object as stored now. */
export interface FinalizerResult<T> {
  /** True when `deletionTimestamp` is set: the caller's reconcile should stop here. */
  readonly deleting: boolean;
  /** The latest object (after adding the finalizer, it carries the new resourceVersion). */
  readonly object: T;
}

/** True when `obj` lists `finalizer`. */
export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/**
 * The finalizer step of a reconcile. Not deleting: adds `finalizer` when missing. Deleting
 * (`deletionTimestamp` set) and the finalizer present: runs `cleanup`, then removes the
 * finalizer so the API server can delete the object; a throwing `cleanup` keeps the
 * finalizer (the error propagates and the key is retried).
 */
export async function handleFinalizer<T extends KubernetesObject>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  finalizer: string,
  cleanup: (obj: T) => Promise<void>,
): Promise<FinalizerResult<T>> {
  if (!obj.metadata?.deletionTimestamp) {
    const object = hasFinalizer(obj, finalizer) ? obj : ((await addFinalizer(client, kind, obj, finalizer)) ?? obj);
    return { deleting: false, object };
  }
  if (!hasFinalizer(obj, finalizer)) return { deleting: true, object: obj };
  await cleanup(obj);
  const object = (await removeFinalizer(client, kind, obj, finalizer)) ?? obj;
  return { deleting: true, object };
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
    const patch = { metadata: { resourceVersion: current.metadata?.resourceVersion, finalizers } };
    try {
      return await client.patch<T>(kind, key, patch);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (!isConflict(err) || attempt >= MAX_ATTEMPTS) {
        throw new Error(`while ${doing} to ${kind.kind} "${keyString(key)}": ${errorMessage(err)}`, { cause: err });
      }
    }
    try {
      current = await client.get<T>(kind, key);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`while ${doing} to ${kind.kind} "${keyString(key)}": ${errorMessage(err)}`, { cause: err });
    }
  }
}
