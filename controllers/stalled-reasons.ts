/**
 * Which reasons of a False `Ready` mean kstatus's `Stalled` (Failed for Flux and cli-utils'
 * pollers): nothing changes until someone edits a resource, a Secret, the server's
 * configuration or a foreign object. Every other reason of a False Ready means `Reconciling`
 * (InProgress): the operator is waiting or retrying and gets there by itself (an instance or
 * Secret that is not there yet, a server that does not answer, a lock, a deletion that waits).
 * docs/postgres-database.md lists both kinds, reason by reason.
 */
import type { ConnectionFailureReason } from "../services/postgres/connection-failures.js";
import type { Reason } from "../services/postgres/errors.js";
import { DatabaseReason, InstanceReason } from "./constants.js";

/** The SQL errors of services/postgres/errors.ts that only a change fixes (ObjectInUse ends by itself). */
const SQL_REASONS = [
  "DuplicateObject",
  "ForeignObject",
  "InsufficientPrivilege",
  "InvalidParameter",
  "InvalidCatalogName",
  "InvalidPassword",
  "InvalidAuthorization",
  "DependentObjects",
  "UndefinedObject",
] as const satisfies readonly Reason[];

/** The connection failures that a retry cannot fix (not Unreachable, Timeout or ConnectionFailed). */
const CONNECTION_REASONS = [
  "InvalidTLSConfig",
  "TLSFailed",
  "AuthenticationFailed",
  "InsecurePasswordAuth",
] as const satisfies readonly ConnectionFailureReason[];

/** Reasons of a False Ready that make kstatus's `Stalled` True (any other makes `Reconciling` True). */
export const STALLED_REASONS: ReadonlySet<string> = new Set<string>([
  ...SQL_REASONS,
  ...CONNECTION_REASONS,
  DatabaseReason.InstanceNotAllowed,
  DatabaseReason.ForeignSecret,
  DatabaseReason.SecretConflict,
  /** spec.secret cannot be applied (an invalid extra key, label or annotation). */
  "InvalidSecretSpec",
  InstanceReason.SecretKeyNotFound,
  InstanceReason.SecretValueEmpty,
  InstanceReason.NoPassword,
  InstanceReason.InsufficientPrivileges,
]);
