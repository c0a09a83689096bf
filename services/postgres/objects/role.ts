/**
 * A tenant login role as a get/create/update/drop unit. Passwords go to the
 * server only as SCRAM verifiers computed here, never appear in error messages,
 * and no function touches a role that does not carry this resource's marker.
 */
import { faultPoint } from "../../../runtime/fault-points.js";
import { UserFixableError, classify, sqlStateOf, whileDoing } from "../errors.js";
import { type Inspection, type Marker, judge, markerFor, requireOurs } from "../ownership.js";
import { inTransaction, type Queryable } from "../queryable.js";
import { scramSha256Verifier, verifierMatches } from "../scram.js";
import { quoteIdent, quoteLiteral } from "../sql.js";
import { type DatabaseOpener, releaseRole } from "./role-release.js";

/** A lookup of a role; for one of ours, the attributes that drifted from LOGIN-and-nothing-more (empty if none). */
export type RoleInspection =
  | Exclude<Inspection, { readonly state: "ours" }>
  | { readonly state: "ours"; readonly drift: readonly TenantRoleAttribute[] };

/** What `ensureRole` did. */
export type EnsureRoleResult = "created" | "repaired" | "present";

/** What `dropRole` did. */
export type DropRoleResult = "dropped" | "missing";

/** Tries to log in as `user` with `password`; rejects with pg's error (SQLSTATE 28P01 for a wrong password). */
export type LoginProbe = (user: string, password: string) => Promise<void>;

type RoleRow = {
  readonly comment: string | null;
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  readonly replication: boolean;
  readonly bypassrls: boolean;
};

/** Looks the role up by name: missing, ours (with attribute drift) or foreign. A cheap catalog read. */
export async function inspectRole(db: Queryable, name: string, expected: Marker): Promise<RoleInspection> {
  return whileDoing(`while looking up role "${name}"`, async (): Promise<RoleInspection> => {
    const { rows } = await db.query<RoleRow>(READS.roleByName, [name]);
    return judgeRole(rows[0], expected);
  });
}

/**
 * The role as the combined read (tenant-facts.ts) sees it: what inspectRole reads, and the stored
 * SCRAM verifier when the admin may read pg_authid (else null); null when the role does not exist.
 */
export type RoleFact = RoleRow & { readonly verifier: string | null };

/**
 * The role's fact in the combined read, for the role named by `nameParam` (a `$n`):
 * a JSON object (see RoleFact) or NULL. `readsPasswords` (a superuser admin) reads pg_authid,
 * so that the password check needs no login; others read pg_roles, which hides it.
 */
export function roleFactSql(nameParam: string, readsPasswords: boolean): string {
  const from = readsPasswords ? "pg_catalog.pg_authid" : "pg_catalog.pg_roles";
  const verifier = readsPasswords ? "r.rolpassword" : "NULL::pg_catalog.text";
  return `(SELECT pg_catalog.json_build_object('comment'::pg_catalog.text, pg_catalog.shobj_description(r.oid, 'pg_authid'::pg_catalog.name), 'login'::pg_catalog.text, r.rolcanlogin, 'superuser'::pg_catalog.text, r.rolsuper, 'createdb'::pg_catalog.text, r.rolcreatedb, 'createrole'::pg_catalog.text, r.rolcreaterole, 'replication'::pg_catalog.text, r.rolreplication, 'bypassrls'::pg_catalog.text, r.rolbypassrls, 'verifier'::pg_catalog.text, ${verifier}) FROM ${from} r WHERE r.rolname OPERATOR(pg_catalog.=) ${nameParam}::pg_catalog.name)`;
}

/** The role's fact judged like inspectRole: missing, ours (with attribute drift) or foreign. */
export function roleFromFact(fact: RoleFact | null, expected: Marker): RoleInspection {
  return judgeRole(fact ?? undefined, expected);
}

/**
 * Whether the fact proves the role's password is `password`: true or false when it carries the
 * stored verifier, undefined when it does not (an admin that cannot read pg_authid: see rolePasswordInSync).
 */
export async function passwordMatchesFact(fact: RoleFact | null, password: string): Promise<boolean | undefined> {
  if (typeof fact?.verifier !== "string") return undefined;
  return verifierMatches(fact.verifier, password);
}

