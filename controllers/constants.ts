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

/** Condition reasons and Event reasons of both instance kinds. */
export const InstanceReason = {
  /** Credentials True from spec.plainPassword; also the Warning Event recommending a Secret. */
  PlainPassword: "PlainPassword",
  /** Credentials True from the referenced Secret. */
  SecretResolved: "SecretResolved",
  SecretNotFound: "SecretNotFound",
  SecretKeyNotFound: "SecretKeyNotFound",
  SecretValueEmpty: "SecretValueEmpty",
  /** Neither plainPassword nor passwordSecretRef (the CRD normally rejects this). */
  NoPassword: "NoPassword",
  /** Connected or Privileged Unknown: an earlier step failed, so this one was not checked. */
  NotChecked: "NotChecked",
  /** Connected True; also the Normal Event of the first success. */
  Connected: "Connected",
  Privileged: "Privileged",
  InsufficientPrivileges: "InsufficientPrivileges",
  /** Privileged Unknown: the query failed after the connection was made. */
  PrivilegeCheckFailed: "PrivilegeCheckFailed",
  AnnotationValid: "AnnotationValid",
  InvalidAnnotation: "InvalidAnnotation",
  /** Ready False and a Warning Event while PostgresDatabases still use a deleted instance. */
  DeletionBlocked: "DeletionBlocked",
  /** Connected False: the server asked for a clear-text or MD5 password, and Kompost only sends it by SCRAM or over verified TLS. */
  InsecurePasswordAuth: "InsecurePasswordAuth",
  /** Warning Event, once per generation: TLS on without spec.ssl.verify, so the certificate is not checked. */
  UnverifiedTLS: "UnverifiedTLS",
} as const;

/** The original Kompost's message of a successful connection. */
export const CONNECTED_MESSAGE = "Connection to database was established";

/** The message of a successful privilege check. */
export const PRIVILEGED_MESSAGE = "The connected user has the required privileges";

/** How soon an instance that is not Ready is checked again (a Ready one waits for the periodic resync). */
export const INSTANCE_RETRY_MS = 15_000;

// ---- PostgresDatabase ----------------------------------------------------

/** Condition types of PostgresDatabase (the original Kompost's names). */
export const DatabaseCondition = {
  Connection: "Connection",
  /** The original's condition for a cluster instance this namespace may not use. */
  ClusterInstanceAccess: "ClusterInstanceAccess",
  Database: "Database",
  AppUser: "AppUser",
  InspectorUser: "InspectorUser",
  /** Whether inspector is read-only; False (not part of Ready) when the admin cannot take a write path away. */
  InspectorReadOnly: "InspectorReadOnly",
  /** Whether spec.extensions is in place; False (not part of Ready) names each extension that is not, and why. */
  ExtensionsReady: "ExtensionsReady",
} as const;

/** The conditions that make a PostgresDatabase Ready. */
export const DATABASE_READY_CONDITIONS = [
  DatabaseCondition.Connection,
  DatabaseCondition.Database,
  DatabaseCondition.AppUser,
  DatabaseCondition.InspectorUser,
] as const;

/** The message of InspectorReadOnly True. */
export const INSPECTOR_READ_ONLY_MESSAGE = "Inspector user can read and cannot write or create anything.";

/** Label on the Secrets of a PostgresDatabase: the resource's name. */
export const DATABASE_LABEL = "kompost.chuge.li/postgres-database";

/** Annotation on a connection Secret: a keyed hash of its data, which changes whenever a value does (for Reloader or a pod-template checksum). */
export const DATA_HASH_ANNOTATION = "kompost.chuge.li/data-hash";

/** Annotation on a connection Secret: the random key of its data-hash, kept with the Secret and nowhere else. */
export const DATA_HASH_KEY_ANNOTATION = "kompost.chuge.li/data-hash-key";

/** Annotation on a connection Secret: the spec.secret.extraKeys Kompost wrote into it (comma-separated), so a removed one is removed. */
export const EXTRA_KEYS_ANNOTATION = "kompost.chuge.li/extra-keys";

/** Annotation: on a PostgresDatabase, a new value rotates both passwords; on its Secrets, the value their password was made for. */
export const ROTATE_PASSWORD_ANNOTATION = "kompost.chuge.li/rotate-password";

