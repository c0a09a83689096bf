/**
 * The tenant database as a get/create/drop unit. Every function takes a client
 * connected to the maintenance database as an admin, and none of them touches a
 * database that does not carry this resource's ownership marker.
 */
import { faultPoint } from "../../../runtime/fault-points.js";
import { UserFixableError, whileDoing } from "../errors.js";
import { type Inspection, type Marker, judge, markerFor, pendingDatabaseName, requireOurs } from "../ownership.js";
import { type DatabaseParams, explainParamsRefusal, validateParams } from "../params.js";
import { inTransaction, type Queryable } from "../queryable.js";
import { CATALOG, createDatabaseSql, quoteIdent, quoteLiteral } from "../sql.js";

/** What `ensureDatabase` did. */
export type EnsureDatabaseResult = "created" | "present";

/** What `dropDatabase` did. */
export type DropDatabaseResult = "dropped" | "missing";

/** The server's version number (e.g. 150004 for 15.4). */
export async function serverVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ version: number }>(CATALOG.serverVersion);
  return rows[0]!.version;
}

/** Looks the database up by name: missing, ours (carries `expected`'s marker) or foreign. A cheap catalog read. */
export async function inspectDatabase(db: Queryable, name: string, expected: Marker): Promise<Inspection> {
  return whileDoing(`while looking up database "${name}"`, async () => {
    const { rows } = await db.query<{ comment: string | null }>(READS.databaseByName, [name]);
    return judge(rows[0]?.comment, rows.length > 0, expected);
  });
}

/** The database as the combined read (tenant-facts.ts) sees it: its ownership comment; null when it does not exist. */
export interface DatabaseFact {
  readonly comment: string | null;
}

/** The database's fact in the combined read, for the database named by $1: a JSON object (see DatabaseFact) or NULL. */
export const DATABASE_FACT_SQL =
  "(SELECT pg_catalog.json_build_object('comment'::pg_catalog.text, pg_catalog.shobj_description(d.oid, 'pg_database'::pg_catalog.name)) FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name)";

/** The database's fact judged like inspectDatabase: missing, ours or foreign. */
export function databaseFromFact(fact: DatabaseFact | null, expected: Marker): Inspection {
  return judge(fact?.comment, fact !== null, expected);
}

/**
 * Creates the database with validated params so that a crash at any point leaves
 * either nothing, or a pending database the next call finishes (see
 * PENDING_DATABASE_PREFIX): CREATE DATABASE under the pending name, closed to every
 * connection; then, in one transaction, the marker, PUBLIC's CONNECT and TEMPORARY
 * taken away, connections allowed and the final name. Nobody but the admin can ever
 * connect before the privileges are final. Fails with a user-fixable DuplicateObject
 * if the final name is taken meanwhile, after dropping the unfinished database.
 */
export async function createDatabase(
  db: Queryable,
  name: string,
  params: DatabaseParams,
  owner: Marker,
): Promise<void> {
  const pending = pendingDatabaseName(owner);
  const doing = `while creating database "${name}"`;
  // Built first: a name the server would refuse must fail before anything is created.
  const rename = await whileDoing(doing, () => Promise.resolve(renameDatabaseSql(pending, name)));
  if (!(await databaseExists(db, pending, doing))) {
    const version = await whileDoing(doing, () => serverVersion(db));
    await whileDoing(doing, async () => {
      try {
        await db.query(createDatabaseSql(pending, { ...params, allowConnections: false }, version));
      } catch (err) {
        throw explainParamsRefusal(err, params);
      }
    });
    await faultPoint("database-created");
  }
  try {
    await whileDoing(doing, () =>
      inTransaction(db, async () => {
        await db.query(commentOnDatabaseSql(pending, markerFor(owner.namespace, owner.name)));
        await db.query(revokePublicOnDatabaseSql(pending));
        await db.query(openDatabaseSql(pending));
        await db.query(rename);
      }),
    );
  } catch (err) {
    // The final name was taken meanwhile: the unfinished database would only be in the way.
    if (err instanceof UserFixableError && err.reason === "DuplicateObject") await dropPendingDatabase(db, owner);
    throw err;
  }
  await faultPoint("database-finished");
}

/**
 * Drops the pending database of `owner` left by a creation that never finished (see
 * createDatabase); a no-op when there is none. Nobody can be connected to it.
 */
export async function dropPendingDatabase(db: Queryable, owner: Marker): Promise<DropDatabaseResult> {
  const pending = pendingDatabaseName(owner);
  const doing = `while dropping the unfinished database "${pending}"`;
  if (!(await databaseExists(db, pending, doing))) return "missing";
  await untemplate(db, pending, doing);
  await whileDoing(doing, () => db.query(dropDatabaseSql(pending, false)));
  await faultPoint("database-dropped");
  return "dropped";
}

