/**
 * Hostile tenants against deletion: tenant A hands B's roles privileges of every
 * kind in A's database (role names are public), and B keeps a session with a
 * temporary table open elsewhere; B's PostgresDatabase must still finish deleting,
 * and nothing of A may change but the grants to B's roles.
 */
import { expect } from "chai";
import type pg from "pg";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, sqlState, using } from "../env/database-env.js";
import { catalogSnapshot } from "../../services/postgres/objects/fixture.test.js";
import { quoteIdent } from "../../services/postgres/sql.js";

/** Every ACL entry, policy and default privilege of the database, with entries for `skip`'s roles left out. */
async function privilegeSnapshot(db: pg.Client, skip: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `WITH acls(what, acl, owner) AS (
       SELECT 'rel ' || c.oid::regclass::text, c.relacl, 0::oid FROM pg_class c WHERE c.relnamespace > 16383
       UNION ALL SELECT 'col ' || a.attrelid::regclass::text || '.' || a.attname, a.attacl, 0::oid
         FROM pg_attribute a WHERE a.attacl IS NOT NULL AND a.attrelid > 16383
       UNION ALL SELECT 'schema ' || n.nspname, n.nspacl, 0::oid FROM pg_namespace n
       UNION ALL SELECT 'routine ' || p.oid::regprocedure::text, p.proacl, 0::oid FROM pg_proc p WHERE p.oid > 16383
       UNION ALL SELECT 'type ' || t.oid::regtype::text, t.typacl, 0::oid FROM pg_type t WHERE t.oid > 16383
       UNION ALL SELECT 'lo ' || l.oid, l.lomacl, 0::oid FROM pg_largeobject_metadata l
       -- A global default ACL left with only the built-in defaults (owner, PUBLIC) is deleted by the server.
       UNION ALL SELECT 'default ' || d.defaclrole::regrole || ' ' || d.defaclnamespace || ' ' || d.defaclobjtype::text,
         d.defaclacl, CASE WHEN d.defaclnamespace = 0 THEN d.defaclrole ELSE 0 END FROM pg_default_acl d)
     SELECT what || ' ' || CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE e.grantee::regrole::text END || ' ' || e.privilege_type
            || ' by ' || e.grantor::regrole || CASE WHEN e.is_grantable THEN ' +grant' ELSE '' END AS line
       FROM acls, aclexplode(acls.acl) e
      WHERE e.grantee NOT IN (SELECT r.oid FROM pg_roles r WHERE r.rolname = ANY ($1))
        AND NOT (acls.owner <> 0 AND e.grantee IN (0, acls.owner))
     UNION ALL
     SELECT 'policy ' || p.polname || ' ' || roles.list
       FROM pg_policy p, LATERAL (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END, ',' ORDER BY r::regrole::text) AS list
                                    FROM unnest(p.polroles) r WHERE r NOT IN (SELECT o.oid FROM pg_roles o WHERE o.rolname = ANY ($1))) roles
      -- A policy for B's roles alone goes with them.
      WHERE roles.list IS NOT NULL
     ORDER BY 1`,
    [skip],
  );
  return rows.map((row) => row.line);
}

