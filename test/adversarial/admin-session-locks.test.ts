import { expect } from "chai";
import type pg from "pg";
import { DatabaseReason } from "../../controllers/constants.js";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, using } from "../env/database-env.js";

for (const kind of ADMIN_KINDS) {
  describe(`Tenant locks against admin statements with the ${kind} admin (adversarial, real API server and PostgreSQL)`, function () {
    this.timeout(180_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start({ resyncPeriodMs: 1_000 });
      namespace = await env.namespace("locks");
      await env.instance(namespace, "pg", kind);
    });

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.stop();
    });

    const provisioned = async (name: string): Promise<SecretData> => {
      await env.database(namespace, name, { instance: "pg" });
      await env.ready(namespace, name, 60_000);
      return env.secretData(namespace, `psql-${name}-app`);
    };

    /**
     * Opens a transaction as the tenant's app that alters a table of its own and stays open: it holds
     * ACCESS EXCLUSIVE on the table and its uncommitted pg_class row, which a GRANT must update.
     */
    async function holdLock(data: SecretData, table: string): Promise<pg.Client> {
      const holder = await env.connectWith(data);
      holder.on("error", () => undefined);
      await holder.query(`CREATE TABLE public.${table} (id integer)`);
      await holder.query("BEGIN");
      await holder.query(`ALTER TABLE public.${table} ADD COLUMN altered integer`);
      return holder;
    }

    it("gives up on a tenant's lock quickly with a not-Ready LockTimeout, keeps retrying, and provisions other tenants meanwhile", async () => {
      const locked = ["locked-a", "locked-b", "locked-c"]; // more than the controller's two workers
      const holders: pg.Client[] = [];
      try {
        for (const name of locked) {
          const data = await provisioned(name);
          holders.push(await holdLock(data, "held"));
          // Drift the app may cause itself: the repair then runs GRANT ... ON ALL TABLES, which needs the lock.
          await using(env.connectWith(data), (app) =>
            app.query(
              `ALTER DEFAULT PRIVILEGES FOR ROLE "${data.DB_USER!}" REVOKE SELECT ON TABLES FROM "${data.DB_USER!.replace(/_app$/, "_inspector")}"`,
            ),
          );
        }
        for (const name of locked) {
          const db = await env.condition(
            namespace,
            name,
            "Ready",
            "False",
            { reason: DatabaseReason.LockTimeout },
            60_000,
          );
          const message = db.status!.conditions!.find((c) => c.type === "Ready")!.message!;
          expect(message).to.include("lock timeout").and.include("holds a lock");
        }
        await env.database(namespace, "neighbour", { instance: "pg" });
        await env.ready(namespace, "neighbour", 60_000);
        // Still held: the locked ones are retried, not given up.
        const retried = await env.events(namespace, "locked-a");
        expect(retried.find((e) => e.reason === DatabaseReason.LockTimeout)?.count ?? 0).to.be.greaterThan(0);
      } finally {
        for (const holder of holders) await holder.end().catch(() => undefined);
      }
      for (const name of locked) await env.ready(namespace, name, 60_000);
    });
  });
}
