/**
 * The kinds of object a declared privilege can be on (the table is in
 * tenant-privileges.ts), each with its SQL beside it: the catalog read that
 * observes which declared privileges the server does not match, and the statement
 * that puts them in place. The reads run as the admin inside the tenant database,
 * where the tenant may create operators and functions: every literal and `$n` is
 * typed with a pg_catalog type and every comparison names its pg_catalog operator.
 * Privilege keywords come from the typed table, never from user input.
 */
import type { RoleKind, SqlNames } from "../naming.js";
import type { Queryable } from "../queryable.js";
import { quoteIdent } from "../sql.js";

/** Who a declared privilege is about: one of the tenant roles, or PUBLIC (every role). */
export type Grantee = RoleKind | "PUBLIC";

/** "grant": the grantee must hold the privileges; "revoke": it must not. */
export type Rule = "grant" | "revoke";

type TablePrivilege = "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE" | "REFERENCES" | "TRIGGER";
type SequencePrivilege = "SELECT" | "USAGE" | "UPDATE";

/** The privileges each kind of object takes, as fixed SQL keywords. */
export interface PrivilegesOn {
  readonly database: "CONNECT" | "TEMPORARY" | "CREATE";
  readonly "schema public": "USAGE" | "CREATE";
  readonly "tables in public": TablePrivilege;
  readonly "sequences in public": SequencePrivilege;
  readonly "tables app creates": TablePrivilege;
  readonly "sequences app creates": SequencePrivilege;
  readonly "schemas app creates": "USAGE" | "CREATE";
  readonly "types app creates": "USAGE";
  readonly "functions app creates": "EXECUTE";
  /** lo_create, lo_creat and lo_from_bytea: who may create large objects. */
  readonly "large-object creators": "EXECUTE";
}

/** A kind of object a declared privilege can be on. */
export type TargetName = keyof PrivilegesOn;

/** One table entry with the tenant's SQL names filled in. */
export interface ResolvedPrivileges {
  readonly rule: Rule;
  readonly grantee: Grantee;
  readonly privileges: readonly string[];
  readonly names: SqlNames;
}

/** How one kind of object is observed and put in place. */
export interface PrivilegeTarget {
  /** Sentences naming each declared privilege the server does not match (empty when all do); catalog reads only. */
  observe(tenant: Queryable, entry: ResolvedPrivileges): Promise<string[]>;
  /** Puts the declared privileges in place; idempotent. */
  apply(tenant: Queryable, entry: ResolvedPrivileges): Promise<void>;
  /** What the admin cannot put in place, as sentences; only for targets where that can happen. */
  limitations?(tenant: Queryable, entry: ResolvedPrivileges): Promise<string[]>;
}

/** The targets by name: a new kind of object is one entry here. */
export const PRIVILEGE_TARGETS: Readonly<Record<TargetName, PrivilegeTarget>> = {
  database: onNamedObject({
    held: "SELECT pg_catalog.has_database_privilege($1::pg_catalog.name, $2::pg_catalog.text, p.privilege)",
    object: (names) => [names.database],
    sql: (names) => `DATABASE ${quoteIdent(names.database)}`,
    label: (names) => `database "${names.database}"`,
  }),
  "schema public": onNamedObject({
    held: "SELECT pg_catalog.has_schema_privilege($1::pg_catalog.name, 'public'::pg_catalog.text, p.privilege)",
    object: () => [],
    sql: () => "SCHEMA public",
    label: () => "schema public",
  }),
  "tables in public": inSchemaPublic("TABLES", "has_table_privilege", "{r,p,v,m,f}"),
  "sequences in public": inSchemaPublic("SEQUENCES", "has_sequence_privilege", "{S}"),
  "tables app creates": defaultPrivileges("app", "r", "TABLES", "tables"),
  "sequences app creates": defaultPrivileges("app", "S", "SEQUENCES", "sequences"),
  "schemas app creates": defaultPrivileges("app", "n", "SCHEMAS", "schemas"),
  "types app creates": defaultPrivileges("app", "T", "TYPES", "types"),
  "functions app creates": defaultPrivileges("app", "f", "FUNCTIONS", "functions"),
  "large-object creators": largeObjectCreators(),
};

/** The grantee in SQL: PUBLIC, or the quoted role name. */
function granteeSql(entry: ResolvedPrivileges): string {
  return entry.grantee === "PUBLIC" ? "PUBLIC" : quoteIdent(entry.names[entry.grantee]);
}

/** The grantee as has_*_privilege takes it: `public` means the PUBLIC pseudo-role (no role may have that name). */
function granteeParam(entry: ResolvedPrivileges): string {
  return entry.grantee === "PUBLIC" ? "public" : entry.names[entry.grantee];
}

/** The grantee in messages. */
function granteeLabel(entry: ResolvedPrivileges): string {
  return entry.grantee === "PUBLIC" ? "PUBLIC" : `"${entry.names[entry.grantee]}"`;
}