/** What A's app runs to hand B's roles a privilege of every kind, directly, by default and through a grant chain. */
function grantsToOtherTenant(app: string, inspector: string, ownInspector: string): string[] {
  const [b, bi, ai] = [app, inspector, ownInspector].map((role) => quoteIdent(role)) as [string, string, string];
  return [
    "CREATE TABLE public.shared (id integer PRIMARY KEY, secret text)",
    "CREATE SEQUENCE public.counter",
    "CREATE SCHEMA lounge",
    "CREATE TABLE lounge.guests (id integer)",
    "CREATE FUNCTION public.answer() RETURNS integer LANGUAGE sql AS 'SELECT 42'",
    "CREATE PROCEDURE public.noop() LANGUAGE sql AS 'SELECT 1'",
    "CREATE TYPE public.mood AS ENUM ('ok', 'not ok')",
    "CREATE DOMAIN public.positive AS integer CHECK (VALUE > 0)",
    "SELECT pg_catalog.lo_create(0)",
    "ALTER TABLE public.shared ENABLE ROW LEVEL SECURITY",
    `CREATE POLICY only_b ON public.shared TO ${b} USING (true)`,
    `CREATE POLICY b_and_us ON public.shared TO ${b}, ${ai} USING (id > 0)`,
    `GRANT SELECT, INSERT, UPDATE ON public.shared TO ${b} WITH GRANT OPTION`,
    `GRANT SELECT (id), UPDATE (secret) ON public.shared TO ${bi}`,
    `GRANT USAGE, SELECT ON SEQUENCE public.counter TO ${b}, ${bi}`,
    `GRANT USAGE, CREATE ON SCHEMA lounge TO ${b}`,
    `GRANT SELECT ON lounge.guests TO ${bi}`,
    `GRANT EXECUTE ON FUNCTION public.answer() TO ${b}`,
    `GRANT EXECUTE ON PROCEDURE public.noop() TO ${bi}`,
    `GRANT USAGE ON TYPE public.mood TO ${b}`,
    `GRANT USAGE ON DOMAIN public.positive TO ${bi}`,
    `DO $$ BEGIN EXECUTE format('GRANT SELECT, UPDATE ON LARGE OBJECT %s TO ${b.replaceAll("'", "''")}',
       (SELECT max(oid) FROM pg_catalog.pg_largeobject_metadata)); END $$`,
    `ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO ${b}`,
    `ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO ${bi}`,
    `ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO ${b}`,
    `ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO ${bi}`,
    `ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO ${b}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA lounge GRANT INSERT ON TABLES TO ${bi}`,
    `GRANT SELECT ON public.shared TO ${ai} WITH GRANT OPTION`,
    `GRANT USAGE ON SCHEMA lounge TO ${ai} WITH GRANT OPTION`,
  ];
}

/** What A's inspector (its team holds that password too) runs: grants that are not the owner's. */
function chainedGrants(app: string, inspector: string): string[] {
  const [b, bi] = [app, inspector].map((role) => quoteIdent(role)) as [string, string];
  return [`GRANT SELECT ON public.shared TO ${bi}`, `GRANT USAGE ON SCHEMA lounge TO ${b}, ${bi}`];
}

