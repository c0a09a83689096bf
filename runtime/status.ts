import type { KubernetesObject } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { errorMessage, isConflict } from "./errors.js";
import type { KubeClient } from "./kube-client.js";
import { mergePatchBetween, toJson } from "./merge-patch.js";
import { keyOf, type ResourceKind } from "./resource-kind.js";

/** A small change to a copy of `status`; it may read the object (e.g. its generation) but must not write it. */
export type StatusMutator<S, T extends KubernetesObject = KubernetesObject> = (status: S, obj: T) => void;

/** An object that has (or may get) a status. */
export type WithStatus = KubernetesObject & { status?: object };

/** The status type of an object type. */
export type StatusOf<T extends WithStatus> = NonNullable<T["status"]>;

/** Options of `updateStatus`. */
export interface UpdateStatusOptions {
  /** How many 409 Conflicts to absorb by re-reading the object; default 5. */
  readonly maxAttempts?: number;
  /** Called with the number of the attempt before each write (tests count API writes with it). */
  readonly onWrite?: (attempt: number) => void;
}

/**
 * Applies `mutators` to a copy of `obj.status`, sets `observedGeneration`, and when the
 * result differs from the current status, writes the difference to the `/status`
 * subresource as a merge patch carrying `metadata.resourceVersion` (optimistic lock). On
 * 409 Conflict it reads the object again and re-applies the mutators. When nothing
 * changed, nothing is written. Returns the object as stored afterwards.
 */
export async function updateStatus<T extends WithStatus>(
  client: KubeClient,
  kind: ResourceKind,
  obj: T,
  mutators: readonly StatusMutator<StatusOf<T>, T>[],
  options: UpdateStatusOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  const key = keyOf(obj);
  let current = obj;
  for (let attempt = 1; ; attempt++) {
    const before = toJson(current.status ?? {});
    const after = computeStatus(current, mutators);
    if (isDeepStrictEqual(before, after)) return current;
    const patch = {
      metadata: { resourceVersion: current.metadata?.resourceVersion },
      status: mergePatchBetween(before, after),
    };
    try {
      options.onWrite?.(attempt);
      return await client.patch<T>(kind, key, patch, { subresource: "status" });
    } catch (err) {
      if (!isConflict(err) || attempt >= maxAttempts) {
        throw new Error(`while updating the status of ${kind.kind} "${describeKey(obj)}": ${errorMessage(err)}`, {
          cause: err,
        });
      }
      current = await client.get<T>(kind, key);
    }
  }
}

/** The status `mutators` make of `obj.status`, with `observedGeneration` set, as plain JSON. */
export function computeStatus<T extends WithStatus>(
  obj: T,
  mutators: readonly StatusMutator<StatusOf<T>, T>[],
): StatusOf<T> {
  const status = structuredClone(toJson(obj.status ?? {})) as StatusOf<T>;
  for (const mutate of mutators) mutate(status, obj);
  const generation = obj.metadata?.generation;
  if (generation !== undefined) (status as { observedGeneration?: number }).observedGeneration = generation;
  return toJson(status);
}

function describeKey(obj: KubernetesObject): string {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name ?? ""}` : (name ?? "");
}
