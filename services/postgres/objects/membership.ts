/**
 * The admin's hold on tenant roles. A CREATEROLE admin becomes a member of each
 * tenant role (admin ∈ tenant, never the other way round): altering the role's
 * default privileges, ending its sessions and DROP OWNED BY it need the role's
 * privileges. A superuser has them already.
 */
import type { Queryable } from "../queryable.js";
import { quoteIdent } from "../sql.js";

/** The connected admin: its name, what it may create, and the server it is connected to. */
export interface Admin {
  readonly name: string;
  readonly superuser: boolean;
  /** It may create databases (CREATEDB). */
  readonly createdb: boolean;
  /** It may create roles (CREATEROLE). */
  readonly createrole: boolean;
  /** The server's major version, e.g. 16 (PostgreSQL 16+ limits what a CREATEROLE admin may do). */
  readonly serverMajorVersion: number;
}

/** Reads, in one statement, who the connected admin is, what it may create and the server's major version. */
export async function currentAdmin(db: Queryable): Promise<Admin> {
  const { rows } = await db.query<{ [K in keyof Admin]: Admin[K] }>(READS.currentAdmin);
  const admin = rows[0];
  if (admin === undefined) throw new Error("while reading the connected admin: its role is not in pg_catalog.pg_roles");
  return admin;
}

/** Whether `admin` holds `role`'s privileges (always true for a superuser). */
export async function holdsRole(db: Queryable, admin: Admin, role: string): Promise<boolean> {
  if (admin.superuser) return true;
  const { rows } = await db.query<{ member: boolean }>(READS.isMemberOf, [admin.name, role]);
  return rows[0]?.member === true;
}

/** Observes the hold: a sentence for each of `roles` whose privileges `admin` does not hold (empty when it holds all). */
export async function missingHolds(db: Queryable, admin: Admin, roles: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const role of roles) {
    if (!(await holdsRole(db, admin, role))) missing.push(`admin "${admin.name}" is not a member of "${role}"`);
  }
  return missing;
}

/** The hold as the combined read (tenant-facts.ts) sees it: the connected admin, and whether it holds each tenant role (null: no such role). */
export interface AdminHoldsFact {
  readonly admin: string;
  readonly app: boolean | null;
  readonly inspector: boolean | null;
}

/** The hold's fact in the combined read, for app ($2) and inspector ($3): a JSON object (see AdminHoldsFact). */
export const ADMIN_HOLDS_FACT_SQL =
  "pg_catalog.json_build_object('admin'::pg_catalog.text, pg_catalog.current_user(), 'app'::pg_catalog.text, (SELECT pg_catalog.pg_has_role(r.oid, 'USAGE'::pg_catalog.text) FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $2::pg_catalog.name), 'inspector'::pg_catalog.text, (SELECT pg_catalog.pg_has_role(r.oid, 'USAGE'::pg_catalog.text) FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $3::pg_catalog.name))";

/** Observes the hold from the combined read, as missingHolds words it (empty when the admin holds both roles). */
export function missingHoldsFromFact(
  fact: AdminHoldsFact,
  names: { readonly app: string; readonly inspector: string },
): string[] {
  const kinds = ["app", "inspector"] as const;
  return kinds
    .filter((kind) => fact[kind] !== true)
    .map((kind) => `admin "${fact.admin}" is not a member of "${names[kind]}"`);
}

/** Makes a non-superuser admin a member of each of `roles` it does not hold yet; a superuser needs nothing. */
export async function holdRoles(db: Queryable, admin: Admin, roles: readonly string[]): Promise<void> {
  for (const role of roles) {
    if (!(await holdsRole(db, admin, role))) await db.query(grantRoleSql(role, admin.name));
  }
}

// ---------------------------------------------------------------------------
// SQL of the membership unit: every value quoted by the helpers of sql.ts.
// ---------------------------------------------------------------------------

/** Catalog reads of this unit; each takes only `$n` parameters (see the note on CATALOG in sql.ts). */
const READS = {
  /** The connected user, whether it is a superuser, whether it may create databases and roles, and the server's major version. */
  currentAdmin:
    "SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, pg_catalog.current_setting('server_version_num'::pg_catalog.text)::pg_catalog.int4 OPERATOR(pg_catalog./) 10000::pg_catalog.int4 AS \"serverMajorVersion\" FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user()",

  /** $1 = member, $2 = role: whether $1 holds $2's privileges (to alter its default privileges, end its sessions). */
  isMemberOf:
    "SELECT pg_catalog.pg_has_role($1::pg_catalog.name, $2::pg_catalog.name, 'USAGE'::pg_catalog.text) AS member",
} as const;

/** Makes `member` a member of `role` (used only as admin ∈ tenant role, never the other way round). */
function grantRoleSql(role: string, member: string): string {
  return `GRANT ${quoteIdent(role)} TO ${quoteIdent(member)}`;
}
