/**
 * The grant set of a tenant database as an observe/apply unit, both derived from
 * the one declaration in tenant-privileges.ts. Both run on a client connected to
 * the TENANT database (grants on schema public and default privileges live
 * there). `checkGrants` only reads the catalog; `applyGrants` is idempotent and
 * runs only on objects carrying this resource's marker.
 */
import { PostgresOperationError, whileDoing } from "../errors.js";
import { type Marker, requireOurs } from "../ownership.js";
import { inTransaction, type Queryable } from "../queryable.js";
import type { SqlNames } from "../naming.js";
import { CATALOG } from "../sql.js";
import { inspectDatabase } from "./database.js";
import { currentAdmin, holdRoles, missingHolds } from "./membership.js";
import { PRIVILEGE_TARGETS, type PrivilegeTarget, type ResolvedPrivileges } from "./privilege-targets.js";
import { inspectRole } from "./role.js";
import { type DeclaredPrivileges, TENANT_PRIVILEGES } from "./tenant-privileges.js";

/**
 * Lists what differs from the grant set (missing, or held by PUBLIC where it must
 * not be), as readable sentences in table order; empty when all is in place. Only
 * catalog reads: safe to run on every resync.
 */
export async function checkGrants(tenant: Queryable, names: SqlNames): Promise<readonly string[]> {
  return whileDoing(`while checking the grants in database "${names.database}"`, async () => {
    await requireTenantDatabase(tenant, names.database);
    const missing = await missingHolds(tenant, await currentAdmin(tenant), [names.app, names.inspector]);
    for (const [target, entry] of declared(names)) missing.push(...(await target.observe(tenant, entry)));
    return missing;
  });
}

/**
 * The database-level privileges as the combined read (tenant-facts.ts) sees them: which of the
 * declared ones PUBLIC, app and inspector hold (null for a role that does not exist). They live in
 * the shared catalog, so unlike the rest of the grant set they need no client in the tenant database.
 */
export interface DatabasePrivilegesFact {
  readonly PUBLIC: readonly string[];
  readonly app: readonly string[] | null;
  readonly inspector: readonly string[] | null;
}

/** The privileges the table declares on the database itself, for $4 of DATABASE_PRIVILEGES_FACT_SQL. */
export const DECLARED_DATABASE_PRIVILEGES: readonly string[] = [
  ...new Set(TENANT_PRIVILEGES.flatMap((entry) => (entry.on === "database" ? entry.privileges : []))),
];

/**
 * Those of $4 that `role` (a typed literal or `$n`) holds on database d; for a tenant role, NULL
 * when it does not exist (has_database_privilege would fail on an unknown role name).
 */
function heldOnDatabaseSql(role: string, tenantRole: boolean): string {
  const held = `ARRAY(SELECT p.privilege FROM pg_catalog.unnest($4::pg_catalog.text[]) AS p(privilege) WHERE pg_catalog.has_database_privilege(${role}, d.oid, p.privilege))`;
  if (!tenantRole) return held;
  return `CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) ${role}) THEN ${held} END`;
}

/** The database privileges' fact in the combined read ($1 = database, $2 = app, $3 = inspector, $4 = privileges); NULL without the database. */
export const DATABASE_PRIVILEGES_FACT_SQL = `(SELECT pg_catalog.json_build_object('PUBLIC'::pg_catalog.text, ${heldOnDatabaseSql("'public'::pg_catalog.name", false)}, 'app'::pg_catalog.text, ${heldOnDatabaseSql("$2::pg_catalog.name", true)}, 'inspector'::pg_catalog.text, ${heldOnDatabaseSql("$3::pg_catalog.name", true)}) FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) $1::pg_catalog.name)`;

/**
 * What differs from the table's entries on the database itself, from the combined read, worded
 * as checkGrants words it; a missing database or role counts as differing.
 */
export function databaseGrantDrift(fact: DatabasePrivilegesFact | null, names: SqlNames): string[] {
  const label = `database "${names.database}"`;
  if (fact === null) return [`${label} does not exist`];
  const drift: string[] = [];
  for (const entry of TENANT_PRIVILEGES) {
    if (entry.on !== "database") continue;
    const held = fact[entry.grantee];
    const grantee = entry.grantee === "PUBLIC" ? "PUBLIC" : `"${names[entry.grantee]}"`;
    if (held === null) {
      drift.push(`${grantee} does not exist`);
      continue;
    }
    for (const privilege of entry.privileges) {
      const holds = held.includes(privilege);
      if (entry.rule === "grant" && !holds) drift.push(`${grantee} lacks ${privilege} on ${label}`);
      if (entry.rule === "revoke" && holds) drift.push(`${grantee} still has ${privilege} on ${label}`);
    }
  }
  return drift;
}

/**
 * What keeps inspector from being read-only and the admin cannot change, as sentences
 * (empty when nothing does): PUBLIC may execute the functions that create large
 * objects unless their owner (a superuser) revoked that in this database or in its template.
 */
export async function grantLimitations(tenant: Queryable, names: SqlNames): Promise<readonly string[]> {
  return whileDoing(`while checking the grants in database "${names.database}"`, async () => {
    const limitations: string[] = [];
    for (const [target, entry] of declared(names)) {
      if (target.limitations !== undefined) limitations.push(...(await target.limitations(tenant, entry)));
    }
    return limitations;
  });
}

/**
 * Applies the whole set (idempotent), in one transaction and table order. A
 * non-superuser admin first becomes a member of both tenant roles (admin ∈ tenant,
 * never the other way round): ALTER DEFAULT PRIVILEGES FOR ROLE and ending the
 * roles' sessions on drop need it.
 */
export async function applyGrants(tenant: Queryable, names: SqlNames, owner: Marker): Promise<void> {
  const doing = `while granting privileges in database "${names.database}"`;
  await requireOwnership(tenant, names, owner, doing);
  await whileDoing(doing, async () => {
    const admin = await currentAdmin(tenant);
    await inTransaction(tenant, async () => {
      await holdRoles(tenant, admin, [names.app, names.inspector]);
      for (const [target, entry] of declared(names)) await target.apply(tenant, entry);
    });
  });
}

/** The table's entries with this tenant's names, each beside its target. */
function declared(names: SqlNames): [PrivilegeTarget, ResolvedPrivileges][] {
  return TENANT_PRIVILEGES.map((entry: DeclaredPrivileges) => [
    PRIVILEGE_TARGETS[entry.on],
    { rule: entry.rule, grantee: entry.grantee, privileges: entry.privileges, names },
  ]);
}

async function requireOwnership(tenant: Queryable, names: SqlNames, owner: Marker, doing: string): Promise<void> {
  await whileDoing(doing, () => requireTenantDatabase(tenant, names.database));
  const database = await inspectDatabase(tenant, names.database, owner);
  requireOurs(database, "database", names.database, doing);
  for (const role of [names.app, names.inspector]) {
    const found = await inspectRole(tenant, role, owner);
    requireOurs(found, "role", role, doing);
  }
}

async function requireTenantDatabase(tenant: Queryable, database: string): Promise<void> {
  const { rows } = await tenant.query<{ name: string }>(CATALOG.currentDatabase);
  const current = rows[0]?.name;
  if (current !== database) {
    // A programming error, not the user's: schema grants made elsewhere would land in the wrong database.
    throw new PostgresOperationError(
      `while working on the grants of database "${database}"`,
      `the client is connected to "${String(current)}"; connect to the tenant database instead`,
    );
  }
}
