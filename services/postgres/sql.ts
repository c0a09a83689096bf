/**
 * The one module that builds SQL text. Identifiers go through `quoteIdent`,
 * literals through `quoteLiteral`, numbers and booleans through `sqlInteger` and
 * `sqlBoolean`; lookups are the `pg_catalog.`-qualified constants below and take
 * `$n` parameters. Nothing else in the code base may paste a value into SQL.
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
// sessions (connections.ts), every literal and parameter is typed with a
// pg_catalog type so each comparison has an exact pg_catalog operator: an
// `oid = 0` (int4) or `oid = regclass` has none, and a tenant's exact
// `public.=(oid, int4)` would otherwise win and run as the admin.
// ---------------------------------------------------------------------------

/** Catalog queries used by the SQL units; each takes only `$n` parameters. */
export const CATALOG = {
  /** The server's version as an integer (e.g. 150004). */
  serverVersion: "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS version",

  /** The connected user and whether it is a superuser. */
  currentAdmin:
    "SELECT r.rolname AS name, r.rolsuper AS superuser FROM pg_catalog.pg_roles r WHERE r.rolname = pg_catalog.current_user()",

  /** The database we are connected to. */
  currentDatabase: "SELECT pg_catalog.current_database() AS name",

  /** $1 = database name: its ownership comment (a row only if it exists). */
  databaseByName:
    "SELECT pg_catalog.shobj_description(d.oid, 'pg_database'::pg_catalog.name) AS comment FROM pg_catalog.pg_database d WHERE d.datname = $1::pg_catalog.name",

  /** $1 = role name: its ownership comment and attributes (a row only if it exists). */
  roleByName:
    "SELECT pg_catalog.shobj_description(r.oid, 'pg_authid'::pg_catalog.name) AS comment, r.rolcanlogin AS login, r.rolsuper AS superuser, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, r.rolreplication AS replication, r.rolbypassrls AS bypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = $1::pg_catalog.name",

  /** Whether the connected user may read `pg_authid` (only superusers may). */
  canReadAuthid:
    "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid'::pg_catalog.text, 'SELECT'::pg_catalog.text) AS allowed",

  /** $1 = role name: its stored password (a verifier) or null; superusers only. */
  rolePassword: "SELECT a.rolpassword AS verifier FROM pg_catalog.pg_authid a WHERE a.rolname = $1::pg_catalog.name",

  /** $1 = encoding name: whether the server knows it. */
  encodingKnown: "SELECT pg_catalog.pg_char_to_encoding($1::pg_catalog.name) >= 0::pg_catalog.int4 AS known",
  /** $1 = encoding number: its name, or "" when the server has no such encoding. */
  encodingName: "SELECT pg_catalog.pg_encoding_to_char($1::pg_catalog.int4) AS name",

  /**
   * $1 = database name: ends the other client sessions on it whose role we hold
   * (signalling anyone else's would be an error; DROP ... WITH (FORCE) then names them).
   */
  terminateSessions:
    "SELECT pg_catalog.pg_terminate_backend(a.pid) AS terminated FROM pg_catalog.pg_stat_activity a WHERE a.datname = $1::pg_catalog.name AND a.pid <> pg_catalog.pg_backend_pid() AND a.backend_type = 'client backend'::pg_catalog.text AND pg_catalog.pg_has_role(a.usesysid, 'USAGE'::pg_catalog.text)",

  /** $1 = role name: databases (or "shared objects") in which something still depends on the role. */
  roleDependencies:
    "SELECT DISTINCT COALESCE(d.datname::pg_catalog.text, '(shared objects)'::pg_catalog.text) AS place FROM pg_catalog.pg_shdepend s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid WHERE s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass::pg_catalog.oid AND s.refobjid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1::pg_catalog.name) ORDER BY 1",

  /** $1 = member, $2 = role: whether $1 holds $2's privileges (to alter its default privileges, end its sessions). */
  isMemberOf:
    "SELECT pg_catalog.pg_has_role($1::pg_catalog.name, $2::pg_catalog.name, 'USAGE'::pg_catalog.text) AS member",

  // Deletion, templates and the large-object rules.
  /** $1 = role name: the databases where pg_shdepend records something for it; a null name means shared objects. */
  roleDependencyDatabases:
    "SELECT DISTINCT d.datname AS database FROM pg_catalog.pg_shdepend s LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid WHERE s.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_authid'::pg_catalog.regclass::pg_catalog.oid AND s.refobjid OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name) ORDER BY 1",

  /** $1 = role name, $2 = milliseconds: like terminateRoleSessions, waiting for each to exit (PostgreSQL 14+). */
  terminateRoleSessionsWaiting:
    "SELECT pg_catalog.pg_terminate_backend(a.pid, $2::pg_catalog.int8) AS terminated FROM pg_catalog.pg_stat_activity a WHERE a.usename OPERATOR(pg_catalog.=) $1::pg_catalog.name AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() AND pg_catalog.pg_has_role(a.usesysid, 'USAGE')",

  /** The connected session's backend pid. */
  backendPid: "SELECT pg_catalog.pg_backend_pid() AS pid",

  /** $1 = pid: ends the client sessions that block that backend (whose roles the admin holds). */
  terminateBlockers:
    "SELECT pg_catalog.pg_terminate_backend(a.pid) AS terminated FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) ANY (pg_catalog.pg_blocking_pids($1::pg_catalog.int4)) AND a.backend_type OPERATOR(pg_catalog.=) 'client backend'::pg_catalog.text AND pg_catalog.pg_has_role(a.usesysid, 'USAGE'::pg_catalog.text)",

  /** $1 = role name: ends every session of the role on the server (the admin holds its privileges). */
  terminateRoleSessions:
    "SELECT pg_catalog.pg_terminate_backend(a.pid) AS terminated FROM pg_catalog.pg_stat_activity a WHERE a.usename OPERATOR(pg_catalog.=) $1::pg_catalog.name AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() AND pg_catalog.pg_has_role(a.usesysid, 'USAGE')",

  /**
   * $1 = role name: in the connected database, the privileges granted to the role by
   * someone other than the object's owner (DROP OWNED revokes only the owner's grants),
   * one row per object and grantor, with what a REVOKE needs to name the object.
   */
  grantsByOthers: `WITH target AS (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name),
  held(kind, schema, name, col, routine, lo, acl) AS (
    SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog.char THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname::pg_catalog.text, c.relname::pg_catalog.text, NULL::pg_catalog.text, NULL::pg_catalog.text, NULL::pg_catalog.oid, c.relacl
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.relacl IS NOT NULL
    UNION ALL SELECT 'TABLE', n.nspname::pg_catalog.text, c.relname::pg_catalog.text, a.attname::pg_catalog.text, NULL, NULL, a.attacl
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE a.attacl IS NOT NULL
    UNION ALL SELECT 'SCHEMA', NULL, n.nspname::pg_catalog.text, NULL, NULL, NULL, n.nspacl FROM pg_catalog.pg_namespace n WHERE n.nspacl IS NOT NULL
    UNION ALL SELECT 'ROUTINE', NULL, NULL, NULL, p.oid::pg_catalog.regprocedure::pg_catalog.text, NULL, p.proacl FROM pg_catalog.pg_proc p WHERE p.proacl IS NOT NULL
    UNION ALL SELECT CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd'::pg_catalog.char THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname::pg_catalog.text, t.typname::pg_catalog.text, NULL, NULL, NULL, t.typacl
      FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace WHERE t.typacl IS NOT NULL
    UNION ALL SELECT 'LARGE OBJECT', NULL, NULL, NULL, NULL, l.oid, l.lomacl FROM pg_catalog.pg_largeobject_metadata l WHERE l.lomacl IS NOT NULL)
  SELECT DISTINCT h.kind, h.schema, h.name, h.col AS "column", h.routine, h.lo::pg_catalog.int8 AS "largeObject", g.rolname AS grantor
    FROM held h, pg_catalog.aclexplode(h.acl) e, target, pg_catalog.pg_roles g
   WHERE e.grantee OPERATOR(pg_catalog.=) target.oid AND g.oid OPERATOR(pg_catalog.=) e.grantor AND e.grantor OPERATOR(pg_catalog.<>) target.oid`,

  /** $1 = database name: whether it is a template (a row only if it exists) and its comment (our marker, if any). */
  templateCandidate:
    "SELECT d.datistemplate AS istemplate, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name",

  // Extensions (objects/extensions.ts).
  /** $1 = extension name: its version, schema, owner and whether the connected admin owns it (a row only if installed). */
  installedExtension:
    "SELECT e.extversion AS version, n.nspname AS schema, pg_catalog.pg_get_userbyid(e.extowner) AS owner, e.extowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user()) AS ours FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace WHERE e.extname OPERATOR(pg_catalog.=) $1::pg_catalog.name",

  /**
   * $1 = extension name, $2 = version or null for the default: what its control file says of that
   * version (a row only if the server has it); `fixedSchema` is set for an extension that must live in one schema.
   */
  availableExtension:
    "SELECT v.version::pg_catalog.text AS version, v.superuser, v.trusted, v.schema::pg_catalog.text AS \"fixedSchema\", COALESCE(v.requires, '{}'::pg_catalog.name[])::pg_catalog.text[] AS requires FROM pg_catalog.pg_available_extension_versions v WHERE v.name OPERATOR(pg_catalog.=) $1::pg_catalog.name AND v.version::pg_catalog.text OPERATOR(pg_catalog.=) COALESCE($2::pg_catalog.text, (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name OPERATOR(pg_catalog.=) $1::pg_catalog.name))",

  /**
   * $1 = schema name: its owner, whether that is the connected admin or a superuser, and the
   * roles other than the owner that may create in it (a row only if it exists).
   */
  schemaCreators:
    "SELECT pg_catalog.pg_get_userbyid(n.nspowner) AS owner, (n.nspowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user()) OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner)) AS \"trustedOwner\", ARRAY(SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'::pg_catalog.text ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n'::pg_catalog.\"char\", n.nspowner))) a WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner) AS creators FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name",

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
  /** False creates the database closed to every connection, the admin's included (see openDatabaseSql). */
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

/** Takes PUBLIC's default CONNECT and TEMPORARY away from a database. */
export function revokePublicOnDatabaseSql(name: string): string {
  return `REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`;
}

/** Sets the comment (our ownership marker) of a database. */
export function commentOnDatabaseSql(name: string, comment: string): string {
  return `COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`;
}

/** Drops a database; `force` (PostgreSQL 13+) ends the sessions still connected to it. */
export function dropDatabaseSql(name: string, force: boolean): string {
  return `DROP DATABASE ${quoteIdent(name)}${force ? " WITH (FORCE)" : ""}`;
}

/** The attributes every tenant role has: it may log in and nothing more. */
export const TENANT_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";

/** CREATE ROLE for a tenant role with a SCRAM verifier (never a clear-text password). */
export function createRoleSql(name: string, verifier: string): string {
  return `CREATE ROLE ${quoteIdent(name)} ${TENANT_ROLE_ATTRIBUTES} PASSWORD ${quoteLiteral(verifier)}`;
}

/** A role attribute as Kompost wants it on tenant roles, as a fixed SQL keyword. */
export type TenantRoleAttribute =
  "LOGIN" | "NOSUPERUSER" | "NOCREATEDB" | "NOCREATEROLE" | "NOREPLICATION" | "NOBYPASSRLS";

/** Puts the given attributes of a tenant role back (only those: a non-superuser may not name SUPERUSER and the like). */
export function resetRoleAttributesSql(name: string, attributes: readonly TenantRoleAttribute[]): string {
  return `ALTER ROLE ${quoteIdent(name)} ${attributes.join(" ")}`;
}

/** Sets a role's password to a SCRAM verifier. */
export function setRolePasswordSql(name: string, verifier: string): string {
  return `ALTER ROLE ${quoteIdent(name)} PASSWORD ${quoteLiteral(verifier)}`;
}

/** Sets the comment (our ownership marker) of a role. */
export function commentOnRoleSql(name: string, comment: string): string {
  return `COMMENT ON ROLE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`;
}

/** Drops a role. */
export function dropRoleSql(name: string): string {
  return `DROP ROLE ${quoteIdent(name)}`;
}

/** Makes `member` a member of `role` (used only as admin ∈ tenant role, never the other way round). */
export function grantRoleSql(role: string, member: string): string {
  return `GRANT ${quoteIdent(role)} TO ${quoteIdent(member)}`;
}

/** An object a role holds privileges on, as `CATALOG.grantsByOthers` names it. */
export type GrantTarget =
  | {
      readonly kind: "TABLE" | "SEQUENCE" | "TYPE" | "DOMAIN";
      readonly schema: string;
      readonly name: string;
      readonly column?: string;
    }
  | { readonly kind: "SCHEMA"; readonly name: string }
  | { readonly kind: "ROUTINE"; readonly routine: string }
  | { readonly kind: "LARGE OBJECT"; readonly largeObject: number };

/**
 * REVOKE ALL on one object from `role`, CASCADE (the role's own grants go too). A
 * routine is named by its `regprocedure` text, which the server quoted itself.
 */
export function revokeAllFromRoleSql(target: GrantTarget, role: string): string {
  return `REVOKE ALL${grantTargetSql(target)} FROM ${quoteIdent(role)} CASCADE`;
}

function grantTargetSql(target: GrantTarget): string {
  switch (target.kind) {
    case "SCHEMA":
      return ` ON SCHEMA ${quoteIdent(target.name)}`;
    case "ROUTINE":
      return ` ON ROUTINE ${target.routine}`;
    case "LARGE OBJECT":
      return ` ON LARGE OBJECT ${sqlInteger(target.largeObject)}`;
    default: {
      const column = target.column === undefined ? "" : ` (${quoteIdent(target.column)})`;
      return `${column} ON ${target.kind} ${quoteIdent(target.schema)}.${quoteIdent(target.name)}`;
    }
  }
}

/** Drops what the role owns in the connected database and revokes what it was granted there and on shared objects. */
export function dropOwnedSql(role: string): string {
  return `DROP OWNED BY ${quoteIdent(role)}`;
}

/** Takes a role's LOGIN away, so that no new session of it starts while it is being dropped. */
export function disableLoginSql(role: string): string {
  return `ALTER ROLE ${quoteIdent(role)} NOLOGIN`;
}

/** Becomes `role` until the end of the transaction (to revoke what that role granted). */
export function setLocalRoleSql(role: string): string {
  return `SET LOCAL ROLE ${quoteIdent(role)}`;
}

/** Makes a template database an ordinary one again, so that it can be dropped. */
export function untemplateDatabaseSql(name: string): string {
  return `ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE false`;
}

// ---------------------------------------------------------------------------
// Extensions: the schema they go into, and CREATE/ALTER/DROP EXTENSION.
// ---------------------------------------------------------------------------

/** Creates a schema owned by the connected admin. */
export function createSchemaSql(name: string): string {
  return `CREATE SCHEMA ${quoteIdent(name)}`;
}

/** Lets the given roles look up objects in a schema (USAGE only, never CREATE). */
export function grantSchemaUsageSql(schema: string, roles: readonly string[]): string {
  return `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${roles.map(quoteIdent).join(", ")}`;
}

/** CREATE EXTENSION of one version; `schema` undefined for an extension whose control file fixes it. */
export function createExtensionSql(name: string, version: string, schema: string | undefined): string {
  const inSchema = schema === undefined ? "" : ` SCHEMA ${quoteIdent(schema)}`;
  return `CREATE EXTENSION ${quoteIdent(name)} WITH${inSchema} VERSION ${quoteLiteral(version)}`;
}

/** Updates an installed extension to another version. */
export function updateExtensionSql(name: string, version: string): string {
  return `ALTER EXTENSION ${quoteIdent(name)} UPDATE TO ${quoteLiteral(version)}`;
}

/** Drops an extension, refusing when anything else depends on it (RESTRICT). */
export function dropExtensionSql(name: string): string {
  return `DROP EXTENSION ${quoteIdent(name)} RESTRICT`;
}

// ---------------------------------------------------------------------------
// Crash-safe creation: a database is born closed under a pending name, then
// marked, locked down, opened and renamed in one transaction.
// ---------------------------------------------------------------------------

/** Lets connections into a database created with ALLOW_CONNECTIONS false (CONNECT privileges still apply). */
export function openDatabaseSql(name: string): string {
  return `ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS true`;
}

/** Renames a database (nobody may be connected to it). */
export function renameDatabaseSql(from: string, to: string): string {
  return `ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`;
}
