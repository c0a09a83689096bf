/**
 * The one path from a PostgresDatabase to its instance, for both controllers: the reference
 * (instanceKeyOf), the databases that reference an instance (databasesReferencing), the access
 * decision (mayUse), and the instance with its connection key and details (resolveInstance).
 * The instance objects come from the watch caches (for their annotations), the usable
 * connection details from the instance controllers' directory.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import type { IndexFunc, ReadonlyStore } from "../../runtime/cache.js";
import type { ConditionInput } from "../../runtime/conditions.js";
import type { ObjectKey } from "../../runtime/resource-kind.js";
import {
  ALLOWED_NAMESPACES_ANNOTATION,
  mayUseInstance,
  type AccessDecision,
  type ClusterInstanceDefault,
} from "../../services/access/allowed-namespaces.js";
import { instanceKeyString, type InstanceKey } from "../../services/postgres/instance-key.js";
import { DATABASE_CONNECTED_MESSAGE, DatabaseCondition, DatabaseReason } from "../constants.js";
import type { InstanceDirectory, UsableInstance } from "./instance-directory.js";

/** Where the resolution looks things up. */
export interface InstanceSources {
  readonly instances: ReadonlyStore<KubernetesObject>;
  readonly clusterInstances: ReadonlyStore<KubernetesObject>;
  readonly directory: InstanceDirectory;
  readonly clusterInstanceDefault: ClusterInstanceDefault;
}

/**
 * The outcome: usable (with the conditions saying so), or why not, as conditions and an Event
 * message. `allowed`: the instance exists and this namespace may use it (usable or not yet).
 */
export type Resolution =
  | {
      readonly usable: true;
      readonly allowed: true;
      readonly instance: UsableInstance;
      readonly conditions: readonly ConditionInput[];
    }
  | {
      readonly usable: false;
      readonly allowed: boolean;
      readonly conditions: readonly ConditionInput[];
      readonly message: string;
    };

/**
 * The key of the instance a database references (instanceRef's namespace defaults to the
 * database's); undefined when it references none (which the CRD does not let happen).
 */
export function instanceKeyOf(db: PostgresDatabase): InstanceKey | undefined {
  const { clusterInstanceRef, instanceRef } = db.spec ?? {};
  if (clusterInstanceRef) return { kind: "PostgresClusterInstance", name: clusterInstanceRef.name };
  if (!instanceRef) return undefined;
  return {
    kind: "PostgresInstance",
    namespace: instanceRef.namespace ?? db.metadata?.namespace ?? "",
    name: instanceRef.name,
  };
}

/** The key of the instance a database references; throws when it references none. */
export function requireInstanceKey(db: PostgresDatabase): InstanceKey {
  const key = instanceKeyOf(db);
  if (!key) throw new Error("spec has neither instanceRef nor clusterInstanceRef: set one of them");
  return key;
}

/** The instance key of an object of either instance kind. */
export function instanceKeyFor(kind: InstanceKey["kind"], key: ObjectKey): InstanceKey {
  return kind === "PostgresInstance"
    ? { kind, namespace: key.namespace ?? "", name: key.name }
    : { kind, name: key.name };
}

/** The object key (namespace and name) an instance key names. */
export function objectKeyOf(key: InstanceKey): ObjectKey {
  return key.kind === "PostgresInstance" ? { namespace: key.namespace, name: key.name } : { name: key.name };
}

/** The name of the PostgresDatabase cache's index by the instance each database references. */
export const BY_INSTANCE = "instance";

/** The key function of BY_INSTANCE: the referenced instance's instanceKeyString; none without a reference. */
export const referencedInstance: IndexFunc = (obj) => {
  const key = instanceKeyOf(obj as PostgresDatabase);
  return key ? [instanceKeyString(key)] : [];
};

/** The indexes every PostgresDatabase watch declares (WatchSource.indexes), for databasesReferencing. */
export const DATABASE_INDEXES = { [BY_INSTANCE]: referencedInstance } as const;

/**
 * The databases in `databases` that reference the instance `key`: the one "databases by
 * instance" lookup, read from the BY_INSTANCE index (the store must have DATABASE_INDEXES).
 */
export function databasesReferencing(databases: ReadonlyStore<PostgresDatabase>, key: InstanceKey): PostgresDatabase[] {
  return databases.byIndex(BY_INSTANCE, instanceKeyString(key));
}

/** Whether a PostgresDatabase in `namespace` may use the instance (its allowed-namespaces annotation, or the default). */
export function mayUse(
  key: InstanceKey,
  instance: KubernetesObject,
  namespace: string,
  clusterInstanceDefault: ClusterInstanceDefault,
): AccessDecision {
  return mayUseInstance({
    instanceKind: key.kind,
    ...(key.kind === "PostgresInstance" ? { instanceNamespace: key.namespace } : {}),
    annotation: instance.metadata?.annotations?.[ALLOWED_NAMESPACES_ANNOTATION],
    namespace,
    clusterInstanceDefault,
  });
}

/** The instance object the key names, from the watch caches. */
export function instanceObject(sources: InstanceSources, key: InstanceKey): KubernetesObject | undefined {
  return key.kind === "PostgresInstance"
    ? sources.instances.get({ namespace: key.namespace, name: key.name })
    : sources.clusterInstances.get({ name: key.name });
}

/** Finds the instance, checks this namespace may use it, and takes its details from the directory. */
export function resolveInstance(db: PostgresDatabase, sources: InstanceSources): Resolution {
  const key = requireInstanceKey(db);
  const label = describeInstance(key);
  const instance = instanceObject(sources, key);
  if (!instance) {
    return notUsable(DatabaseReason.InstanceNotFound, `${label} was not found; create it or fix the reference`);
  }
  const namespace = db.metadata.namespace ?? "";
  const access = mayUse(key, instance, namespace, sources.clusterInstanceDefault);
  const accessCondition = (status: "True" | "False", reason: string, message: string): ConditionInput[] =>
    key.kind === "PostgresClusterInstance"
      ? [{ type: DatabaseCondition.ClusterInstanceAccess, status, reason, message }]
      : [];
  if (!access.allowed) {
    const message = `${label} may not be used from namespace "${namespace}": ${access.message}`;
    return notUsable(
      DatabaseReason.InstanceNotAllowed,
      message,
      accessCondition("False", DatabaseReason.InstanceNotAllowed, message),
    );
  }
  const granted = accessCondition("True", DatabaseReason.AccessGranted, `Namespace "${namespace}" may use ${label}.`);
  const usable = sources.directory.get(key);
  if (!usable) {
    return {
      ...notUsable(DatabaseReason.InstanceNotReady, `${label} is not Ready; waiting for it`, granted),
      allowed: true,
    };
  }
  const connected = {
    type: DatabaseCondition.Connection,
    status: "True",
    reason: DatabaseReason.Connected,
    message: DATABASE_CONNECTED_MESSAGE,
  } as const;
  return { usable: true, allowed: true, instance: usable, conditions: [...granted, connected] };
}

/** How messages name an instance: its kind and key. */
export function describeInstance(key: InstanceKey): string {
  return key.kind === "PostgresInstance"
    ? `PostgresInstance "${key.namespace}/${key.name}"`
    : `PostgresClusterInstance "${key.name}"`;
}

function notUsable(
  reason: string,
  message: string,
  extra: readonly ConditionInput[] = [],
): Resolution & { usable: false } {
  return {
    usable: false,
    allowed: false,
    message,
    conditions: [...extra, { type: DatabaseCondition.Connection, status: "False", reason, message }],
  };
}
