/**
 * How SQL text is built. Identifiers go through `quoteIdent`, literals through
 * `quoteLiteral`, numbers and booleans through `sqlInteger` and `sqlBoolean`;
 * lookups are `pg_catalog.`-qualified constants that take `$n` parameters. Each
 * unit of objects/ keeps its statements and catalog reads beside it, built only
 * with these helpers (the grant set's in objects/privilege-targets.ts); what
 * several modules share stays here. Nothing may paste a value into SQL otherwise.
 */
import { Buffer } from "node:buffer";

/** PostgreSQL's NAMEDATALEN - 1: the longest identifier the server keeps, in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Quotes an identifier for SQL: double quotes around it, inner `"` doubled; refuses what the server would mangle. */
export function quoteIdent(name: string): string {
  if (name.length === 0) {
    throw new Error("while quoting an SQL identifier: the name is empty; PostgreSQL needs at least one character");
  }
  if (name.includes("\0")) {
    throw new Error(
      "while quoting an SQL identifier: the name contains a NUL character, which PostgreSQL cannot store",
    );
  }
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_IDENTIFIER_BYTES) {
    // The server would silently truncate, so two different names could meet in one object.
    throw new Error(
      `while quoting an SQL identifier: the name is ${bytes} bytes long; PostgreSQL keeps at most ${MAX_IDENTIFIER_BYTES}, use a shorter name`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a string literal for SQL the way libpq's PQescapeLiteral does: single
 * quotes doubled, and with a backslash present the `E'...'` form with backslashes
 * doubled, so the text means the same whatever `standard_conforming_strings` is.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) {
    throw new Error("while quoting an SQL literal: the value contains a NUL character, which PostgreSQL cannot store");
  }
  const quoted = value.replaceAll("'", "''");
  return value.includes("\\") ? `E'${quoted.replaceAll("\\", "\\\\")}'` : `'${quoted}'`;
}

/** Renders a validated integer for SQL; anything but a safe integer is refused. */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`while rendering an SQL integer: ${String(value)} is not an integer`);
  }
  return String(value);
}

/** Renders a boolean for SQL. */
export function sqlBoolean(value: boolean): string {
  return value ? "true" : "false";
}

// ---------------------------------------------------------------------------
// Catalog reads: constants with `$n` parameters, everything qualified.
// They run as the admin inside tenant databases, where the tenant may create
// operators, functions and types. Besides the pinned search_path of admin
// sessions (connection-spec.ts), every literal and parameter is typed with a
// pg_catalog type so each comparison has an exact pg_catalog operator: an
// `oid = 0` (int4) or `oid = regclass` has none, and a tenant's exact
// `public.=(oid, int4)` would otherwise win and run as the admin.
// ---------------------------------------------------------------------------

/**
 * Catalog queries shared by several modules; each takes only `$n` parameters. A
 * unit's own reads live beside it, in its file under objects/, written by the same rules.
 */
export const CATALOG = {
  /** The server's version as an integer (e.g. 150004). */
  serverVersion: "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS version",

  /** The database we are connected to. */
  currentDatabase: "SELECT pg_catalog.current_database() AS name",

  /** $1 = encoding name: whether the server knows it. */
  encodingKnown: "SELECT pg_catalog.pg_char_to_encoding($1::pg_catalog.name) >= 0::pg_catalog.int4 AS known",
  /** $1 = encoding number: its name, or "" when the server has no such encoding. */
  encodingName: "SELECT pg_catalog.pg_encoding_to_char($1::pg_catalog.int4) AS name",

  /** $1 = database name (objects/database.ts, params.ts): whether it is a template (a row only if it exists) and its comment (our marker, if any). */
  templateCandidate:
    "SELECT d.datistemplate AS istemplate, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name",
} as const;

// ---------------------------------------------------------------------------
// Statements: every value quoted by the helpers above.
// ---------------------------------------------------------------------------

/** The options of CREATE DATABASE, already validated (see params.ts). */
export interface CreateDatabaseOptions {
  readonly template?: string;
  readonly encoding?: string;
  readonly locale?: string;
  readonly lcCollate?: string;
  readonly lcCtype?: string;
  readonly connectionLimit?: number;
  readonly isTemplate?: boolean;
  /** False creates the database closed to every connection, the admin's included (see createDatabase in objects/database.ts). */
  readonly allowConnections?: boolean;
}

/** CREATE DATABASE with the given options; `serverVersion` decides whether LOCALE is known (PostgreSQL 13+). */
export function createDatabaseSql(name: string, options: CreateDatabaseOptions, serverVersion: number): string {
  const clauses: string[] = [];
  if (options.template !== undefined) clauses.push(`TEMPLATE = ${quoteIdent(options.template)}`);
  if (options.encoding !== undefined) clauses.push(`ENCODING = ${quoteLiteral(options.encoding)}`);
  const lcCollate = options.lcCollate ?? (serverVersion < 130000 ? options.locale : undefined);
  const lcCtype = options.lcCtype ?? (serverVersion < 130000 ? options.locale : undefined);
  if (options.locale !== undefined && serverVersion >= 130000) clauses.push(`LOCALE = ${quoteLiteral(options.locale)}`);
  if (lcCollate !== undefined) clauses.push(`LC_COLLATE = ${quoteLiteral(lcCollate)}`);
  if (lcCtype !== undefined) clauses.push(`LC_CTYPE = ${quoteLiteral(lcCtype)}`);
  if (options.connectionLimit !== undefined) clauses.push(`CONNECTION LIMIT = ${sqlInteger(options.connectionLimit)}`);
  if (options.isTemplate !== undefined) clauses.push(`IS_TEMPLATE = ${sqlBoolean(options.isTemplate)}`);
  if (options.allowConnections !== undefined) {
    clauses.push(`ALLOW_CONNECTIONS = ${sqlBoolean(options.allowConnections)}`);
  }
  const withClause = clauses.length > 0 ? ` WITH ${clauses.join(" ")}` : "";
  return `CREATE DATABASE ${quoteIdent(name)}${withClause}`;
}
