import type { PostgresClusterInstance, PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { keyOf, type ObjectKey, type ResourceKind } from "../../runtime/resource-kind.js";
import type { ClusterInstanceDefault } from "../../services/access/allowed-namespaces.js";
import type { InstanceKey } from "../../services/postgres/instance-key.js";
import { instanceKeyFor, mayUse } from "../instances/resolution.js";

/** Either instance kind; both share spec and status. */
export type AnyInstance = PostgresInstance | PostgresClusterInstance;

/** What differs between PostgresInstance and PostgresClusterInstance, for the one controller serving both. */
export interface InstanceKindAdapter<T extends AnyInstance> {
  /** Controller name, e.g. "postgresinstance". */
  readonly controllerName: string;
  readonly kind: ResourceKind;
  /** The connection-registry and directory key of an object's key. */
  instanceKey(key: ObjectKey): InstanceKey;
  /** The namespace holding the instance's password Secret. */
  secretNamespace(instance: T): string;
  /** Narrows the Secret watch to where this kind's Secrets can be, when that is one namespace. */
  readonly secretFieldSelector?: string;
  /** Who may use the instance when it has no allowed-namespaces annotation, in words. */
  defaultAccess(instance: T): string;
  /** Whether a PostgresDatabase in `namespace` may use the instance (its annotation, or the default). */
  admits(instance: T, namespace: string): boolean;
}

/** PostgresInstance: its Secret and, by default, its users live in its own namespace. */
export const namespacedInstance: InstanceKindAdapter<PostgresInstance> = {
  controllerName: "postgresinstance",
  kind: PostgresInstanceKind,
  instanceKey: (key) => instanceKeyFor("PostgresInstance", key),
  secretNamespace: (instance) => instance.metadata.namespace ?? "",
  defaultAccess: (instance) => `only namespace "${instance.metadata.namespace ?? ""}"`,
  admits: (instance, namespace) =>
    mayUse(instanceKeyFor("PostgresInstance", keyOf(instance)), instance, namespace, "none").allowed,
};

/** PostgresClusterInstance: its Secret lives in the operator's namespace; no annotation means the operator's default. */
export function clusterInstance(
  operatorNamespace: string,
  accessDefault: ClusterInstanceDefault,
): InstanceKindAdapter<PostgresClusterInstance> {
  return {
    controllerName: "postgresclusterinstance",
    kind: PostgresClusterInstanceKind,
    instanceKey: (key) => instanceKeyFor("PostgresClusterInstance", key),
    secretNamespace: () => operatorNamespace,
    secretFieldSelector: `metadata.namespace=${operatorNamespace}`,
    defaultAccess: () => (accessDefault === "all" ? "every namespace" : "no namespace"),
    admits: (instance, namespace) =>
      mayUse(instanceKeyFor("PostgresClusterInstance", keyOf(instance)), instance, namespace, accessDefault).allowed,
  };
}
