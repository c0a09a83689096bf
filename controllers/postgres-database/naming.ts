/** The SQL names, ownership marker and deletion policy of a PostgresDatabase, from its spec and metadata. */
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { type NamingStrategy, type SqlNames, sqlNames } from "../../services/postgres/naming.js";
import type { Marker } from "../../services/postgres/ownership.js";
import { DELETION_POLICY_ABANDON, DELETION_POLICY_ANNOTATION } from "../constants.js";

/** The naming strategy in effect: `prefix_namespace` unless the spec says otherwise. */
export function namingStrategyOf(db: PostgresDatabase): NamingStrategy {
  return db.spec.databaseNamingStrategy ?? "prefix_namespace";
}

/** The database and role names of the resource. */
export function namesOf(db: PostgresDatabase): SqlNames {
  return sqlNames(db.metadata.namespace ?? "", db.metadata.name ?? "", namingStrategyOf(db));
}

/** The marker every object created for the resource carries. */
export function markerOf(db: PostgresDatabase): Marker {
  return { namespace: db.metadata.namespace ?? "", name: db.metadata.name ?? "" };
}

/** True when the resource asks that nothing on the server be dropped when it is deleted. */
export function isAbandoned(db: PostgresDatabase): boolean {
  return db.metadata.annotations?.[DELETION_POLICY_ANNOTATION]?.trim() === DELETION_POLICY_ABANDON;
}
