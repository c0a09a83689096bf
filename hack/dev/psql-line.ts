/** Builds the ready-to-paste psql command line for a database Secret Kompost generated. */

/** The keys of a generated database Secret that a psql line needs (values decoded). */
export interface DatabaseSecret {
  readonly DB_HOST: string;
  readonly DB_PORT: string;
  readonly DB_NAME: string;
  readonly DB_USER: string;
  readonly DB_PASS: string;
}

/**
 * `PGPASSWORD=... psql '<conninfo>'` with full TLS verification against the CA file at
 * `caPath`; every value is quoted for libpq and then for a POSIX shell.
 */
export function psqlLine(secret: DatabaseSecret, caPath: string): string {
  const conninfo = [
    ["host", secret.DB_HOST],
    ["port", secret.DB_PORT],
    ["dbname", secret.DB_NAME],
    ["user", secret.DB_USER],
    ["sslmode", "verify-full"],
    ["sslrootcert", caPath],
  ]
    .map(([key, value]) => `${key}=${conninfoValue(value!)}`)
    .join(" ");
  return `PGPASSWORD=${shellQuote(secret.DB_PASS)} psql ${shellQuote(conninfo)}`;
}

/** Reads the psql keys from a Secret's base64 `data`; fails naming the missing keys. */
export function databaseSecret(name: string, data: Readonly<Record<string, string>>): DatabaseSecret {
  const keys = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"] as const;
  const missing = keys.filter((key) => data[key] === undefined);
  if (missing.length > 0) {
    throw new Error(`while reading the Secret ${name}: it has no ${missing.join(", ")}; is it one Kompost generated?`);
  }
  const decoded = Object.fromEntries(keys.map((key) => [key, Buffer.from(data[key]!, "base64").toString("utf8")]));
  return decoded as unknown as DatabaseSecret;
}

/** A libpq connection-string value: single-quoted, with `\` and `'` escaped, when it is empty or has spaces or quotes. */
export function conninfoValue(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A word for a POSIX shell: as it is when it is plainly safe, else single-quoted. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
