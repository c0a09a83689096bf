/**
 * The finalizer's clean-up: drop the database (ending its sessions) and both roles
 * on the server, only what carries this resource's marker. While the instance or
 * its server cannot be used, the deletion waits and says why; it is never lost.
 */
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import { UserFixableError } from "../../services/postgres/errors.js";
import { DatabaseCondition, DatabaseReason } from "../constants.js";
import { describeInstance, instanceObject, requireInstanceKey, type InstanceSources } from "../instances/resolution.js";
import { markerOf, namesOf } from "./naming.js";
import type { Report } from "./report.js";
import { TenantServer } from "./server.js";

/** Whether the finalizer may go: "done" (dropped, or nothing left to drop) or "waiting" (try again later). */
export type CleanupResult = "done" | "waiting";

/** Drops what this resource created on its server, or reports why it has to wait. */
export async function cleanUp(
  db: PostgresDatabase,
  sources: InstanceSources,
  registry: ConnectionRegistry,
  report: Report,
): Promise<CleanupResult> {
  const key = requireInstanceKey(db);
  const names = namesOf(db);
  const waiting = (why: string): CleanupResult => {
    report.fail(
      DatabaseCondition.Connection,
      DatabaseReason.DeletionWaiting,
      `waiting for ${describeInstance(key)} to drop database "${names.database}": ${why}`,
    );
    return "waiting";
  };
  const instance = sources.directory.get(key);
  if (!instance) {
    if (instanceObject(sources, key)) return waiting("the instance is not Ready");
    report.warning(
      DatabaseReason.InstanceGone,
      `${describeInstance(key)} no longer exists, so database "${names.database}" and its roles were left on the server`,
    );
    return "done";
  }
  try {
    const outcome = await new TenantServer(registry, instance, names, markerOf(db)).dropEverything();
    const summary = [...outcome].map(([name, result]) => `"${name}" ${result}`).join(", ");
    report.normal(DatabaseReason.Dropped, `Cleaned up on the server: ${summary}`);
    return "done";
  } catch (err) {
    if (err instanceof ConnectionError || err instanceof UserFixableError) return waiting(err.message);
    throw err;
  }
}
