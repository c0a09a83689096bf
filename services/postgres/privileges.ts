import type pg from "pg";

/** A right the instance user needs to provision databases and their roles. */
export type RequiredPrivilege = "CREATEDB" | "CREATEROLE";

/** Whether the connected user may create databases and roles, and which right is missing if not. */
export type PrivilegeCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly missing: readonly RequiredPrivilege[]; readonly message: string };

const CURRENT_ROLE_ATTRIBUTES = `
  SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole
  FROM pg_catalog.pg_roles AS r
  WHERE r.rolname = current_user`;

interface RoleAttributes {
  readonly rolname: string;
  readonly rolsuper: boolean;
  readonly rolcreatedb: boolean;
  readonly rolcreaterole: boolean;
}

/** Reads the current user's role attributes (changing nothing) and says whether they suffice: superuser, or CREATEDB and CREATEROLE. */
export async function checkPrivileges(client: pg.ClientBase): Promise<PrivilegeCheck> {
  const { rows } = await client.query<RoleAttributes>(CURRENT_ROLE_ATTRIBUTES);
  const role = rows[0];
  if (!role) throw new Error("while checking privileges: the current user was not found in pg_catalog.pg_roles");
  if (role.rolsuper) return { ok: true };
  const missing: RequiredPrivilege[] = [];
  if (!role.rolcreatedb) missing.push("CREATEDB");
  if (!role.rolcreaterole) missing.push("CREATEROLE");
  if (missing.length === 0) return { ok: true };
  return {
    ok: false,
    missing,
    message: `user "${role.rolname}" lacks ${missing.join(" and ")}: it must be a superuser or have CREATEDB and CREATEROLE`,
  };
}
