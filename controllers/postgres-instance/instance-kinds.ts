import type { PostgresClusterInstance, PostgresDatabase, PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import type { ObjectKey, ResourceKind } from "../../runtime/resource-kind.js";
import {
  ALLOWED_NAMESPACES_ANNOTATION,
  mayUseInstance,
  type ClusterInstanceDefault,
} from "../../services/access/allowed-namespaces.js";
import type { InstanceKey } from "../../services/postgres/connections.js";

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
  /** The key of the instance a PostgresDatabase references, if it references one of this kind. */
  referencedBy(database: PostgresDatabase): ObjectKey | undefined;
  /** Who may use the instance when it has no allowed-namespaces annotation, in words. */
  defaultAccess(instance: T): string;
  /** Whether a PostgresDatabase in `namespace` may use the instance (its annotation, or the default). */
  admits(instance: T, namespace: string): boolean;
}

/** PostgresInstance: its Secret and, by default, its users live in its own namespace. */
export const namespacedInstance: InstanceKindAdapter<PostgresInstance> = {
  controllerName: "postgresinstance",
  kind: PostgresInstanceKind,
  instanceKey: (key) => ({ kind: "PostgresInstance", namespace: key.namespace ?? "", name: key.name }),
  secretNamespace: (instance) => instance.metadata.namespace ?? "",
  referencedBy: (database) => {
    const ref = database.spec?.instanceRef;
    const namespace = ref?.namespace ?? database.metadata?.namespace;
    return ref && namespace ? { namespace, name: ref.name } : undefined;
  },
  defaultAccess: (instance) => `only namespace "${instance.metadata.namespace ?? ""}"`,
  admits: (instance, namespace) =>
    mayUseInstance({
      instanceKind: "PostgresInstance",
      instanceNamespace: instance.metadata.namespace ?? "",
      annotation: instance.metadata.annotations?.[ALLOWED_NAMESPACES_ANNOTATION],
      namespace,
      clusterInstanceDefault: "none",
    }).allowed,
};

/** PostgresClusterInstance: its Secret lives in the operator's namespace; no annotation means the operator's default. */
export function clusterInstance(
  operatorNamespace: string,
  accessDefault: ClusterInstanceDefault,
): InstanceKindAdapter<PostgresClusterInstance> {
  return {
    controllerName: "postgresclusterinstance",
    kind: PostgresClusterInstanceKind,
    instanceKey: (key) => ({ kind: "PostgresClusterInstance", name: key.name }),
    secretNamespace: () => operatorNamespace,
    secretFieldSelector: `metadata.namespace=${operatorNamespace}`,
    referencedBy: (database) => {
      const ref = database.spec?.clusterInstanceRef;
      return ref ? { name: ref.name } : undefined;
    },
    defaultAccess: () => (accessDefault === "all" ? "every namespace" : "no namespace"),
    admits: (instance, namespace) =>
      mayUseInstance({
        instanceKind: "PostgresClusterInstance",
        annotation: instance.metadata.annotations?.[ALLOWED_NAMESPACES_ANNOTATION],
        namespace,
        clusterInstanceDefault: accessDefault,
      }).allowed,
  };
}
