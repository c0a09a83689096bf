/**
 * The privileges of a tenant database's roles, declared once. The grant set unit
 * (grants.ts) derives both the check (what is missing or extra) and the statements
 * that apply it from this table, in its order; the kinds of object and their SQL
 * are in privilege-targets.ts. Adding a privilege is one entry (or one keyword) here.
 */
import type { Grantee, PrivilegesOn, Rule, TargetName } from "./privilege-targets.js";

/** One line of the table: `grantee` must hold (grant) or must not hold (revoke) `privileges` on `on`. */
export type DeclaredPrivileges = {
  readonly [K in TargetName]: {
    readonly grantee: Grantee;
    readonly rule: Rule;
    readonly privileges: readonly PrivilegesOn[K][];
    readonly on: K;
  };
}[TargetName];

/**
 * app may do all DDL and DML in its database, inspector may only read schema public
 * (also what app creates later), and PUBLIC keeps nothing. Statements run in this order.
 */
export const TENANT_PRIVILEGES: readonly DeclaredPrivileges[] = [
  { grantee: "PUBLIC", rule: "revoke", privileges: ["CONNECT", "TEMPORARY", "CREATE"], on: "database" },
  // PostgreSQL 15+ no longer gives PUBLIC CREATE on public; older servers do, and the inspector must not create.
  { grantee: "PUBLIC", rule: "revoke", privileges: ["CREATE"], on: "schema public" },
  { grantee: "app", rule: "grant", privileges: ["CONNECT", "TEMPORARY", "CREATE"], on: "database" },
  { grantee: "app", rule: "grant", privileges: ["USAGE", "CREATE"], on: "schema public" },
  { grantee: "inspector", rule: "grant", privileges: ["CONNECT"], on: "database" },
  { grantee: "inspector", rule: "grant", privileges: ["USAGE"], on: "schema public" },
  { grantee: "inspector", rule: "grant", privileges: ["SELECT"], on: "tables in public" },
  { grantee: "inspector", rule: "grant", privileges: ["SELECT"], on: "sequences in public" },
  { grantee: "inspector", rule: "grant", privileges: ["SELECT"], on: "tables app creates" },
  { grantee: "inspector", rule: "grant", privileges: ["SELECT"], on: "sequences app creates" },
  { grantee: "inspector", rule: "grant", privileges: ["USAGE"], on: "schemas app creates" },
  // app keeps creating large objects, as it could through PUBLIC; inspector may not write them.
  { grantee: "app", rule: "grant", privileges: ["EXECUTE"], on: "large-object creators" },
  { grantee: "PUBLIC", rule: "revoke", privileges: ["EXECUTE"], on: "large-object creators" },
];
