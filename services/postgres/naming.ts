/**
 * SQL names for a PostgresDatabase (docs/postgres-database.md, Names on the server): lowercase, `[a-z0-9_]` only, and at
 * most 63 bytes; a longer name is cut and ends in `_` plus a hash of the full name,
 * so two resources never meet in one name by truncation.
 */
import { createHash } from "node:crypto";
import { MAX_IDENTIFIER_BYTES } from "./sql.js";

/** How the database name is derived from the resource (`spec.databaseNamingStrategy`). */
export type NamingStrategy = "prefix_namespace" | "resource_name";

/** The two login roles made for every database. */
export type RoleKind = "app" | "inspector";

/** The SQL names of one PostgresDatabase. */
export interface SqlNames {
  readonly database: string;
  readonly app: string;
  readonly inspector: string;
}

const HASH_HEX_CHARS = 8;

/** The sanitised, not yet shortened database name: `<namespace>_<name>` or `<name>`. */
export function fullDatabaseName(namespace: string, name: string, strategy: NamingStrategy): string {
  const raw = strategy === "prefix_namespace" ? `${namespace}_${name}` : name;
  const sanitised = raw.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  if (sanitised.length === 0) {
    throw new Error(`while naming the database of ${namespace}/${name}: the name is empty`);
  }
  return sanitised;
}

/** The database name of a resource, shortened to PostgreSQL's limit if needed. */
export function databaseName(namespace: string, name: string, strategy: NamingStrategy): string {
  return fitIdentifier(fullDatabaseName(namespace, name, strategy));
}

/** A role name `<database>_<kind>`; pass the full (unshortened) database name so the hash covers all of it. */
export function roleName(fullDatabase: string, kind: RoleKind): string {
  return fitIdentifier(`${fullDatabase}_${kind}`);
}

/** The database and role names of a resource. */
export function sqlNames(namespace: string, name: string, strategy: NamingStrategy): SqlNames {
  const full = fullDatabaseName(namespace, name, strategy);
  return { database: fitIdentifier(full), app: roleName(full, "app"), inspector: roleName(full, "inspector") };
}

/** Returns a sanitised name as is if it fits, else its head, `_` and 8 hex of its SHA-256 (63 bytes in all). */
export function fitIdentifier(sanitised: string): string {
  if (sanitised.length <= MAX_IDENTIFIER_BYTES) return sanitised;
  const hash = createHash("sha256").update(sanitised).digest("hex").slice(0, HASH_HEX_CHARS);
  return `${sanitised.slice(0, MAX_IDENTIFIER_BYTES - HASH_HEX_CHARS - 1)}_${hash}`;
}