async function databaseExists(db: Queryable, name: string, doing: string): Promise<boolean> {
  const { rows } = await whileDoing(doing, () => db.query(READS.databaseByName, [name]));
  return rows.length > 0;
}

/**
 * Makes sure the database exists and is ours: creates it (validating `params`
 * first; params.template must be a built-in template or one of `allowedTemplates`) if missing, does nothing but one catalog read if present, and throws a
 * ForeignObjectError (changing nothing) if someone else's database has the name.
 */
export async function ensureDatabase(
  db: Queryable,
  name: string,
  params: Readonly<Record<string, unknown>> | undefined,
  owner: Marker,
  allowedTemplates: readonly string[] = [],
): Promise<EnsureDatabaseResult> {
  const doing = `while ensuring database "${name}"`;
  const found = await inspectDatabase(db, name, owner);
  requireOurs(found, "database", name, doing);
  if (found.state === "ours") return "present";
  const validated = await whileDoing(doing, () => validateParams(db, params, allowedTemplates));
  await createDatabase(db, name, validated, owner);
  return "created";
}

/**
 * Drops the database if it is ours: makes it an ordinary database if it is a
 * template (PostgreSQL refuses to drop one), ends its sessions, then DROP DATABASE
 * (WITH (FORCE) on PostgreSQL 13+). Each step is checked afresh, so a crash between
 * them is finished by the next call. A missing database is fine; a foreign one is refused.
 */
export async function dropDatabase(db: Queryable, name: string, owner: Marker): Promise<DropDatabaseResult> {
  const doing = `while dropping database "${name}"`;
  const found = await inspectDatabase(db, name, owner);
  requireOurs(found, "database", name, doing);
  if (found.state === "missing") return "missing";
  await untemplate(db, name, doing);
  return whileDoing(doing, async () => {
    const version = await serverVersion(db);
    await db.query(READS.terminateSessions, [name]);
    await db.query(dropDatabaseSql(name, version >= 130000));
    return "dropped" as const;
  });
}

/** Clears IS_TEMPLATE (params.is_template) of a database about to be dropped; nothing when it is not a template. */
async function untemplate(db: Queryable, name: string, doing: string): Promise<void> {
  await whileDoing(doing, async () => {
    const { rows } = await db.query<{ istemplate: boolean }>(CATALOG.templateCandidate, [name]);
    if (rows[0]?.istemplate === true) await db.query(untemplateDatabaseSql(name));
  });
}

// ---------------------------------------------------------------------------
// SQL of the database unit: every value quoted by the helpers of sql.ts.
// ---------------------------------------------------------------------------

/** Catalog reads of this unit; each takes only `$n` parameters (see the note on CATALOG in sql.ts). */
const READS = {
  /** $1 = database name: its ownership comment (a row only if it exists). */
  databaseByName:
    "SELECT pg_catalog.shobj_description(d.oid, 'pg_database'::pg_catalog.name) AS comment FROM pg_catalog.pg_database d WHERE d.datname = $1::pg_catalog.name",

  /**
   * $1 = database name: ends the other client sessions on it whose role we hold
   * (signalling anyone else's would be an error; DROP ... WITH (FORCE) then names them).
   */
  terminateSessions:
    "SELECT pg_catalog.pg_terminate_backend(a.pid) AS terminated FROM pg_catalog.pg_stat_activity a WHERE a.datname = $1::pg_catalog.name AND a.pid <> pg_catalog.pg_backend_pid() AND a.backend_type = 'client backend'::pg_catalog.text AND pg_catalog.pg_has_role(a.usesysid, 'USAGE'::pg_catalog.text)",
} as const;

/** Takes PUBLIC's default CONNECT and TEMPORARY away from a database. */
function revokePublicOnDatabaseSql(name: string): string {
  return `REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`;
}

/** Sets the comment (our ownership marker) of a database. */
function commentOnDatabaseSql(name: string, comment: string): string {
  return `COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`;
}

/** Drops a database; `force` (PostgreSQL 13+) ends the sessions still connected to it. */
function dropDatabaseSql(name: string, force: boolean): string {
  return `DROP DATABASE ${quoteIdent(name)}${force ? " WITH (FORCE)" : ""}`;
}

/** Makes a template database an ordinary one again, so that it can be dropped. */
function untemplateDatabaseSql(name: string): string {
  return `ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE false`;
}

/** Lets connections into a database created with ALLOW_CONNECTIONS false (CONNECT privileges still apply). */
function openDatabaseSql(name: string): string {
  return `ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS true`;
}

/** Renames a database (nobody may be connected to it). */
function renameDatabaseSql(from: string, to: string): string {
  return `ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`;
}
