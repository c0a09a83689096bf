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
import {
  CATALOG,
  disableLoginSql,
  dropOwnedSql,
  type GrantTarget,
  revokeAllFromRoleSql,
  setLocalRoleSql,
} from "../sql.js";
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
    const { rows } = await db.query<{ database: string | null }>(CATALOG.roleDependencyDatabases, [role]);
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
  const { rows } = await client.query<{ pid: number }>(CATALOG.backendPid);
  const pid = rows[0]!.pid;
  let done = false;
  let wake: () => void = () => undefined;
  const watching = (async () => {
    while (!done) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, BLOCKER_GRACE_MS).unref();
      });
      if (!done) await watch.query(CATALOG.terminateBlockers, [pid]).catch(() => undefined);
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
    await db.query(CATALOG.terminateRoleSessionsWaiting, [role, SESSION_EXIT_WAIT_MS]);
  } else {
    await db.query(CATALOG.terminateRoleSessions, [role]);
  }
}

/** In the connected database: DROP OWNED BY the role, then revoke, as their grantors, the grants that survived it. */
async function clearRoleIn(db: Queryable, role: string, database: string): Promise<void> {
  await whileDoing(`while removing what database "${database}" holds for role "${role}"`, async () => {
    await db.query(dropOwnedSql(role));
    const { rows } = await db.query<GrantRow>(CATALOG.grantsByOthers, [role]);
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
