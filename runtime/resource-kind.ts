import type { KubernetesObject } from "@kubernetes/client-node";

/** Describes one API resource: enough to build its REST paths and to stamp apiVersion/kind on objects. */
export interface ResourceKind {
  /** API group; "" for the core group (ConfigMap, Secret, Event). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Lower-case plural used in URLs, e.g. "configmaps". */
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Identifies one object; `namespace` is absent for cluster-scoped kinds. */
export interface ObjectKey {
  readonly namespace?: string;
  readonly name: string;
}

/** The `apiVersion` string of a kind: "v1" for the core group, else "group/version". */
export function apiVersionOf(kind: ResourceKind): string {
  return kind.group === "" ? kind.version : `${kind.group}/${kind.version}`;
}

/** The path of a kind's collection, in one namespace or (no namespace) across the cluster. */
export function collectionPath(kind: ResourceKind, namespace?: string): string {
  const root = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  const scope = kind.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${root}${scope}/${kind.plural}`;
}

/** The path of one object, optionally of one of its subresources such as "status". */
export function objectPath(kind: ResourceKind, key: ObjectKey, subresource?: string): string {
  if (kind.namespaced && !key.namespace) {
    throw new Error(`${kind.kind} "${key.name}" is namespaced: give its namespace`);
  }
  const path = `${collectionPath(kind, key.namespace)}/${encodeURIComponent(key.name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

/** The key of an object, from its metadata. */
export function keyOf(obj: KubernetesObject): ObjectKey {
  const name = obj.metadata?.name;
  if (!name) throw new Error(`object of kind ${obj.kind ?? "unknown"} has no metadata.name`);
  const namespace = obj.metadata?.namespace;
  return namespace ? { namespace, name } : { name };
}

/** The string form of a key: "namespace/name", or "name" when cluster-scoped (like client-go). */
export function keyString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

/** Parses "namespace/name" or "name" back into a key. */
export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** True when `obj` is of `kind` (by apiVersion and kind). */
export function isOfKind(obj: KubernetesObject, kind: ResourceKind): boolean {
  return obj.kind === kind.kind && obj.apiVersion === apiVersionOf(kind);
}

/** core/v1 ConfigMap. */
export const configMapKind: ResourceKind = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
};

/** core/v1 Secret. */
export const secretKind: ResourceKind = {
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  namespaced: true,
};

/** core/v1 Event (the kind `kubectl describe` shows). */
export const eventKind: ResourceKind = { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true };

/** core/v1 Namespace. */
export const namespaceKind: ResourceKind = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
};
