/**
 * Traps a hostile tenant plants for the admin's sessions (no tests in here): operators and
 * functions in `public` that would win name resolution over pg_catalog's in an admin query
 * and, if ever run, try to escalate the tenant's `app` role. Each records that it ran with a
 * WARNING in the server log (which survives the database's deletion) and a row in a table.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { quoteIdent, quoteLiteral } from "../../services/postgres/sql.js";

/** What the trap tries as whoever runs it; every step may fail, the next one still runs. */
function escalations(app: string, others: readonly string[]): string[] {
  return [
    `ALTER ROLE ${quoteIdent(app)} SUPERUSER`,
    `ALTER ROLE ${quoteIdent(app)} CREATEROLE`,
    `ALTER ROLE ${quoteIdent(app)} CREATEDB`,
    `ALTER ROLE ${quoteIdent(app)} BYPASSRLS`,
    ...others.map((role) => `GRANT ${quoteIdent(role)} TO ${quoteIdent(app)}`),
    "GRANT pg_read_all_data TO " + quoteIdent(app),
  ];
}

/**
 * Shadows a tenant can plant in `public` of its database: operators whose argument types match
 * an admin query better than pg_catalog's (no exact `=(oid, int4)` or `=(oid, regclass)` there),
 * and functions with text arguments that beat pg_catalog's `name` ones for untyped literals.
 */
const SHADOWS: readonly { readonly signature: string; readonly returns: string; readonly body: string }[] = [
  {
    signature: "trap_oid_int4(a oid, b int4)",
    returns: "boolean",
    body: "RETURN a OPERATOR(pg_catalog.=) b::pg_catalog.oid;",
  },
  {
    signature: "trap_oid_regclass(a oid, b regclass)",
    returns: "boolean",
    body: "RETURN a OPERATOR(pg_catalog.=) b::pg_catalog.oid;",
  },
  {
    signature: "trap_name_text(a name, b text)",
    returns: "boolean",
    body: "RETURN a::pg_catalog.text OPERATOR(pg_catalog.=) b;",
  },
  {
    signature: 'trap_char_text(a "char", b text)',
    returns: "boolean",
    body: "RETURN a::pg_catalog.text OPERATOR(pg_catalog.=) b;",
  },
  {
    signature: "pg_has_role(a text, b text, c text)",
    returns: "boolean",
    body: "RETURN pg_catalog.pg_has_role(a::pg_catalog.name, b::pg_catalog.name, c);",
  },
  {
    signature: "has_database_privilege(a text, b text, c text)",
    returns: "boolean",
    body: "RETURN pg_catalog.has_database_privilege(a, b, c);",
  },
  {
    signature: "has_schema_privilege(a text, b text, c text)",
    returns: "boolean",
    body: "RETURN pg_catalog.has_schema_privilege(a, b, c);",
  },
  {
    signature: "has_table_privilege(a text, b oid, c text)",
    returns: "boolean",
    body: "RETURN pg_catalog.has_table_privilege(a, b, c);",
  },
  {
    signature: "shobj_description(a oid, b text)",
    returns: "text",
    body: "RETURN pg_catalog.shobj_description(a, b::pg_catalog.name);",
  },
  { signature: "current_setting(a text)", returns: "text", body: "RETURN pg_catalog.current_setting(a);" },
  {
    signature: "pg_char_to_encoding(a text)",
    returns: "int4",
    body: "RETURN pg_catalog.pg_char_to_encoding(a::pg_catalog.name);",
  },
];

const OPERATORS: readonly { readonly left: string; readonly right: string; readonly fn: string }[] = [
  { left: "oid", right: "int4", fn: "trap_oid_int4" },
  { left: "oid", right: "regclass", fn: "trap_oid_regclass" },
  { left: "name", right: "text", fn: "trap_name_text" },
  { left: '"char"', right: "text", fn: "trap_char_text" },
];

/** One planted set of traps, told apart from others in the server log by its token. */
export class AdminTrap {
  /** The text of the WARNING the trap logs when it runs (planted reversed: the CREATE FUNCTION is logged too). */
  readonly marker = `KOMPOST-TRAP-${randomBytes(6).toString("hex")}`;

  /** `app` is the tenant role that plants (and would gain); `others` are roles it must never join. */
  constructor(
    readonly app: string,
    readonly others: readonly string[],
  ) {}

  /** Plants the traps in `public`, connected as the tenant's app role to its database. */
  async plant(asApp: pg.Client): Promise<void> {
    const steps = escalations(this.app, this.others)
      .map((sql) => `BEGIN EXECUTE ${quoteLiteral(sql)}; EXCEPTION WHEN OTHERS THEN NULL; END;`)
      .join("\n  ");
    await asApp.query(`CREATE TABLE public.kompost_trap_log (who text, at timestamptz DEFAULT pg_catalog.now())`);
    await asApp.query("GRANT ALL ON public.kompost_trap_log TO PUBLIC");
    await asApp.query(
      `CREATE FUNCTION public.kompost_trap() RETURNS void LANGUAGE plpgsql AS $trap$
BEGIN
  RAISE WARNING '% ran as %', pg_catalog.reverse(${quoteLiteral([...this.marker].reverse().join(""))}), current_user;
  INSERT INTO public.kompost_trap_log (who) VALUES (current_user);
  BEGIN EXECUTE pg_catalog.format('GRANT %I TO %I', session_user, ${quoteLiteral(this.app)}); EXCEPTION WHEN OTHERS THEN NULL; END;
  ${steps}
END $trap$`,
    );
    for (const { signature, returns, body } of SHADOWS) {
      await asApp.query(
        `CREATE FUNCTION public.${signature} RETURNS ${returns} LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.kompost_trap(); ${body} END $f$`,
      );
    }
    for (const { left, right, fn } of OPERATORS) {
      await asApp.query(`CREATE OPERATOR public.= (LEFTARG = ${left}, RIGHTARG = ${right}, FUNCTION = public.${fn})`);
    }
    await asApp.query("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO PUBLIC");
  }

  /** The log lines that show the trap ran, each with the statement logged with it (empty when it never ran). */
  runsIn(log: string): string[] {
    const lines = log.split("\n");
    return lines.flatMap((line, index) =>
      line.includes(this.marker) ? [lines.slice(Math.max(0, index - 1), index + 4).join("\n")] : [],
    );
  }
}

/** The attributes and memberships of a role, read with a pinned search_path so no trap can fire. */
export async function roleStanding(
  superuser: pg.Client,
  role: string,
): Promise<{ readonly attributes: string; readonly memberOf: readonly string[] }> {
  await superuser.query("SET search_path = pg_catalog, pg_temp");
  const attributes = await superuser.query<{ line: string }>(
    "SELECT r.rolsuper || ' ' || r.rolcreatedb || ' ' || r.rolcreaterole || ' ' || r.rolreplication || ' ' || r.rolbypassrls AS line FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
    [role],
  );
  const memberOf = await superuser.query<{ role: string }>(
    "SELECT m.roleid::pg_catalog.regrole::pg_catalog.text AS role FROM pg_catalog.pg_auth_members m WHERE m.member = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1) ORDER BY 1",
    [role],
  );
  return { attributes: attributes.rows[0]?.line ?? "missing", memberOf: memberOf.rows.map((row) => row.role) };
}