function judgeRole(row: RoleRow | undefined, expected: Marker): RoleInspection {
  if (row === undefined) return { state: "missing" };
  const found = judge(row.comment, true, expected);
  if (found.state !== "ours") return found;
  const wanted: [boolean, TenantRoleAttribute][] = [
    [row.login, "LOGIN"],
    [!row.superuser, "NOSUPERUSER"],
    [!row.createdb, "NOCREATEDB"],
    [!row.createrole, "NOCREATEROLE"],
    [!row.replication, "NOREPLICATION"],
    [!row.bypassrls, "NOBYPASSRLS"],
  ];
  return { state: "ours", drift: wanted.filter(([ok]) => !ok).map(([, attribute]) => attribute) };
}

/** Creates the role (LOGIN, nothing more) with the password's SCRAM verifier and our marker, in one transaction. */
export async function createRole(db: Queryable, name: string, password: string, owner: Marker): Promise<void> {
  const verifier = await scramSha256Verifier(password);
  await whileDoing(
    `while creating role "${name}"`,
    () =>
      inTransaction(db, async () => {
        await db.query(createRoleSql(name, verifier));
        await db.query(commentOnRoleSql(name, markerFor(owner.namespace, owner.name)));
      }),
    [password, verifier],
  );
}

/**
 * Makes sure the role exists and is ours: creates it with `password` if missing,
 * puts drifted attributes back, and throws a ForeignObjectError (changing
 * nothing) if someone else's role has the name. The password of an existing role
 * is left alone: see `rolePasswordInSync` and `setRolePassword`.
 */
export async function ensureRole(
  db: Queryable,
  name: string,
  password: string,
  owner: Marker,
): Promise<EnsureRoleResult> {
  const found = await inspectRole(db, name, owner);
  requireOurs(found, "role", name, `while ensuring role "${name}"`);
  if (found.state === "missing") {
    await createRole(db, name, password, owner);
    return "created";
  }
  if (found.drift.length === 0) return "present";
  await whileDoing(`while resetting the attributes of role "${name}"`, () =>
    db.query(resetRoleAttributesSql(name, found.drift)),
  );
  return "repaired";
}

/** Sets the password of one of our roles (as a SCRAM verifier); a foreign or missing role is refused. */
export async function setRolePassword(db: Queryable, name: string, password: string, owner: Marker): Promise<void> {
  const doing = `while setting the password of role "${name}"`;
  const found = await inspectRole(db, name, owner);
  requireOurs(found, "role", name, doing);
  if (found.state === "missing") {
    throw new UserFixableError(
      "UndefinedObject",
      doing,
      `role "${name}" does not exist; it is re-created on the next reconcile`,
    );
  }
  const verifier = await scramSha256Verifier(password);
  await whileDoing(doing, () => db.query(setRolePasswordSql(name, verifier)), [password, verifier]);
}

/**
 * Whether the role's password on the server is `password`. A superuser admin
 * compares the stored verifier (no login needed); any other admin cannot read
 * pg_authid, so `probe` tries a login and a wrong-password refusal means "no".
 */
export async function rolePasswordInSync(
  db: Queryable,
  name: string,
  password: string,
  probe?: LoginProbe,
): Promise<boolean> {
  const doing = `while checking the password of role "${name}"`;
  const canRead = await whileDoing(doing, async () => {
    const { rows } = await db.query<{ allowed: boolean }>(READS.canReadAuthid);
    return rows[0]?.allowed === true;
  });
  if (canRead) {
    const { rows } = await whileDoing(doing, () => db.query<{ verifier: string | null }>(READS.rolePassword, [name]));
    const verifier = rows[0]?.verifier;
    return typeof verifier === "string" && (await verifierMatches(verifier, password));
  }
  if (probe === undefined) {
    throw new Error(`${doing}: the admin cannot read pg_authid and no login probe was given`);
  }
  return passwordAcceptedBy(probe, name, password);
}

/** Whether a login as the role with `password` gets past authentication (`probe` tries it; a new connection). */
export async function passwordAcceptedBy(probe: LoginProbe, name: string, password: string): Promise<boolean> {
  try {
    await probe(name, password);
    return true;
  } catch (err) {
    if (sqlStateOf(err) === "28P01") return false;
    throw classify(err, `while checking the password of role "${name}"`, [password]);
  }
}

/** How `dropRole` clears what other databases hold for the role: see role-release.ts. */
export interface RoleRelease {
  /** The role's own tenant database, never cleared here: it is dropped as a whole, first. */
  readonly ownDatabase: string;
  /** Opens an admin client on another database of the same server. */
  readonly open: DatabaseOpener;
}

