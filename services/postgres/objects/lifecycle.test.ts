import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { generatePassword } from "../passwords.js";
import { quoteIdent } from "../sql.js";
import { dropDatabase, ensureDatabase, inspectDatabase } from "./database.js";
import { checkGrants } from "./grants.js";
import { dropRole, ensureRole, inspectRole, setRolePassword } from "./role.js";
import {
  ADMIN_KINDS,
  type TestTenant,
  connectAdmin,
  connectAs,
  newTenant,
  provision,
  removeTenant,
  withClient,
} from "./fixture.test.js";

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return (outcome as { code?: string } | undefined)?.code ?? (outcome === undefined ? undefined : "no code");
}

for (const kind of ADMIN_KINDS) {
  describe(`tenant database lifecycle with the ${kind} admin`, () => {
    let srv: PostgresServer;
    let admin: pg.Client;
    let a: TestTenant;
    let b: TestTenant;

    before(async () => {
      srv = await postgres();
      a = newTenant("alpha");
      b = newTenant("beta");
      await provision(srv, kind, a);
      await provision(srv, kind, b);
      admin = await connectAdmin(srv, kind);
    });

    after(async () => {
      await admin.end();
      await removeTenant(srv, a.names);
      await removeTenant(srv, b.names);
    });

    it("finds everything in place on a second pass and changes nothing", async () => {
      expect(await ensureDatabase(admin, a.names.database, {}, a.marker)).to.equal("present");
      expect(await ensureRole(admin, a.names.app, "unused", a.marker)).to.equal("present");
      expect(await ensureRole(admin, a.names.inspector, "unused", a.marker)).to.equal("present");
      const missing = await withClient(connectAdmin(srv, kind, a.names.database), (db) => checkGrants(db, a.names));
      expect(missing).to.deep.equal([]);
    });

    it("lets app create, alter and drop tables, sequences, views, functions and schemas in its database", async () => {
      await withClient(connectAs(srv, a, "app"), async (app) => {
        for (const statement of [
          "CREATE TABLE public.t (id serial PRIMARY KEY, v text)",
          "ALTER TABLE public.t ADD COLUMN w integer",
          "INSERT INTO public.t (v, w) VALUES ('x', 1)",
          "UPDATE public.t SET w = 2",
          "DELETE FROM public.t",
          "CREATE SEQUENCE public.s",
          "ALTER SEQUENCE public.s RESTART WITH 5",
          "CREATE VIEW public.v AS SELECT id FROM public.t",
          "CREATE OR REPLACE VIEW public.v AS SELECT id, v FROM public.t",
          "CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
          "ALTER FUNCTION public.f() RENAME TO g",
          "CREATE SCHEMA own",
          "CREATE TABLE own.t (id integer)",
          "ALTER SCHEMA own RENAME TO own2",
          "CREATE TEMPORARY TABLE scratch (id integer)",
          "DROP FUNCTION public.g()",
          "DROP VIEW public.v",
          "DROP SEQUENCE public.s",
          "DROP TABLE public.t",
          "DROP SCHEMA own2 CASCADE",
        ]) {
          await app.query(statement);
        }
      });
    });

    it("lets inspector read tables app creates after provisioning, and neither write nor create", async () => {
      await withClient(connectAs(srv, a, "app"), async (app) => {
        await app.query("CREATE TABLE public.later (id integer)");
        await app.query("INSERT INTO public.later VALUES (42)");
        await app.query("CREATE SCHEMA reports");
        await app.query("CREATE TABLE reports.monthly (total integer)");
        await app.query("CREATE SEQUENCE public.counter");
      });
      await withClient(connectAs(srv, a, "inspector"), async (inspector) => {
        const { rows } = await inspector.query<{ id: number }>("SELECT id FROM public.later");
        expect(rows).to.deep.equal([{ id: 42 }]);
        await inspector.query("SELECT total FROM reports.monthly");
        await inspector.query("SELECT last_value FROM public.counter");
        expect(await sqlState(inspector.query("INSERT INTO public.later VALUES (1)"))).to.equal("42501");
        expect(await sqlState(inspector.query("UPDATE public.later SET id = 0"))).to.equal("42501");
        expect(await sqlState(inspector.query("DELETE FROM public.later"))).to.equal("42501");
        expect(await sqlState(inspector.query("CREATE TABLE public.mine (id integer)"))).to.equal("42501");
        expect(await sqlState(inspector.query("CREATE SCHEMA mine"))).to.equal("42501");
        expect(await sqlState(inspector.query("CREATE TEMPORARY TABLE mine (id integer)"))).to.equal("42501");
        expect(await sqlState(inspector.query("SELECT nextval('public.counter')"))).to.equal("42501");
      });
    });

    it("keeps each tenant's roles out of the other tenant's database", async () => {
      for (const role of ["app", "inspector"] as const) {
        expect(await sqlState(connectAs(srv, a, role, b.names.database))).to.equal("42501");
        expect(await sqlState(connectAs(srv, b, role, a.names.database))).to.equal("42501");
      }
    });

    it("gives the tenant roles no membership, no SET ROLE to the admin and no elevated attributes", async () => {
      const { rows } = await admin.query<{ role: string; member_of: number; elevated: boolean }>(
        `SELECT r.rolname AS role,
                (SELECT count(*) FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid)::int AS member_of,
                r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls AS elevated
           FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1) ORDER BY 1`,
        [[a.names.app, a.names.inspector]],
      );
      expect(rows).to.deep.equal([
        { role: a.names.app, member_of: 0, elevated: false },
        { role: a.names.inspector, member_of: 0, elevated: false },
      ]);
      for (const role of ["app", "inspector"] as const) {
        await withClient(connectAs(srv, a, role), async (tenant) => {
          expect(await sqlState(tenant.query(`SET ROLE ${quoteIdent(srv[kind].user)}`))).to.equal("42501");
          expect(await sqlState(tenant.query(`SET ROLE ${quoteIdent(srv.superuser.user)}`))).to.equal("42501");
        });
      }
    });

    it("never shows a generated password in the server log", async () => {
      const changed = generatePassword();
      await setRolePassword(admin, a.names.inspector, changed, a.marker);
      await withClient(srv.connect({ user: a.names.inspector, password: changed, database: a.names.database }), () =>
        Promise.resolve(),
      );
      const log = await srv.readLog();
      // The statements are in the log (as verifiers), so the search below looks at the right text.
      expect(log)
        .to.include(`CREATE ROLE ${quoteIdent(a.names.app)}`)
        .and.include("SCRAM-SHA-256$4096:");
      for (const password of [a.appPassword, a.inspectorPassword, b.appPassword, b.inspectorPassword, changed]) {
        expect(log).to.not.include(password);
      }
    });

    it("drops the database while app and inspector are connected, then both roles, and finds them gone", async () => {
      const sessions = [await connectAs(srv, b, "app"), await connectAs(srv, b, "inspector")];
      for (const session of sessions) session.on("error", () => undefined);
      try {
        expect(await dropDatabase(admin, b.names.database, b.marker)).to.equal("dropped");
        for (const session of sessions) expect(await sqlState(session.query("SELECT 1"))).to.not.equal(undefined);
      } finally {
        for (const session of sessions) await session.end().catch(() => undefined);
      }
      expect(await dropRole(admin, b.names.app, b.marker)).to.equal("dropped");
      expect(await dropRole(admin, b.names.inspector, b.marker)).to.equal("dropped");
      expect(await inspectDatabase(admin, b.names.database, b.marker)).to.deep.equal({ state: "missing" });
      expect(await inspectRole(admin, b.names.app, b.marker)).to.deep.equal({ state: "missing" });
      expect(await dropDatabase(admin, b.names.database, b.marker)).to.equal("missing");
      expect(await dropRole(admin, b.names.inspector, b.marker)).to.equal("missing");
    });
  });
}
