/**
 * The tenant database as a get/create/drop unit. Every function takes a client
 * connected to the maintenance database as an admin, and none of them touches a
 * database that does not carry this resource's ownership marker.
 */
import { whileDoing } from "../errors.js";
import { type Inspection, type Marker, judge, markerFor, requireOurs } from "../ownership.js";
import { type DatabaseParams, explainParamsRefusal, validateParams } from "../params.js";
import type { Queryable } from "../queryable.js";
import {
  CATALOG,
  commentOnDatabaseSql,
  createDatabaseSql,
  dropDatabaseSql,
  revokePublicOnDatabaseSql,
} from "../sql.js";

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
    const { rows } = await db.query<{ comment: string | null }>(CATALOG.databaseByName, [name]);
    return judge(rows[0]?.comment, rows.length > 0, expected);
  });
}

/**
 * Creates the database with validated params, marks it as ours and takes PUBLIC's
 * CONNECT and TEMPORARY away. Fails with a user-fixable DuplicateObject if it exists.
 */
export async function createDatabase(
  db: Queryable,
  name: string,
  params: DatabaseParams,
  owner: Marker,
): Promise<void> {
  const doing = `while creating database "${name}"`;
  const version = await whileDoing(doing, () => serverVersion(db));
  await whileDoing(doing, async () => {
    try {
      await db.query(createDatabaseSql(name, params, version));
    } catch (err) {
      throw explainParamsRefusal(err, params);
    }
  });
  // CREATE DATABASE cannot run inside a transaction, so the marker follows it: if
  // the operator dies in between, the database stays unmarked and is reported as
  // foreign (the message says how to resolve it); it is never adopted silently.
  await whileDoing(`while marking database "${name}" as managed by Kompost`, () =>
    db.query(commentOnDatabaseSql(name, markerFor(owner.namespace, owner.name))),
  );
  await whileDoing(`while revoking PUBLIC's privileges on database "${name}"`, () =>
    db.query(revokePublicOnDatabaseSql(name)),
  );
}

/**
 * Makes sure the database exists and is ours: creates it (validating `params`
 * first) if missing, does nothing but one catalog read if present, and throws a
 * ForeignObjectError (changing nothing) if someone else's database has the name.
 */
export async function ensureDatabase(
  db: Queryable,
  name: string,
  params: Readonly<Record<string, unknown>> | undefined,
  owner: Marker,
): Promise<EnsureDatabaseResult> {
  const doing = `while ensuring database "${name}"`;
  const found = await inspectDatabase(db, name, owner);
  requireOurs(found, "database", name, doing);
  if (found.state === "ours") return "present";
  const validated = await whileDoing(doing, () => validateParams(db, params));
  await createDatabase(db, name, validated, owner);
  return "created";
}

/**
 * Drops the database if it is ours: ends its sessions, then DROP DATABASE (WITH
 * (FORCE) on PostgreSQL 13+). A missing database is fine; a foreign one is refused.
 */
export async function dropDatabase(db: Queryable, name: string, owner: Marker): Promise<DropDatabaseResult> {
  const doing = `while dropping database "${name}"`;
  const found = await inspectDatabase(db, name, owner);
  requireOurs(found, "database", name, doing);
  if (found.state === "missing") return "missing";
  return whileDoing(doing, async () => {
    const version = await serverVersion(db);
    await db.query(CATALOG.terminateSessions, [name]);
    await db.query(dropDatabaseSql(name, version >= 130000));
    return "dropped" as const;
  });
}
