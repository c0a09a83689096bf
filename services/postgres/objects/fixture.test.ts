/**
 * Shared fixtures for the tests of the SQL units (no tests in here): the two
 * admin kinds, throw-away tenants with unique names, provisioning through the
 * units themselves, and catalog snapshots for the hostile-input suite.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { PostgresServer } from "../../../test/harness/postgres.js";
import { type SqlNames, sqlNames } from "../naming.js";
import type { Marker } from "../ownership.js";
import { generatePassword } from "../passwords.js";
import { quoteIdent } from "../sql.js";
import { ensureDatabase } from "./database.js";
import { applyGrants } from "./grants.js";
import { ensureRole } from "./role.js";

/** The two admins every lifecycle test runs with. */
export const ADMIN_KINDS = ["superuser", "limitedAdmin"] as const;

/** Which admin a test connects as. */
export type AdminKind = (typeof ADMIN_KINDS)[number];

/** A tenant of a test: its resource, SQL names and role passwords. */
export interface TestTenant {
  readonly marker: Marker;
  readonly names: SqlNames;
  readonly appPassword: string;
  readonly inspectorPassword: string;
}

/** A tenant with unique names (the server is shared by every test of the run). */
export function newTenant(label: string): TestTenant {
  const marker = { namespace: `t-${randomBytes(4).toString("hex")}`, name: label };
  return {
    marker,
    names: sqlNames(marker.namespace, marker.name, "prefix_namespace"),
    appPassword: generatePassword(),
    inspectorPassword: generatePassword(),
  };
}

/** Connects as the given admin (to "postgres" unless `database` says otherwise). */
export async function connectAdmin(srv: PostgresServer, kind: AdminKind, database?: string): Promise<pg.Client> {
  return srv.connect({ user: srv[kind].user, password: srv[kind].password, database });
}

/** Creates the tenant's database, roles and grants through the units, as `kind`. */
export async function provision(srv: PostgresServer, kind: AdminKind, tenant: TestTenant): Promise<void> {
  const admin = await connectAdmin(srv, kind);
  try {
    await ensureDatabase(admin, tenant.names.database, {}, tenant.marker);
    await ensureRole(admin, tenant.names.app, tenant.appPassword, tenant.marker);
    await ensureRole(admin, tenant.names.inspector, tenant.inspectorPassword, tenant.marker);
  } finally {
    await admin.end();
  }
  await withClient(connectAdmin(srv, kind, tenant.names.database), (db) =>
    applyGrants(db, tenant.names, tenant.marker),
  );
}

/** Connects as one of the tenant's roles to its database (or `database`). */
export async function connectAs(
  srv: PostgresServer,
  tenant: TestTenant,
  role: "app" | "inspector",
  database = tenant.names.database,
): Promise<pg.Client> {
  const password = role === "app" ? tenant.appPassword : tenant.inspectorPassword;
  return srv.connect({ user: tenant.names[role], password, database });
}

/** Runs `fn` with a client and ends the client afterwards. */
export async function withClient<T>(connecting: Promise<pg.Client>, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connecting;
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Removes whatever a test left of a tenant, as the superuser, whoever created it. */
export async function removeTenant(srv: PostgresServer, names: SqlNames): Promise<void> {
  await withClient(srv.connect(), async (db) => {
    await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(names.database)} WITH (FORCE)`);
    for (const role of [names.app, names.inspector]) await db.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  });
}

/** Every database and role with its comment, ACL and attributes: what the hostile-input suite compares. */
export async function catalogSnapshot(db: pg.Client): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `SELECT 'database ' || d.datname || ' ' || COALESCE(pg_catalog.shobj_description(d.oid, 'pg_database'), '-')
            || ' ' || COALESCE(d.datacl::text, '-') || ' ' || d.datconnlimit || ' ' || d.datistemplate AS line
       FROM pg_catalog.pg_database d
     UNION ALL
     SELECT 'role ' || r.rolname || ' ' || COALESCE(pg_catalog.shobj_description(r.oid, 'pg_authid'), '-')
            || ' ' || r.rolsuper || r.rolcreatedb || r.rolcreaterole || r.rolcanlogin || r.rolreplication
            || r.rolbypassrls || ' ' || r.rolconnlimit
       FROM pg_catalog.pg_roles r
     UNION ALL
     SELECT 'member ' || m.member::pg_catalog.regrole || ' in ' || m.roleid::pg_catalog.regrole
            || ' granted by ' || m.grantor::pg_catalog.regrole
            || ' ' || (pg_catalog.to_jsonb(m) - 'oid' - 'roleid' - 'member' - 'grantor')::text
       FROM pg_catalog.pg_auth_members m
     ORDER BY 1`,
  );
  return rows.map((row) => row.line);
}
