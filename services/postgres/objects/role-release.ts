/**
 * Before one of our roles is dropped, remove what the rest of the server holds for
 * it. Role names are public, so any tenant can grant our role something in its own
 * database (or name it in a policy or a default privilege), and PostgreSQL refuses
 * DROP ROLE while such an entry exists: without this, any tenant could keep another
 * tenant's deletion waiting forever.
 *
 * In each database where pg_shdepend records something for the role, the admin runs
 * DROP OWNED BY it (through the caller's hardened tenant-database client): that
 * revokes what the objects' owners granted it, its default privileges and policy
 * entries, and drops what it owns there. Nothing is REASSIGNed: handing a departing
 * tenant's functions to the admin would let them run with the admin's rights.
 * Grants made by someone other than the owner (a chain through WITH GRANT OPTION)
 * survive DROP OWNED, so each is revoked as its grantor.
 */
import { whileDoing } from "../errors.js";
import { inTransaction, type Queryable } from "../queryable.js";
import { CATALOG, quoteIdent, sqlInteger } from "../sql.js";
import { currentAdmin, holdRoles } from "./membership.js";

/** Runs `fn` with an admin client connected to `database` of the same server, closed afterwards. */
export type DatabaseOpener = <T>(database: string, fn: (db: Queryable) => Promise<T>) => Promise<T>;

/** How long another session may block the release before it is ended (below the admin's lock_timeout). */
const BLOCKER_GRACE_MS = 1_000;

/** How long to wait for each ended session of the role to be gone (its temporary objects go with it). */
const SESSION_EXIT_WAIT_MS = 5_000;

type GrantRow = {
  readonly kind: GrantTarget["kind"];
  readonly schema: string | null;
  readonly name: string | null;
  readonly column: string | null;
  readonly routine: string | null;
  readonly largeObject: string | null;
  readonly grantor: string;
};

/**
 * Takes LOGIN away from the role, ends its sessions, then clears what every
 * database but `ownDatabase` (dropped as a whole before) and the shared catalogs
 * hold for it. `db` is the admin's client of the maintenance database.
 */
export async function releaseRole(
  db: Queryable,
  role: string,
  ownDatabase: string,
  open: DatabaseOpener,
): Promise<void> {
  const here = await whileDoing(`while ending the sessions of role "${role}"`, async () => {
    // A CREATEROLE admin needs the role's privileges to end its sessions and for DROP OWNED BY.
    await holdRoles(db, await currentAdmin(db), [role]);
    await db.query(disableLoginSql(role));
    await endSessions(db, role);
    const { rows } = await db.query<{ name: string }>(CATALOG.currentDatabase);
    return rows[0]!.name;
  });
  const places = await whileDoing(`while looking up where role "${role}" is still used`, async () => {
    const { rows } = await db.query<{ database: string | null }>(READS.roleDependencyDatabases, [role]);
    return rows.map((row) => row.database);
  });
  // Shared objects (a null database) are cleared by DROP OWNED in any database: the maintenance one will do.
  const others = places.filter((place): place is string => place !== null && place !== here && place !== ownDatabase);
  if (places.some((place) => place === null || place === here)) await clearRoleIn(db, role, here);
  // The maintenance client is idle meanwhile: it watches that no session in there keeps the release waiting.
  for (const place of others)
    await open(place, (other) => endingBlockers(db, other, () => clearRoleIn(other, role, place)));
}

/**
 * Runs `work` on `client` while `watch` (another session) ends every client session
 * that blocks it for BLOCKER_GRACE_MS: a tenant's open transaction on an object it
 * shared with the departing role would otherwise fail each attempt after lock_timeout.
 */
async function endingBlockers<T>(watch: Queryable, client: Queryable, work: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ pid: number }>(READS.backendPid);
  const pid = rows[0]!.pid;
  let done = false;
  let wake: () => void = () => undefined;
  const watching = (async () => {
    while (!done) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, BLOCKER_GRACE_MS).unref();
      });
      if (!done) await watch.query(READS.terminateBlockers, [pid]).catch(() => undefined);
    }
  })();
  try {
    return await work();
  } finally {
    done = true;
    wake();
    await watching;
  }
}

/** Ends every session of the role and waits (PostgreSQL 14+) until they are gone. */
async function endSessions(db: Queryable, role: string): Promise<void> {
  const { rows } = await db.query<{ version: number }>(CATALOG.serverVersion);
  if ((rows[0]?.version ?? 0) >= 140000) {
    await db.query(READS.terminateRoleSessionsWaiting, [role, SESSION_EXIT_WAIT_MS]);
  } else {
    await db.query(READS.terminateRoleSessions, [role]);
  }
}

/** In the connected database: DROP OWNED BY the role, then revoke, as their grantors, the grants that survived it. */
async function clearRoleIn(db: Queryable, role: string, database: string): Promise<void> {
  await whileDoing(`while removing what database "${database}" holds for role "${role}"`, async () => {
    await db.query(dropOwnedSql(role));
    const { rows } = await db.query<GrantRow>(READS.grantsByOthers, [role]);
    for (const row of rows) {
      await inTransaction(db, async () => {
        await db.query(setLocalRoleSql(row.grantor));
        await db.query(revokeAllFromRoleSql(targetOf(row), role));
      });
    }
  });
}

function targetOf(row: GrantRow): GrantTarget {
  switch (row.kind) {
    case "SCHEMA":
      return { kind: row.kind, name: row.name! };
    case "ROUTINE":
      return { kind: row.kind, routine: row.routine! };
    case "LARGE OBJECT":
      return { kind: row.kind, largeObject: Number(row.largeObject) };
    default:
      return { kind: row.kind, schema: row.schema!, name: row.name!, ...(row.column ? { column: row.column } : {}) };
  }
}

// ---------------------------------------------------------------------------
// SQL of the role release: every value quoted by the helpers of sql.ts.
// ---------------------------------------------------------------------------

/** Catalog reads of this unit; each takes only `$n` parameters (see the note on CATALOG in sql.ts). */
const READS = {
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
} as const;

/** An object a role holds privileges on, as `CATALOG.grantsByOthers` names it. */
type GrantTarget =
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
function revokeAllFromRoleSql(target: GrantTarget, role: string): string {
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
function dropOwnedSql(role: string): string {
  return `DROP OWNED BY ${quoteIdent(role)}`;
}

/** Takes a role's LOGIN away, so that no new session of it starts while it is being dropped. */
function disableLoginSql(role: string): string {
  return `ALTER ROLE ${quoteIdent(role)} NOLOGIN`;
}

/** Becomes `role` until the end of the transaction (to revoke what that role granted). */
function setLocalRoleSql(role: string): string {
  return `SET LOCAL ROLE ${quoteIdent(role)}`;
}
