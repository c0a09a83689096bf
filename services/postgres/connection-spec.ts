/**
 * What a connection to an instance is made of: the instance's spec with the password resolved,
 * the limits and timeouts of every connection, and the pg options of an admin session.
 */
import { createHash } from "node:crypto";
import { allowsInsecurePasswordAuth } from "./password-guard.js";
import type { GuardedClientConfig } from "./password-guard.js";
import { pgSslOptions } from "./tls.js";
import type { SslSpec } from "./tls.js";

/** How to reach and log in to a PostgreSQL server: an instance's spec with the password resolved. */
export interface InstanceConnectionSpec {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly ssl?: SslSpec;
  /** spec.allowInsecurePasswordAuth: answer cleartext and MD5 password requests even without verified TLS. */
  readonly allowInsecurePasswordAuth?: boolean;
}

/** Limits and timeouts of every connection Kompost opens. */
export interface ConnectionSettings {
  /** Connections per instance pool, and at most as many more into tenant databases at a time. */
  readonly maxConnections: number;
  /** Time to reach the server, finish TLS and log in (also the wait for a free pooled connection). */
  readonly connectionTimeoutMillis: number;
  /** Server-side `statement_timeout`; the client gives up a little later if the server says nothing. */
  readonly statementTimeoutMillis: number;
  /** How long an unused pooled connection stays open. */
  readonly idleTimeoutMillis: number;
  /**
   * Server-side `lock_timeout`: a statement that waits longer for a lock (one a tenant holds in
   * its own database) fails fast instead of holding a connection for the whole statement timeout.
   */
  readonly lockTimeoutMillis: number;
  /**
   * After a connect to an instance found no server (Unreachable) or no answer (Timeout), further
   * connects to it fail at once with that error for this long from when that connect began,
   * then one tries again: reconciles of a dead server's databases do not each hold a worker for
   * the connect timeout. 0 turns it off.
   */
  readonly unreachableCooldownMillis: number;
}

/** Small pools and short timeouts: one slow server must not hold up the others. */
export const DEFAULT_CONNECTION_SETTINGS: ConnectionSettings = {
  maxConnections: 4,
  connectionTimeoutMillis: 5_000,
  statementTimeoutMillis: 30_000,
  idleTimeoutMillis: 30_000,
  lockTimeoutMillis: 3_000,
  unreachableCooldownMillis: 5_000,
};

/**
 * The `search_path` of every admin session: only pg_catalog, then the session's own temp
 * schema (named, so that it comes last for tables too). Nothing a tenant creates in `public` or
 * in a schema of its own can then shadow a function, operator, type or table an admin statement
 * names, even where pg_catalog has no exact match for the argument types.
 */
export const ADMIN_SEARCH_PATH = "pg_catalog,pg_temp";

/** The database pools connect to: the one every server has. */
export const MAINTENANCE_DATABASE = "postgres";

/**
 * The options of a PasswordGuardedClient for one database of an instance, its password policy
 * included; throws TlsConfigError for a bad `ssl`.
 */
export function pgClientConfig(
  spec: InstanceConnectionSpec,
  database: string,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): GuardedClientConfig {
  return {
    allowInsecurePasswordAuth: allowsInsecurePasswordAuth(spec),
    host: spec.hostname,
    port: spec.port,
    user: spec.username,
    password: spec.password,
    database,
    ssl: pgSslOptions(spec.ssl, spec.hostname),
    application_name: "kompost",
    // Startup options outrank ALTER DATABASE / ALTER ROLE ... SET, and a pooled session keeps them.
    options: adminSessionOptions(settings),
    connectionTimeoutMillis: settings.connectionTimeoutMillis,
    statement_timeout: settings.statementTimeoutMillis,
    // Later than the server's own timeout so that its clearer message usually wins; this one catches a hung server.
    query_timeout: settings.statementTimeoutMillis + settings.connectionTimeoutMillis,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** The `-c` startup options of an admin session: the pinned search_path and the lock timeout. */
export function adminSessionOptions(settings: Pick<ConnectionSettings, "lockTimeoutMillis">): string {
  // 0 turns the timeout off, as in PostgreSQL.
  const lockTimeout = Math.max(0, Math.floor(settings.lockTimeoutMillis));
  return `-c search_path=${ADMIN_SEARCH_PATH} -c lock_timeout=${lockTimeout}`;
}

/** A digest of everything that makes up a connection, password included, so a change is seen without keeping it. */
export function specFingerprint(spec: InstanceConnectionSpec): string {
  const canonical = JSON.stringify([
    spec.hostname,
    spec.port,
    spec.username,
    spec.password,
    spec.ssl?.enabled ?? false,
    spec.ssl?.verify ?? null,
    spec.ssl?.ca ?? null,
    spec.allowInsecurePasswordAuth ?? false,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}
