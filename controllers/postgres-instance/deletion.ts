import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import type { ReadonlyStore } from "../../runtime/cache.js";
import { READY, type ConditionInput } from "../../runtime/conditions.js";
import { hasFinalizer } from "../../runtime/finalizers.js";
import { keyOf, keyString, type ObjectKey } from "../../runtime/resource-kind.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { FINALIZER, InstanceReason } from "../constants.js";
import type { InstanceDirectory } from "../instances/instance-directory.js";
import { databasesReferencing } from "../instances/resolution.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/**
 * The PostgresDatabases ("namespace/name", sorted) that still need the instance: those that
 * reference it from a namespace it admits and are not being deleted, and those being deleted
 * that still carry Kompost's finalizer, since dropping their database on the server needs this
 * instance. Access first: a database the instance does not admit counts only when Kompost
 * provisioned it while it was admitted (it has objects on the server to drop), so a reference
 * (or a finalizer its author wrote) from any other namespace cannot pin the instance.
 */
export function dependentDatabases<T extends AnyInstance>(
  databases: ReadonlyStore<PostgresDatabase>,
  adapter: InstanceKindAdapter<T>,
  instance: T,
): string[] {
  return databasesReferencing(databases, adapter.instanceKey(keyOf(instance)))
    .filter((database) => adapter.admits(instance, database.metadata?.namespace ?? "") || provisioned(database))
    .filter((database) => !database.metadata?.deletionTimestamp || hasFinalizer(database, FINALIZER))
    .map((database) => keyString(keyOf(database)))
    .sort();
}

/**
 * Kompost provisioned the database (it names it in status, which only the operator may write)
 * and its finalizer will drop what it created.
 */
function provisioned(database: PostgresDatabase): boolean {
  return hasFinalizer(database, FINALIZER) && database.status?.sql_db_name !== undefined;
}

/** The `Ready` condition of an instance whose deletion waits for these databases. */
export function deletionBlockedCondition(databases: readonly string[]): ConditionInput {
  const count = databases.length === 1 ? "1 PostgresDatabase" : `${databases.length} PostgresDatabases`;
  return {
    type: READY,
    status: "False",
    reason: InstanceReason.DeletionBlocked,
    message: `Deletion is waiting for ${count} to be deleted: ${listed(databases)}`,
  };
}

/** Lets go of everything the process holds for an instance: the directory entry and the connection pool. */
export async function releaseInstance<T extends AnyInstance>(
  directory: InstanceDirectory,
  registry: ConnectionRegistry,
  adapter: InstanceKindAdapter<T>,
  key: ObjectKey,
): Promise<void> {
  const instanceKey = adapter.instanceKey(key);
  directory.withdraw(instanceKey);
  await registry.close(instanceKey);
}

/** How many names a message lists before it says how many more there are. */
const MAX_LISTED = 10;

function listed(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(", ");
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}