/** GRANT ... TO or REVOKE ... FROM, as the rule says. */
function grantOrRevokeSql(entry: ResolvedPrivileges, on: string): string {
  const privileges = entry.privileges.join(", ");
  return entry.rule === "grant"
    ? `GRANT ${privileges} ON ${on} TO ${granteeSql(entry)}`
    : `REVOKE ${privileges} ON ${on} FROM ${granteeSql(entry)}`;
}

/**
 * The declared privileges whose holding differs from the rule, in table order: `held`
 * selects whether the grantee ($1) holds `p.privilege`; `$2...` are the object's parameters.
 */
function differingSql(held: string, parameters: number): string {
  const array = `$${parameters + 2}::pg_catalog.text[]`;
  const wanted = `$${parameters + 3}::pg_catalog.bool`;
  return `SELECT p.privilege FROM pg_catalog.unnest(${array}) WITH ORDINALITY AS p(privilege, i) WHERE (${held}) OPERATOR(pg_catalog.<>) ${wanted} ORDER BY p.i`;
}

/** A target that is one object: the tenant database, schema public. */
function onNamedObject(spec: {
  readonly held: string;
  readonly object: (names: SqlNames) => string[];
  readonly sql: (names: SqlNames) => string;
  readonly label: (names: SqlNames) => string;
}): PrivilegeTarget {
  return {
    async observe(tenant, entry) {
      const object = spec.object(entry.names);
      const values = [granteeParam(entry), ...object, entry.privileges, entry.rule === "grant"];
      const { rows } = await tenant.query<{ privilege: string }>(differingSql(spec.held, object.length), values);
      const verb = entry.rule === "grant" ? "lacks" : "still has";
      return rows.map(({ privilege }) => `${granteeLabel(entry)} ${verb} ${privilege} on ${spec.label(entry.names)}`);
    },
    async apply(tenant, entry) {
      await tenant.query(grantOrRevokeSql(entry, spec.sql(entry.names)));
    },
  };
}

/** Every existing object of one kind in schema public (`relkinds` as a pg_class.relkind array literal). */
function inSchemaPublic(keyword: "TABLES" | "SEQUENCES", hasPrivilege: string, relkinds: string): PrivilegeTarget {
  const differing = `SELECT c.relname AS name, p.privilege FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace, pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS p(privilege, i) WHERE n.nspname OPERATOR(pg_catalog.=) 'public'::pg_catalog.name AND c.relkind OPERATOR(pg_catalog.=) ANY ('${relkinds}'::pg_catalog."char"[]) AND pg_catalog.${hasPrivilege}($1::pg_catalog.name, c.oid, p.privilege) OPERATOR(pg_catalog.<>) $3::pg_catalog.bool ORDER BY c.relname, p.i`;
  return {
    async observe(tenant, entry) {
      const values = [granteeParam(entry), entry.privileges, entry.rule === "grant"];
      const { rows } = await tenant.query<{ name: string; privilege: string }>(differing, values);
      const verb = entry.rule === "grant" ? "cannot" : "can still";
      return rows.map(({ name, privilege }) => `${granteeLabel(entry)} ${verb} ${privilege} public."${name}"`);
    },
    async apply(tenant, entry) {
      await tenant.query(grantOrRevokeSql(entry, `ALL ${keyword} IN SCHEMA public`));
    },
  };
}

/**
 * Default privileges: what `creator` makes later (objects of type `objectType` in
 * pg_default_acl, `keyword` in ALTER DEFAULT PRIVILEGES) is granted to the grantee.
 * Only the database-wide entry counts (no IN SCHEMA).
 */
function defaultPrivileges(creator: RoleKind, objectType: string, keyword: string, label: string): PrivilegeTarget {
  const held = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a WHERE d.defaclrole OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $2::pg_catalog.name) AND d.defaclnamespace OPERATOR(pg_catalog.=) 0::pg_catalog.oid AND d.defaclobjtype OPERATOR(pg_catalog.=) '${objectType}'::pg_catalog."char" AND a.grantee OPERATOR(pg_catalog.=) CASE WHEN $1::pg_catalog.name OPERATOR(pg_catalog.=) 'public'::pg_catalog.name THEN 0::pg_catalog.oid ELSE (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.name) END AND a.privilege_type OPERATOR(pg_catalog.=) p.privilege)`;
  const differing = differingSql(held, 1);
  return {
    async observe(tenant, entry) {
      const creatorName = entry.names[creator];
      const values = [granteeParam(entry), creatorName, entry.privileges, entry.rule === "grant"];
      const { rows } = await tenant.query<{ privilege: string }>(differing, values);
      const which = entry.rule === "grant" ? "no default" : "still a default";
      return rows.map(
        ({ privilege }) => `${which} ${privilege} for ${granteeLabel(entry)} on ${label} created by "${creatorName}"`,
      );
    },
    async apply(tenant, entry) {
      const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(entry.names[creator])}`;
      await tenant.query(`${prefix} ${grantOrRevokeSql(entry, keyword)}`);
    },
  };
}

