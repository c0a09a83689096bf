/**
 * The grant set of a tenant database as a check/apply unit. Both run on a client
 * connected to the TENANT database (grants on schema public and default
 * privileges live there). `checkGrants` only reads the catalog; `applyGrants` is
 * idempotent and runs only on objects carrying this resource's marker.
 */
import { PostgresOperationError, whileDoing } from "../errors.js";
import { type Marker, requireOurs } from "../ownership.js";
import { inTransaction, type Queryable } from "../queryable.js";
import type { SqlNames } from "../naming.js";
import {
  CATALOG,
  type DatabasePrivilege,
  type SchemaPrivilege,
  defaultReadPrivilegesSql,
  grantOnDatabaseSql,
  grantOnPublicSchemaSql,
  grantLargeObjectCreatorsSql,
  grantSelectOnPublicSql,
  revokeLargeObjectCreatorsSql,
  revokePublicOnDatabaseSql,
} from "../sql.js";
import { inspectDatabase } from "./database.js";
import { currentAdmin, holdRoles, holdsRole } from "./membership.js";
import { inspectRole } from "./role.js";

const APP_DATABASE_PRIVILEGES: readonly DatabasePrivilege[] = ["CONNECT", "TEMPORARY", "CREATE"];
const APP_SCHEMA_PRIVILEGES: readonly SchemaPrivilege[] = ["USAGE", "CREATE"];
const INSPECTOR_DATABASE_PRIVILEGES: readonly DatabasePrivilege[] = ["CONNECT"];
const INSPECTOR_SCHEMA_PRIVILEGES: readonly SchemaPrivilege[] = ["USAGE"];

/** Default privileges app → inspector: object type in pg_default_acl, privilege, and a label for messages. */
const DEFAULT_READ_PRIVILEGES = [
  { objectType: "r", privilege: "SELECT", label: "tables" },
  { objectType: "S", privilege: "SELECT", label: "sequences" },
  { objectType: "n", privilege: "USAGE", label: "schemas" },
] as const;

/**
 * Lists what is missing from the grant set, as readable sentences; empty when all
 * is in place. Only catalog reads: safe to run on every resync.
 */
export async function checkGrants(tenant: Queryable, names: SqlNames): Promise<readonly string[]> {
  return whileDoing(`while checking the grants in database "${names.database}"`, async () => {
    await requireTenantDatabase(tenant, names.database);
    const missing: string[] = [];
    const admin = await currentAdmin(tenant);
    for (const role of [names.app, names.inspector]) {
      if (!(await holdsRole(tenant, admin, role))) missing.push(`admin "${admin.name}" is not a member of "${role}"`);
    }
    const publicPrivileges = await tenant.query<{ privilege: string }>(CATALOG.publicDatabasePrivileges, [
      names.database,
    ]);
    for (const { privilege } of publicPrivileges.rows) {
      if (privilege !== "CREATE") missing.push(`PUBLIC still has ${privilege} on database "${names.database}"`);
    }
    await collectDatabasePrivileges(tenant, names.app, names.database, APP_DATABASE_PRIVILEGES, missing);
    await collectSchemaPrivileges(tenant, names.app, APP_SCHEMA_PRIVILEGES, missing);
    await collectDatabasePrivileges(tenant, names.inspector, names.database, INSPECTOR_DATABASE_PRIVILEGES, missing);
    await collectSchemaPrivileges(tenant, names.inspector, INSPECTOR_SCHEMA_PRIVILEGES, missing);
    const unreadable = await tenant.query<{ name: string }>(CATALOG.publicRelationsNotReadable, [names.inspector]);
    for (const { name } of unreadable.rows) missing.push(`"${names.inspector}" cannot SELECT public."${name}"`);
    for (const { objectType, privilege, label } of DEFAULT_READ_PRIVILEGES) {
      const values = [names.app, names.inspector, objectType, privilege];
      if (!(await queryFlag(tenant, CATALOG.hasDefaultPrivilege, values, "granted"))) {
        missing.push(`no default ${privilege} for "${names.inspector}" on ${label} created by "${names.app}"`);
      }
    }
    const largeObjects = await largeObjectRights(tenant, names);
    if (largeObjects.owner && largeObjects.inspector) {
      missing.push(`"${names.inspector}" may create large objects (PUBLIC may execute ${LARGE_OBJECT_CREATORS})`);
    }
    if (largeObjects.grantable && !largeObjects.app)
      missing.push(`"${names.app}" may not execute ${LARGE_OBJECT_CREATORS}`);
    return missing;
  });
}

/**
 * What keeps inspector from being read-only and the admin cannot change, as sentences
 * (empty when nothing does): PUBLIC may execute the functions that create large
 * objects unless their owner (a superuser) revoked that in this database or in its template.
 */
