/**
 * Event filters (controller-runtime's predicates): which changes of a watched object enqueue a
 * reconcile. A controller's own writes (a finalizer, its status, the Secrets it creates) come
 * back as watch events; letting them all through reconciles every object twice.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";

/** Which events of a watched kind enqueue; a missing hook lets every such event through. */
export interface EventFilter<O extends KubernetesObject = KubernetesObject> {
  readonly add?: (obj: O) => boolean;
  readonly update?: (oldObj: O, newObj: O) => boolean;
  readonly delete?: (obj: O) => boolean;
}

/**
 * Updates pass when the spec (metadata.generation), the labels, the annotations or the
 * deletionTimestamp changed; not for status, finalizer or resourceVersion-only writes
 * (GenerationChangedPredicate or LabelChangedPredicate or AnnotationChangedPredicate). On a
 * cache's slim copies (slim-object.ts), the digest annotation stands for what was dropped.
 */
export const specOrMetadataChanged: EventFilter = {
  update: (oldObj, newObj) => {
    const before = oldObj.metadata ?? {};
    const after = newObj.metadata ?? {};
    return (
      before.generation !== after.generation ||
      before.deletionTimestamp !== after.deletionTimestamp ||
      !isDeepStrictEqual(before.labels ?? {}, after.labels ?? {}) ||
      !isDeepStrictEqual(before.annotations ?? {}, after.annotations ?? {})
    );
  },
};

/** True when `filter` lets the event through. */
export function passes<O extends KubernetesObject>(
  filter: EventFilter<O> | undefined,
  event:
    | { readonly type: "add" | "delete"; readonly obj: O }
    | { readonly type: "update"; readonly oldObj: O; readonly obj: O },
): boolean {
  if (!filter) return true;
  if (event.type === "update") return filter.update?.(event.oldObj, event.obj) ?? true;
  return filter[event.type]?.(event.obj) ?? true;
}
