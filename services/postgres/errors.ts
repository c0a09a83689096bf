/**
 * Errors of the SQL layer. A `UserFixableError` carries a machine `reason` for a
 * status condition (the user can fix it: a name clash, a missing privilege, a bad
 * param); a `PostgresOperationError` is anything else (requeue and retry). Both
 * say what was being done, and neither ever carries a password or a verifier.
 */
import pg from "pg";

/** Machine reasons for conditions the user can fix. */
export type Reason =
  | "DuplicateObject"
  | "InsufficientPrivilege"
  | "ObjectInUse"
  | "InvalidParameter"
  | "InvalidCatalogName"
  | "InvalidPassword"
  | "InvalidAuthorization"
  | "DependentObjects"
  | "UndefinedObject"
  | "ForeignObject";

/** SQLSTATEs the user can act on, and the reason each becomes. */
const USER_FIXABLE_SQLSTATES: Readonly<Record<string, Reason>> = {
  "42710": "DuplicateObject", // duplicate_object (role)
  "42P04": "DuplicateObject", // duplicate_database
  "42501": "InsufficientPrivilege", // insufficient_privilege
  "55006": "ObjectInUse", // object_in_use
  "22023": "InvalidParameter", // invalid_parameter_value
  "3D000": "InvalidCatalogName", // invalid_catalog_name (no such database)
  "28P01": "InvalidPassword", // invalid_password
  "28000": "InvalidAuthorization", // invalid_authorization_specification (pg_hba, no LOGIN)
  "2BP01": "DependentObjects", // dependent_objects_still_exist
  "42704": "UndefinedObject", // undefined_object
};

/** A condition the user can fix; `reason` goes into the status condition. */
export class UserFixableError extends Error {
  override readonly name: string = "UserFixableError";

  constructor(
    readonly reason: Reason,
    readonly doing: string,
    detail: string,
    readonly sqlState?: string,
  ) {
    super(`${doing}: ${detail}`);
  }
}

/** A failed PostgreSQL operation nobody but a retry can fix (connection lost, server error, ...). */
export class PostgresOperationError extends Error {
  override readonly name: string = "PostgresOperationError";

  constructor(
    readonly doing: string,
    detail: string,
    readonly sqlState?: string,
    options?: ErrorOptions,
  ) {
    super(`${doing}: ${detail}`, options);
  }
}

/** Runs `fn`; a failure becomes a classed error saying `doing` (e.g. `while creating database "x"`), with `secrets` redacted. */
export async function whileDoing<T>(doing: string, fn: () => Promise<T>, secrets: readonly string[] = []): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classify(err, doing, secrets);
  }
}

/** Turns anything thrown into a `UserFixableError` or a `PostgresOperationError`; our own errors pass unchanged. */
export function classify(err: unknown, doing: string, secrets: readonly string[] = []): Error {
  if (err instanceof UserFixableError || err instanceof PostgresOperationError) return err;
  if (err instanceof pg.DatabaseError) {
    const text = redact(err.detail ? `${err.message} (${err.detail})` : err.message, secrets);
    const reason = err.code === undefined ? undefined : USER_FIXABLE_SQLSTATES[err.code];
    if (reason !== undefined) return new UserFixableError(reason, doing, text, err.code);
    const hint = err.code === LOCK_NOT_AVAILABLE ? `: ${LOCK_WAIT_HINT}` : "";
    return new PostgresOperationError(doing, text + hint, err.code);
  }
  const message = err instanceof Error ? err.message : String(err);
  const text = redact(message, secrets);
  // Keep the original as the cause only when it carries nothing we had to hide.
  return new PostgresOperationError(doing, text, undefined, text === message ? { cause: err } : undefined);
}

/** The SQLSTATE of a PostgreSQL error, also when wrapped in `cause`s (e.g. by a connection helper); undefined otherwise. */
export function sqlStateOf(err: unknown): string | undefined {
  for (let current = err, depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (current instanceof pg.DatabaseError) return current.code;
    if (current instanceof UserFixableError || current instanceof PostgresOperationError) return current.sqlState;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

/** SQLSTATE lock_not_available: an admin session's short `lock_timeout` ran out (see connection-spec.ts). */
export const LOCK_NOT_AVAILABLE = "55P03";

/** What the message of a lock timeout adds, so that the status says why and what happens next. */
const LOCK_WAIT_HINT =
  "another session holds a lock on an object this statement needs (an open transaction in the database, e.g. ALTER TABLE or LOCK TABLE); Kompost waits only lock_timeout for it and retries with backoff";

/** Whether `err` (or an error it wraps) is a lock timeout: a tenant's lock, retried with backoff. */
export function isLockTimeout(err: unknown): boolean {
  return sqlStateOf(err) === LOCK_NOT_AVAILABLE;
}

const VERIFIER_PATTERN = /SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+/g;

/** Replaces SCRAM verifiers and the given secrets in `text` by a placeholder. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let result = text.replace(VERIFIER_PATTERN, "SCRAM-SHA-256$<redacted>");
  for (const secret of secrets) {
    if (secret.length > 0) result = result.replaceAll(secret, "<redacted>");
  }
  return result;
}
