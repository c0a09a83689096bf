/**
 * The combined read: in one statement on the maintenance database, what the database, role,
 * membership and grant set units need to decide that nothing in the shared catalog drifted
 * (the database and its marker, both roles with marker, attributes and, for a superuser admin,
 * the stored SCRAM verifiers, the admin's hold on them, and the privileges on the database).
 * Each fact's SQL and its reading live in its unit (one declaration per fact); this module only
 * puts them into one SELECT. What lives in the tenant database's own catalogs (schema public,
 * tables, default privileges, extensions) is not here: checking it needs a client in that database.
 */
import type { SqlNames } from "../naming.js";
import type { Queryable } from "../queryable.js";
import { whileDoing } from "../errors.js";
import { DATABASE_FACT_SQL, type DatabaseFact } from "./database.js";
import { DATABASE_PRIVILEGES_FACT_SQL, DECLARED_DATABASE_PRIVILEGES, type DatabasePrivilegesFact } from "./grants.js";
import { ADMIN_HOLDS_FACT_SQL, type AdminHoldsFact } from "./membership.js";
import { roleFactSql, type RoleFact } from "./role.js";

/** What the combined read found; a null object does not exist. */
export type TenantFacts = {
  readonly database: DatabaseFact | null;
  readonly app: RoleFact | null;
  readonly inspector: RoleFact | null;
  readonly adminHolds: AdminHoldsFact;
  readonly databasePrivileges: DatabasePrivilegesFact | null;
};

/**
 * The statement: $1 = database, $2 = app, $3 = inspector, $4 = the privileges declared on the
 * database. `readsPasswords` (a superuser admin) also reads the roles' stored verifiers.
 */
export function tenantFactsSql(readsPasswords: boolean): string {
  const columns: Record<keyof TenantFacts, string> = {
    database: DATABASE_FACT_SQL,
    app: roleFactSql("$2", readsPasswords),
    inspector: roleFactSql("$3", readsPasswords),
    adminHolds: ADMIN_HOLDS_FACT_SQL,
    databasePrivileges: DATABASE_PRIVILEGES_FACT_SQL,
  };
  return `SELECT ${Object.entries(columns)
    .map(([name, sql]) => `${sql} AS "${name}"`)
    .join(", ")}`;
}

/** Runs the combined read for one tenant on a client of the maintenance database (catalog reads only). */
export async function readTenantFacts(db: Queryable, names: SqlNames, readsPasswords: boolean): Promise<TenantFacts> {
  return whileDoing(`while reading the state of database "${names.database}" and its roles`, async () => {
    const values = [names.database, names.app, names.inspector, DECLARED_DATABASE_PRIVILEGES];
    const { rows } = await db.query<TenantFacts>(tenantFactsSql(readsPasswords), values);
    const row = rows[0];
    if (row === undefined) throw new Error("the combined read returned no row");
    return row;
  });
}