/** The functions that create large objects, in SQL: PUBLIC may call them by default, so inspector could write. */
const LARGE_OBJECT_CREATORS_SQL =
  "pg_catalog.lo_create(pg_catalog.oid), pg_catalog.lo_creat(pg_catalog.int4), pg_catalog.lo_from_bytea(pg_catalog.oid, pg_catalog.bytea)";

/** The same functions, for messages. */
const LARGE_OBJECT_CREATORS = "lo_create, lo_creat and lo_from_bytea";

/**
 * $1 = grantee: whether the connected admin owns the large-object creating functions (may
 * revoke PUBLIC's EXECUTE), may grant them on, and whether the grantee may call all or any of them.
 */
const LARGE_OBJECT_RIGHTS = `SELECT pg_catalog.bool_and(pg_catalog.pg_has_role(p.proowner, 'USAGE'::pg_catalog.text)) AS owner, pg_catalog.bool_and(pg_catalog.has_function_privilege(p.oid, 'EXECUTE WITH GRANT OPTION'::pg_catalog.text)) AS grantable, pg_catalog.bool_and(pg_catalog.has_function_privilege($1::pg_catalog.name, p.oid, 'EXECUTE'::pg_catalog.text)) AS "all", pg_catalog.bool_or(pg_catalog.has_function_privilege($1::pg_catalog.name, p.oid, 'EXECUTE'::pg_catalog.text)) AS "any" FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.lo_create(pg_catalog.oid)'::pg_catalog.regprocedure, 'pg_catalog.lo_creat(pg_catalog.int4)'::pg_catalog.regprocedure, 'pg_catalog.lo_from_bytea(pg_catalog.oid, pg_catalog.bytea)'::pg_catalog.regprocedure]::pg_catalog.oid[])`;

interface LargeObjectRights {
  /** The admin owns the functions (is a superuser): it may revoke PUBLIC's EXECUTE. */
  readonly owner: boolean;
  /** The admin may grant EXECUTE on them. */
  readonly grantable: boolean;
  /** The grantee may call all of them. */
  readonly all: boolean;
  /** The grantee may call one of them. */
  readonly any: boolean;
}

/**
 * EXECUTE on the large-object creating functions (pg_catalog's, owned by the bootstrap
 * superuser). Only their owner may revoke PUBLIC's EXECUTE and only an admin holding
 * the grant option (given in the template) may grant it; what the admin cannot do is
 * left alone, and a PUBLIC it cannot revoke from is a limitation, not drift.
 */
function largeObjectCreators(): PrivilegeTarget {
  const rightsOf = async (tenant: Queryable, entry: ResolvedPrivileges): Promise<LargeObjectRights> => {
    const { rows } = await tenant.query<Record<keyof LargeObjectRights, boolean | null>>(LARGE_OBJECT_RIGHTS, [
      granteeParam(entry),
    ]);
    const row = rows[0];
    return {
      owner: row?.owner === true,
      grantable: row?.grantable === true,
      all: row?.all === true,
      any: row?.any === true,
    };
  };
  // What the admin may change: grant needs the grant option, revoking from PUBLIC ownership.
  const canChange = (rights: LargeObjectRights, entry: ResolvedPrivileges): boolean =>
    entry.rule === "grant" ? rights.grantable : rights.owner;
  const differs = (rights: LargeObjectRights, entry: ResolvedPrivileges): boolean =>
    entry.rule === "grant" ? !rights.all : rights.any;
  return {
    async observe(tenant, entry) {
      const rights = await rightsOf(tenant, entry);
      if (!canChange(rights, entry) || !differs(rights, entry)) return [];
      if (entry.rule === "grant") return [`${granteeLabel(entry)} may not execute ${LARGE_OBJECT_CREATORS}`];
      return [`"${entry.names.inspector}" may create large objects (PUBLIC may execute ${LARGE_OBJECT_CREATORS})`];
    },
    async apply(tenant, entry) {
      if (canChange(await rightsOf(tenant, entry), entry)) {
        await tenant.query(grantOrRevokeSql(entry, `FUNCTION ${LARGE_OBJECT_CREATORS_SQL}`));
      }
    },
    async limitations(tenant, entry) {
      if (entry.rule === "grant") return [];
      const rights = await rightsOf(tenant, entry);
      if (canChange(rights, entry) || !differs(rights, entry)) return [];
      return [
        `"${entry.names.inspector}" can create large objects: PUBLIC may execute ${LARGE_OBJECT_CREATORS} in this database ` +
          `and only a superuser can revoke that (see "Deletion, templates and the inspector" in docs/security.md)`,
      ];
    },
  };
}
