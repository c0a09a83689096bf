import type { KubernetesObject, V1OwnerReference } from "@kubernetes/client-node";

/**
 * The ownerReference that makes `owner` the controller of a child: the garbage collector
 * deletes the child with its owner, and the owner's controller is told of the child's changes.
 */
export function controllerReference(owner: KubernetesObject): V1OwnerReference {
  const { apiVersion, kind } = owner;
  const { name, uid } = owner.metadata ?? {};
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error(
      `cannot reference ${kind ?? "an object"} "${name ?? ""}" as owner: it needs apiVersion, kind, metadata.name and metadata.uid (use the object as read from the API server)`,
    );
  }
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** The controller ownerReference of `obj`, if it has one. */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/** True when `owner` is the controller of `obj` (compared by uid). */
export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && controllerOf(obj)?.uid === uid;
}
