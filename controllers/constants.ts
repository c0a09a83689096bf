/**
 * The names users and tools see: finalizers, annotations, labels, condition types and
 * reasons, and the controllers' intervals. One place, so that docs and code agree.
 */

// ---- Shared ---------------------------------------------------------------

/** The finalizer every Kompost kind carries while it holds state elsewhere. */
export const FINALIZER = "kompost.chuge.li/finalizer";

/** Annotation: regular expressions of the namespaces that may use an instance. */
export { ALLOWED_NAMESPACES_ANNOTATION } from "../services/access/allowed-namespaces.js";

/** Annotation: `abandon` keeps the database and roles when a PostgresDatabase is deleted. */
export const DELETION_POLICY_ANNOTATION = "kompost.chuge.li/deletion-policy";

/** The value of DELETION_POLICY_ANNOTATION that keeps everything on the server. */
export const DELETION_POLICY_ABANDON = "abandon";

/** Label on every object Kompost creates in Kubernetes. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** Value of MANAGED_BY_LABEL. */
export const MANAGED_BY = "kompost";

/** The summary condition of every kind. */
export const READY = "Ready";

/** How long to wait before looking again at something that is not there yet (an instance, a server). */
export const WAIT_REQUEUE_MS = 10_000;

// ---- PostgresInstance / PostgresClusterInstance ------------------------------

/** Condition types of both instance kinds (the original Kompost's names). */
export const InstanceCondition = {
  Credentials: "Credentials",
  Connected: "Connected",
  Privileged: "Privileged",
  /** The allowed-namespaces annotation parsed; not part of Ready, since the instance still serves its own namespace. */
  AllowedNamespaces: "AllowedNamespaces",
} as const;

/** The conditions that make an instance Ready. */
export const INSTANCE_READY_CONDITIONS = [
  InstanceCondition.Credentials,
  InstanceCondition.Connected,
  InstanceCondition.Privileged,
] as const;

// ---- PostgresDatabase ----------------------------------------------------

/** Condition types of PostgresDatabase (the original Kompost's names). */
export const DatabaseCondition = {
  Connection: "Connection",
  /** The original's condition for a cluster instance this namespace may not use. */
  ClusterInstanceAccess: "ClusterInstanceAccess",
  Database: "Database",
  AppUser: "AppUser",
  InspectorUser: "InspectorUser",
} as const;

/** The conditions that make a PostgresDatabase Ready. */
export const DATABASE_READY_CONDITIONS = [
  DatabaseCondition.Connection,
  DatabaseCondition.Database,
  DatabaseCondition.AppUser,
  DatabaseCondition.InspectorUser,
] as const;

/** Label on the Secrets of a PostgresDatabase: the resource's name. */
export const DATABASE_LABEL = "kompost.chuge.li/postgres-database";
