/**
 * Whether the instance's admin may provision databases and their roles: a
 * superuser, or CREATEDB and CREATEROLE. The admin's attributes (and the server's
 * major version) are read by the membership unit (objects/membership.ts), which
 * every admin session uses.
 */
import type { Queryable } from "./queryable.js";
import { type Admin, currentAdmin } from "./objects/membership.js";

/** A right the instance user needs to provision databases and their roles. */
export type RequiredPrivilege = "CREATEDB" | "CREATEROLE";

/** Whether the connected user may create databases and roles, which right is missing if not, and the admin as read. */
export type PrivilegeCheck = { readonly admin: Admin } & (
  | { readonly ok: true }
  | { readonly ok: false; readonly missing: readonly RequiredPrivilege[]; readonly message: string }
);

/**
 * Reads the current user's role attributes and the server's major version in one statement
 * (changing nothing) and says whether they suffice: superuser, or CREATEDB and CREATEROLE.
 */
export async function checkPrivileges(client: Queryable): Promise<PrivilegeCheck> {
  const admin = await currentAdmin(client);
  if (admin.superuser) return { admin, ok: true };
  const missing: RequiredPrivilege[] = [];
  if (!admin.createdb) missing.push("CREATEDB");
  if (!admin.createrole) missing.push("CREATEROLE");
  if (missing.length === 0) return { admin, ok: true };
  return {
    admin,
    ok: false,
    missing,
    message: `user "${admin.name}" lacks ${missing.join(" and ")}: it must be a superuser or have CREATEDB and CREATEROLE`,
  };
}
