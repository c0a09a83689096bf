/** How a role reaches its database: everything a connection Secret says. */
export interface ConnectionDetails {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly ssl: {
    readonly enabled: boolean;
    readonly verify: "verify_none" | "verify_ca" | "verify_peer";
    /** PEM CA certificate(s) the instance checks the server against; undefined for the system trust store. */
    readonly ca?: string;
  };
}

/** The keys of a connection Secret, in the order they are written. */
export const CONNECTION_SECRET_KEYS = [
  "DB_HOST",
  "DB_PORT",
  "DB_NAME",
  "DB_USER",
  "DB_PASS",
  "DB_SSL",
  "DB_SSL_VERIFY",
  "DB_SSL_CA",
  "DATABASE_URL",
  "PGHOST",
  "PGPORT",
  "PGDATABASE",
  "PGUSER",
  "PGPASSWORD",
  "PGSSLMODE",
  "JDBC_URL",
] as const;

/** One key of a connection Secret. */
export type ConnectionSecretKey = (typeof CONNECTION_SECRET_KEYS)[number];

const SSL_MODES = { verify_none: "require", verify_ca: "verify-ca", verify_peer: "verify-full" } as const;

/**
 * The Secret's data for these details: the original Kompost's DB_* keys, plus DB_SSL_CA (the
 * instance's CA, empty when TLS is off or it trusts the system store), a DATABASE_URL, libpq's
 * environment variables (PG*) and a JDBC_URL for pgJDBC.
 */
export function connectionSecretData(details: ConnectionDetails): Record<ConnectionSecretKey, string> {
  return {
    DB_HOST: details.host,
    DB_PORT: String(details.port),
    DB_NAME: details.database,
    DB_USER: details.user,
    DB_PASS: details.password,
    DB_SSL: String(details.ssl.enabled),
    DB_SSL_VERIFY: String(details.ssl.enabled && details.ssl.verify !== "verify_none"),
    DB_SSL_CA: details.ssl.enabled ? (details.ssl.ca ?? "") : "",
    DATABASE_URL: databaseUrl(details),
    PGHOST: details.host,
    PGPORT: String(details.port),
    PGDATABASE: details.database,
    PGUSER: details.user,
    PGPASSWORD: details.password,
    PGSSLMODE: sslMode(details),
    JDBC_URL: jdbcUrl(details),
  };
}

/** libpq's sslmode for the instance's TLS settings: disable, require (verify_none), verify-ca or verify-full (verify_peer). */
export function sslMode(details: ConnectionDetails): string {
  return details.ssl.enabled ? SSL_MODES[details.ssl.verify] : "disable";
}

/** A libpq connection URI with user, password and database percent-encoded, and the sslmode that matches. */
export function databaseUrl(details: ConnectionDetails): string {
  const userinfo = `${encodeURIComponent(details.user)}:${encodeURIComponent(details.password)}`;
  return `postgresql://${userinfo}@${hostAndPort(details)}/${encodeURIComponent(details.database)}?sslmode=${sslMode(details)}`;
}

/**
 * A pgJDBC URL: jdbc:postgresql://host:port/database?user=...&password=...&sslmode=...
 * pgJDBC splits the URL at the first "?", the parameters at "&" and "=", and decodes each
 * value (and the database) with java.net.URLDecoder, which also turns "+" into a space; so
 * every value is percent-encoded, "+" and space included (encodeURIComponent does both).
 */
export function jdbcUrl(details: ConnectionDetails): string {
  const params = [
    `user=${encodeURIComponent(details.user)}`,
    `password=${encodeURIComponent(details.password)}`,
    `sslmode=${sslMode(details)}`,
  ].join("&");
  return `jdbc:postgresql://${hostAndPort(details)}/${encodeURIComponent(details.database)}?${params}`;
}

function hostAndPort(details: ConnectionDetails): string {
  const host = details.host.includes(":") ? `[${details.host}]` : details.host;
  return `${host}:${details.port}`;
}

/** The name of the Secret of one role of a PostgresDatabase, as the original Kompost named it. */
export function connectionSecretName(resourceName: string, role: "app" | "inspector"): string {
  return `psql-${resourceName}-${role}`;
}