/**
 * Drops one of our roles. A missing role is fine; a foreign one is refused. With
 * `release`, what other tenants' databases (and shared objects) hold for the role is
 * removed first, so that nobody else can keep it alive. A role that still owns or
 * holds privileges on objects somewhere (its own database included) is refused with
 * the places named, rather than dropped halfway.
 */
export async function dropRole(
  db: Queryable,
  name: string,
  owner: Marker,
  release?: RoleRelease,
): Promise<DropRoleResult> {
  const doing = `while dropping role "${name}"`;
  const found = await inspectRole(db, name, owner);
  requireOurs(found, "role", name, doing);
  if (found.state === "missing") return "missing";
  if (release !== undefined) {
    await releaseRole(db, name, release.ownDatabase, release.open);
    await faultPoint("role-released");
  }
  const { rows } = await whileDoing(doing, () => db.query<{ place: string }>(READS.roleDependencies, [name]));
  if (rows.length > 0) {
    const places = rows.map((row) => row.place).join(", ");
    throw new UserFixableError(
      "DependentObjects",
      doing,
      `role "${name}" still owns or has privileges on objects in ${places}; ` +
        `run DROP OWNED BY for it in each of those databases (REASSIGN OWNED BY first to keep what it owns, ` +
        `to a role that may own it), and Kompost retries the drop`,
    );
  }
  await whileDoing(doing, () => db.query(dropRoleSql(name)));
  return "dropped";
}

// ---------------------------------------------------------------------------
// SQL of the role unit: every value quoted by the helpers of sql.ts.
// ---------------------------------------------------------------------------

/** Catalog reads of this unit; each takes only `$n` parameters (see the note on CATALOG in sql.ts). */
const READS = {
  /** $1 = role name: its ownership comment and attributes (a row only if it exists). */
  roleByName:
    "SELECT pg_catalog.shobj_description(r.oid, 'pg_authid'::pg_catalog.name) AS comment, r.rolcanlogin AS login, r.rolsuper AS superuser, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, r.rolreplication AS replication, r.rolbypassrls AS bypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = $1::pg_catalog.name",

  /** Whether the connected user may read `pg_authid` (only superusers may). */
  canReadAuthid:
    "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid'::pg_catalog.text, 'SELECT'::pg_catalog.text) AS allowed",

  /** $1 = role name: its stored password (a verifier) or null; superusers only. */
  rolePassword: "SELECT a.rolpassword AS verifier FROM pg_catalog.pg_authid a WHERE a.rolname = $1::pg_catalog.name",

  /** $1 = role name: databases (or "shared objects") in which something still depends on the role. */
  roleDependencies:
    "SELECT DISTINCT COALESCE(d.datname::pg_catalog.text, '(shared objects)'::pg_catalog.text) AS place FROM pg_catalog.pg_shdepend s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid WHERE s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass::pg_catalog.oid AND s.refobjid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1::pg_catalog.name) ORDER BY 1",
} as const;

/** The attributes every tenant role has: it may log in and nothing more. */
const TENANT_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";

/** CREATE ROLE for a tenant role with a SCRAM verifier (never a clear-text password). */
function createRoleSql(name: string, verifier: string): string {
  return `CREATE ROLE ${quoteIdent(name)} ${TENANT_ROLE_ATTRIBUTES} PASSWORD ${quoteLiteral(verifier)}`;
}

/** A role attribute as Kompost wants it on tenant roles, as a fixed SQL keyword. */
export type TenantRoleAttribute =
  "LOGIN" | "NOSUPERUSER" | "NOCREATEDB" | "NOCREATEROLE" | "NOREPLICATION" | "NOBYPASSRLS";

/** Puts the given attributes of a tenant role back (only those: a non-superuser may not name SUPERUSER and the like). */
function resetRoleAttributesSql(name: string, attributes: readonly TenantRoleAttribute[]): string {
  return `ALTER ROLE ${quoteIdent(name)} ${attributes.join(" ")}`;
}

/** Sets a role's password to a SCRAM verifier. */
function setRolePasswordSql(name: string, verifier: string): string {
  return `ALTER ROLE ${quoteIdent(name)} PASSWORD ${quoteLiteral(verifier)}`;
}

/** Sets the comment (our ownership marker) of a role. */
function commentOnRoleSql(name: string, comment: string): string {
  return `COMMENT ON ROLE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`;
}

/** Drops a role. */
function dropRoleSql(name: string): string {
  return `DROP ROLE ${quoteIdent(name)}`;
}