/** Condition reasons and Event reasons of PostgresDatabase (user-fixable SQL errors use their own `reason`). */
export const DatabaseReason = {
  Connected: "Connected",
  InstanceNotFound: "InstanceNotFound",
  InstanceNotAllowed: "InstanceNotAllowed",
  InstanceNotReady: "InstanceNotReady",
  AccessGranted: "AccessGranted",
  /** Database True; also the Normal Event when it was created. */
  DatabaseCreated: "DatabaseCreated",
  /** AppUser / InspectorUser True; also the Normal Event when a role was created. */
  UserCreated: "UserCreated",
  /** Normal Event: a role's password was reset to its Secret's DB_PASS. */
  PasswordReset: "PasswordReset",
  /** Normal Event: a role's attributes were put back to LOGIN and nothing more. */
  RoleRepaired: "RoleRepaired",
  /** Normal Event: missing grants were granted again. */
  GrantsRepaired: "GrantsRepaired",
  /** InspectorReadOnly True: inspector can read and cannot write or create anything. */
  ReadOnly: "ReadOnly",
  /** InspectorReadOnly False: the admin cannot take every write path from inspector (the message says which). */
  InspectorNotReadOnly: "InspectorNotReadOnly",
  SecretCreated: "SecretCreated",
  SecretUpdated: "SecretUpdated",
  /** The Secret's name is taken by one another object controls, or too long. */
  SecretConflict: "SecretConflict",
  /** A Secret of the connection Secret's name exists that this resource does not own; it is left untouched. */
  ForeignSecret: "ForeignSecret",
  /** Warning Event: DB_PASS was unusable and a new password was generated. */
  PasswordRegenerated: "PasswordRegenerated",
  /** Normal Event: a new password was generated for a role (rotate-password annotation or passwordRotation schedule). */
  PasswordRotated: "PasswordRotated",
  /** AppUser / InspectorUser False: spec.secret cannot be applied (invalid key, label or annotation, unknown placeholder). */
  InvalidSecretSpec: "InvalidSecretSpec",
  /** Normal Event when the resource first becomes Ready. */
  Ready: "Ready",
  /** Normal Event instead of DatabaseCreated, UserCreated, SecretCreated and Ready when one reconcile created the database and made it Ready. */
  Provisioned: "Provisioned",
  /** Warning Event for an error retrying may fix. */
  ReconcileFailed: "ReconcileFailed",
  /** A condition False and a Warning Event: a statement gave up waiting for a lock a session in the database holds; retried with backoff. */
  LockTimeout: "LockTimeout",
  /** Deletion waits for the instance or the server. */
  DeletionWaiting: "DeletionWaiting",
  /** Normal Event: the database and roles were dropped. */
  Dropped: "Dropped",
  /** Warning Event: the referenced instance no longer exists, so nothing could be dropped. */
  InstanceGone: "InstanceGone",
  /** ExtensionsReady True: every extension of spec.extensions is as listed. */
  ExtensionsInstalled: "ExtensionsInstalled",
  /** ExtensionsReady False: an entry of spec.extensions is malformed or listed twice. */
  InvalidExtension: "InvalidExtension",
  /** ExtensionsReady False: the instance's spec.allowedExtensions does not list the extension. */
  ExtensionNotAllowed: "ExtensionNotAllowed",
  /** ExtensionsReady False: the server has no such extension, or not in that version. */
  ExtensionUnavailable: "ExtensionUnavailable",
  /** ExtensionsReady False: creating, updating or dropping it failed or was refused (unsafe schema, not Kompost's, needs a superuser). */
  ExtensionFailed: "ExtensionFailed",
  /** Normal Events: an extension was created, updated or dropped. */
  ExtensionCreated: "ExtensionCreated",
  ExtensionUpdated: "ExtensionUpdated",
  ExtensionDropped: "ExtensionDropped",
} as const;

/** The original Kompost's message of a usable instance. */
export const DATABASE_CONNECTED_MESSAGE = "Connected to the referenced PostgreSQL instance.";

/** The original Kompost's message of the Database condition, for a database name. */
export function databaseCreatedMessage(database: string): string {
  return `The database "${database}" was created on the PostgreSQL instance`;
}

/** The original Kompost's message of AppUser. */
export const APP_USER_MESSAGE = "Application user was created successfully.";

/** The original Kompost's message of InspectorUser. */
export const INSPECTOR_USER_MESSAGE = "Inspector user was created successfully.";