for (const kind of ADMIN_KINDS) {
  describe(`deletion that no other tenant can block, with the ${kind} admin`, function () {
    this.timeout(180_000);
    let env: DatabaseTestEnv;
    let nsA: string;
    let nsB: string;

    before(async () => {
      env = await DatabaseTestEnv.start();
      nsA = await env.namespace("wedger");
      nsB = await env.namespace("wedged");
      await env.instance(nsA, "pg", kind);
      await env.instance(nsB, "pg", kind);
    });

    after(async () => {
      await env.deleteDatabases(nsA, nsB);
      await env.stop();
    });

    const provisioned = async (namespace: string, name: string): Promise<[SecretData, SecretData]> => {
      await env.database(namespace, name, { instance: "pg" });
      await env.ready(namespace, name);
      return [
        await env.secretData(namespace, `psql-${name}-app`),
        await env.secretData(namespace, `psql-${name}-inspector`),
      ];
    };

    it("finishes deleting B although A granted B's roles privileges of every kind; A keeps everything else", async () => {
      const [aApp, aInspector] = await provisioned(nsA, "alpha");
      const [bApp, bInspector] = await provisioned(nsB, "beta");
      const bRoles = [bApp.DB_USER!, bInspector.DB_USER!];
      await using(env.connectWith(aApp), async (app) => {
        for (const statement of grantsToOtherTenant(bRoles[0]!, bRoles[1]!, aInspector.DB_USER!)) {
          await app.query(statement);
        }
      });
      await using(env.connectWith(aInspector), async (inspector) => {
        for (const statement of chainedGrants(bRoles[0]!, bRoles[1]!)) await inspector.query(statement);
      });
      const before = await env.asSuperuser((db) => privilegeSnapshot(db, bRoles), aApp.DB_NAME);
      const notB = (lines: string[]): string[] => lines.filter((line) => !line.includes(bApp.DB_NAME!));
      const serverBefore = notB(await env.asSuperuser(catalogSnapshot));
      // B's own session elsewhere, holding a temporary table: its role owns that until the session ends.
      const elsewhere = await env.connectWith(bApp, "postgres");
      elsewhere.on("error", () => undefined);
      await elsewhere.query("CREATE TEMPORARY TABLE scratch (id integer)");
      try {
        await env.kubectl("delete", "pgdb", "-n", nsB, "beta", "--wait=false");
        await env.gone(nsB, "beta", 90_000);
      } finally {
        await elsewhere.end().catch(() => undefined);
      }
      const left = await env.asSuperuser((db) =>
        db.query("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1)", [bRoles]),
      );
      expect(left.rows).to.deep.equal([]);
      expect(await env.asSuperuser((db) => privilegeSnapshot(db, bRoles), aApp.DB_NAME)).to.deep.equal(before);
      expect(notB(await env.asSuperuser(catalogSnapshot))).to.deep.equal(serverBefore);
      await env.ready(nsA, "alpha");
      await using(env.connectWith(aApp), async (app) => {
        await app.query("INSERT INTO public.shared VALUES (1, 'still mine')");
        expect((await app.query("SELECT public.answer() AS answer")).rows).to.deep.equal([{ answer: 42 }]);
      });
      await using(env.connectWith(aInspector), async (inspector) => {
        expect((await inspector.query("SELECT count(*)::int AS n FROM public.shared")).rows).to.deep.equal([{ n: 1 }]);
      });
      const dropped = await env.event(nsB, "beta", "Dropped");
      expect(dropped.message).to.include(`"${bRoles[0]!}" dropped`).and.include(`"${bRoles[1]!}" dropped`);
    });

    it("finishes deleting B while A holds an open transaction on the table it shared with B, ending that session", async () => {
      const [aApp] = await provisioned(nsA, "delta");
      const [bApp] = await provisioned(nsB, "epsilon");
      await using(env.connectWith(aApp), async (app) => {
        await app.query("CREATE TABLE public.held (id integer)");
        await app.query(`GRANT SELECT ON public.held TO ${quoteIdent(bApp.DB_USER!)}`);
      });
      const holder = await env.connectWith(aApp);
      holder.on("error", () => undefined);
      try {
        await holder.query("BEGIN");
        await holder.query("ALTER TABLE public.held ADD COLUMN pinned integer");
        await env.kubectl("delete", "pgdb", "-n", nsB, "epsilon", "--wait=false");
        await env.gone(nsB, "epsilon", 60_000);
        expect(await sqlState(holder.query("SELECT 1"))).to.not.equal(undefined);
      } finally {
        await holder.end().catch(() => undefined);
      }
      await env.ready(nsA, "delta");
    });

    it("says why it cannot clear what another database holds for B (Ready False, reason, Event) and finishes once fixed", async () => {
      const [bApp] = await provisioned(nsB, "gamma");
      const locked = `locked_${bApp.DB_NAME!}`.slice(0, 63);
      const role = quoteIdent(bApp.DB_USER!);
      await env.asSuperuser((db) => db.query(`CREATE DATABASE ${quoteIdent(locked)}`));
      try {
        await env.asSuperuser(async (db) => {
          await db.query("CREATE TABLE public.platform (id integer)");
          await db.query(`GRANT SELECT ON public.platform TO ${role}`);
        }, locked);
        await env.asSuperuser((db) => db.query(`ALTER DATABASE ${quoteIdent(locked)} ALLOW_CONNECTIONS false`));
        await env.kubectl("delete", "pgdb", "-n", nsB, "gamma", "--wait=false");
        await env.condition(nsB, "gamma", "Connection", "False", { reason: "DeletionWaiting", message: locked });
        await env.condition(nsB, "gamma", "Ready", "False", { reason: "DeletionWaiting" });
        expect((await env.event(nsB, "gamma", "DeletionWaiting")).message).to.include(locked);
        await env.asSuperuser((db) => db.query(`ALTER DATABASE ${quoteIdent(locked)} ALLOW_CONNECTIONS true`));
        if (kind === "limitedAdmin") {
          // The platform's own grant is beyond a CREATEROLE admin: it says so, and the platform revokes it.
          await env.condition(nsB, "gamma", "Connection", "False", {
            reason: "DeletionWaiting",
            message: "permission denied",
          });
          await env.asSuperuser((db) => db.query(`REVOKE ALL ON public.platform FROM ${role}`), locked);
        }
        await env.gone(nsB, "gamma", 60_000);
      } finally {
        await env.asSuperuser((db) => db.query(`DROP DATABASE IF EXISTS ${quoteIdent(locked)}`));
      }
    });
  });
}
