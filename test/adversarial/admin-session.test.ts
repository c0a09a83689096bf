import { expect } from "chai";
import type pg from "pg";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, using } from "../env/database-env.js";
import { catalogSnapshot } from "../../services/postgres/objects/fixture.test.js";
import { eventually } from "../support/eventually.js";
import { AdminTrap, roleStanding } from "./admin-session-fixture.js";

/** The inspector's default SELECT on tables the app creates, as its ACL text ("" when missing). */
async function defaultTableAcl(superuser: pg.Client, app: string): Promise<string> {
  await superuser.query("SET search_path = pg_catalog, pg_temp");
  const { rows } = await superuser.query<{ acl: string }>(
    "SELECT pg_catalog.array_to_string(d.defaclacl, ',') AS acl FROM pg_catalog.pg_default_acl d WHERE d.defaclobjtype = 'r' AND d.defaclnamespace = 0::pg_catalog.oid AND d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1)",
    [app],
  );
  return rows[0]?.acl ?? "";
}

for (const kind of ADMIN_KINDS) {
  describe(`Admin sessions in tenant databases with the ${kind} admin (adversarial, real API server and PostgreSQL)`, function () {
    this.timeout(180_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start({ resyncPeriodMs: 1_000 });
      namespace = await env.namespace("admin-session");
      await env.instance(namespace, "pg", kind);
    });

    /** Roles that planted traps in the maintenance database: whatever is left of them goes after the tests. */
    const planted: string[] = [];

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.asSuperuser(async (db) => {
        for (const role of planted) {
          const exists = await db.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [role]);
          if (exists.rows.length > 0) await db.query(`DROP OWNED BY "${role}"`);
        }
        await db.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
      });
      await env.stop();
    });

    const provisioned = async (name: string): Promise<SecretData> => {
      await env.database(namespace, name, { instance: "pg" });
      await env.ready(namespace, name, 60_000);
      return env.secretData(namespace, `psql-${name}-app`);
    };

    it("never runs a tenant's operators or functions as the admin, through create, resync, drift repair and deletion", async () => {
      const before = await env.asSuperuser(catalogSnapshot);
      const victim = await provisioned("trapped");
      const bystander = await provisioned("bystander");
      const app = victim.DB_USER!;
      const inspector = app.replace(/_app$/, "_inspector");
      const trap = new AdminTrap(app, [bystander.DB_USER!, inspector]);
      const standing = await env.asSuperuser((db) => roleStanding(db, app));

      await using(env.connectWith(victim), async (asApp) => {
        await trap.plant(asApp);
        // Drift the app itself may cause: the repair path runs the grant checks and statements again.
        await asApp.query(`ALTER DEFAULT PRIVILEGES FOR ROLE "${app}" REVOKE SELECT ON TABLES FROM "${inspector}"`);
      });
      await eventually(
        async () =>
          expect(await env.asSuperuser((db) => defaultTableAcl(db, app), victim.DB_NAME)).to.include(`${inspector}=r/`),
        60_000,
        200,
      );
      await env.ready(namespace, "trapped");
      await env.ready(namespace, "bystander");

      expect(await env.asSuperuser((db) => roleStanding(db, app))).to.deep.equal(standing);
      const ran = await env.asSuperuser(async (db) => {
        await db.query("SET search_path = pg_catalog, pg_temp");
        return (await db.query<{ who: string }>("SELECT who FROM public.kompost_trap_log")).rows;
      }, victim.DB_NAME);
      expect(ran, "the trap's own record of running").to.deep.equal([]);

      await env.deleteDatabases(namespace);
      expect(trap.runsIn(await env.srv.readLog()), "the trap's WARNING in the server log").to.deep.equal([]);
      expect(await env.asSuperuser(catalogSnapshot)).to.deep.equal(before);
    });

    it("never runs traps planted in the maintenance database where PUBLIC may create (PostgreSQL 14 and older), through role repair and deletion", async () => {
      const before = await env.asSuperuser(catalogSnapshot);
      const victim = await provisioned("maintenance");
      const app = victim.DB_USER!;
      const trap = new AdminTrap(app, [app.replace(/_app$/, "_inspector")]);
      const standing = await env.asSuperuser((db) => roleStanding(db, app));
      // What PostgreSQL 14 and older grant PUBLIC by default; the pools' sessions run in this database.
      await env.asSuperuser((db) => db.query("GRANT CREATE ON SCHEMA public TO PUBLIC"));
      planted.push(app);
      try {
        await using(env.connectWith(victim, "postgres"), (asApp) => trap.plant(asApp));
      } finally {
        await env.asSuperuser((db) => db.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC"));
      }
      // Drift that only the maintenance database's queries see and repair.
      await env.asSuperuser((db) => db.query(`ALTER ROLE "${app}" CREATEDB`));
      await env.event(namespace, "maintenance", "RoleRepaired");
      expect(await env.asSuperuser((db) => roleStanding(db, app))).to.deep.equal(standing);

      await env.deleteDatabases(namespace);
      expect(trap.runsIn(await env.srv.readLog()), "the trap's WARNING in the server log").to.deep.equal([]);
      expect(await env.asSuperuser(catalogSnapshot)).to.deep.equal(before);
    });
  });
}