export async function grantLimitations(tenant: Queryable, names: SqlNames): Promise<readonly string[]> {
  return whileDoing(`while checking the grants in database "${names.database}"`, async () => {
    const largeObjects = await largeObjectRights(tenant, names);
    if (largeObjects.owner || !largeObjects.inspector) return [];
    return [
      `"${names.inspector}" can create large objects: PUBLIC may execute ${LARGE_OBJECT_CREATORS} in this database ` +
        `and only a superuser can revoke that (see "Deletion, templates and the inspector" in docs/security.md)`,
    ];
  });
}

/**
 * Grants the whole set (idempotent), in one transaction: app may do all DDL/DML
 * in its database, inspector may read public (also what app creates later), and
 * PUBLIC keeps nothing. A non-superuser admin first becomes a member of both
 * tenant roles (admin ∈ tenant, never the other way round): ALTER DEFAULT
 * PRIVILEGES FOR ROLE and ending the roles' sessions on drop need it.
 */
export async function applyGrants(tenant: Queryable, names: SqlNames, owner: Marker): Promise<void> {
  const doing = `while granting privileges in database "${names.database}"`;
  await requireOwnership(tenant, names, owner, doing);
  await whileDoing(doing, async () => {
    const admin = await currentAdmin(tenant);
    await inTransaction(tenant, async () => {
      await holdRoles(tenant, admin, [names.app, names.inspector]);
      for (const statement of grantStatements(names)) await tenant.query(statement);
      // Inspector may not write large objects; app keeps creating them. Only the functions' owner may revoke
      // PUBLIC's EXECUTE; an admin with the grant option (given in the template) can still grant app its own.
      const largeObjects = await largeObjectRights(tenant, names);
      if (largeObjects.grantable) await tenant.query(grantLargeObjectCreatorsSql(names.app));
      if (largeObjects.owner) await tenant.query(revokeLargeObjectCreatorsSql());
    });
  });
}

/** The statements of the grant set, in order. */
function grantStatements(names: SqlNames): string[] {
  return [
    revokePublicOnDatabaseSql(names.database),
    // PostgreSQL 15+ no longer gives PUBLIC CREATE on public; older servers do, and the inspector must not create.
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    grantOnDatabaseSql(APP_DATABASE_PRIVILEGES, names.database, names.app),
    grantOnPublicSchemaSql(APP_SCHEMA_PRIVILEGES, names.app),
    grantOnDatabaseSql(INSPECTOR_DATABASE_PRIVILEGES, names.database, names.inspector),
    grantOnPublicSchemaSql(INSPECTOR_SCHEMA_PRIVILEGES, names.inspector),
    ...grantSelectOnPublicSql(names.inspector),
    ...defaultReadPrivilegesSql(names.app, names.inspector),
  ];
}

/** The names of the functions that create large objects, for messages. */
const LARGE_OBJECT_CREATORS = "lo_create, lo_creat and lo_from_bytea";

interface LargeObjectRights {
  /** The admin owns the functions (is a superuser): it may revoke PUBLIC's EXECUTE. */
  readonly owner: boolean;
  /** The admin may grant EXECUTE on them to app. */
  readonly grantable: boolean;
  /** Inspector may call one of them. */
  readonly inspector: boolean;
  /** App may call all of them. */
  readonly app: boolean;
}

async function largeObjectRights(tenant: Queryable, names: SqlNames): Promise<LargeObjectRights> {
  const { rows } = await tenant.query<LargeObjectRights & Record<string, unknown>>(CATALOG.largeObjectRights, [
    names.inspector,
    names.app,
  ]);
  const row = rows[0];
  return {
    owner: row?.owner === true,
    grantable: row?.grantable === true,
    inspector: row?.inspector === true,
    app: row?.app === true,
  };
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

async function collectDatabasePrivileges(
  tenant: Queryable,
  role: string,
  database: string,
  privileges: readonly DatabasePrivilege[],
  missing: string[],
): Promise<void> {
  for (const privilege of privileges) {
    if (!(await queryFlag(tenant, CATALOG.hasDatabasePrivilege, [role, database, privilege], "granted"))) {
      missing.push(`"${role}" lacks ${privilege} on database "${database}"`);
    }
  }
}

async function collectSchemaPrivileges(
  tenant: Queryable,
  role: string,
  privileges: readonly SchemaPrivilege[],
  missing: string[],
): Promise<void> {
  for (const privilege of privileges) {
    if (!(await queryFlag(tenant, CATALOG.hasPublicSchemaPrivilege, [role, privilege], "granted"))) {
      missing.push(`"${role}" lacks ${privilege} on schema public`);
    }
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

async function queryFlag(
  tenant: Queryable,
  text: string,
  values: readonly unknown[],
  column: string,
): Promise<boolean> {
  const { rows } = await tenant.query(text, values);
  return rows[0]?.[column] === true;
}
