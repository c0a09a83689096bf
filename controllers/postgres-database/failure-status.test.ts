import { expect } from "chai";
import { metricsRegistry } from "../../runtime/metrics.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { eventually } from "../../test/support/eventually.js";
import { DatabaseReason } from "../constants.js";
import { ADMIN_KINDS, DatabaseTestEnv } from "../../test/env/database-env.js";

/** Resyncs often, so that the drift below is seen and retried within the test. */
const RESYNC_MS = 1000;

/** What the event trigger of the test says when it refuses a GRANT. */
const REFUSAL = "refused by an event trigger of the test";

/** controller_runtime_reconcile_errors_total of the PostgresDatabase controller, as /metrics would show it. */
async function reconcileErrors(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("controller_runtime_reconcile_errors_total")?.get();
  return metric?.values.find((v) => v.labels.controller === "postgresdatabase")?.value ?? 0;
}

/**
 * Issue 10 item 3: a failure that is not classed (here a GRANT refused by an event trigger
 * in the tenant database) used to leave Ready True while the reconcile failed and retried.
 * Now it is Ready False with ReconcileFailed and the error's message, and every failed
 * retry counts in the reconcile errors metric, until the cause is gone.
 */
for (const kind of ADMIN_KINDS) {
  describe(`a step that fails for a reason Kompost does not class (${kind} admin)`, function () {
    this.timeout(120_000);
    let env: DatabaseTestEnv;
    let namespace: string;
    let database: string;

    before(async () => {
      env = await DatabaseTestEnv.start({ resyncPeriodMs: RESYNC_MS });
      namespace = await env.namespace("unclassed");
      await env.instance(namespace, "app-database", kind);
      await env.database(namespace, "refused", { instance: "app-database" });
      database = (await env.ready(namespace, "refused")).status!.sql_db_name!;
    });

    after(async () => {
      await env.asSuperuser((db) => db.query("DROP EVENT TRIGGER IF EXISTS refuse_grants"), database);
      await env.deleteDatabases(namespace);
      await env.stop();
    });

    it("sets Ready False with ReconcileFailed and the error's message, counts every failed retry, and recovers once the cause is gone", async () => {
      await env.asSuperuser(async (db) => {
        await db.query(
          `CREATE FUNCTION public.refuse_grants() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '${REFUSAL}'; END$$`,
        );
        await db.query(
          "CREATE EVENT TRIGGER refuse_grants ON ddl_command_start WHEN TAG IN ('GRANT') EXECUTE FUNCTION public.refuse_grants()",
        );
      }, database);
      const before = await reconcileErrors();
      // Drift that the grants step repairs with a GRANT, which the trigger then refuses.
      await env.asSuperuser((db) =>
        db.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM ${quoteIdent(`${database}_inspector`)}`),
      );

      const failed = await env.condition(namespace, "refused", "Ready", "False", {
        reason: DatabaseReason.ReconcileFailed,
        message: REFUSAL,
      });
      const inspector = failed.status?.conditions?.find((c) => c.type === "InspectorUser");
      expect(inspector).to.include({ status: "False", reason: DatabaseReason.ReconcileFailed });
      // A retry, not a dead end: kstatus reads InProgress (Reconciling True), not Failed.
      const reconciling = failed.status?.conditions?.find((c) => c.type === "Reconciling");
      expect(reconciling).to.include({ status: "True", reason: DatabaseReason.ReconcileFailed });
      expect(failed.status?.conditions?.find((c) => c.type === "Stalled")).to.equal(undefined);
      await env.event(namespace, "refused", DatabaseReason.ReconcileFailed);
      await eventually(async () => expect(await reconcileErrors()).to.be.at.least(before + 2), 30_000, 200);

      await env.asSuperuser((db) => db.query("DROP EVENT TRIGGER refuse_grants"), database);
      const recovered = await env.ready(namespace, "refused");
      expect(recovered.status?.conditions?.map((c) => c.type)).to.not.include("Reconciling");
    });

    it("keeps a deletion whose clean-up fails visible as Database False with ReconcileFailed, and finishes it once the cause is gone", async () => {
      await env.database(namespace, "stuck", { instance: "app-database" });
      const names = (await env.ready(namespace, "stuck")).status!;
      // Something app holds in another database, which the clean-up releases with DROP OWNED BY there.
      const elsewhere = `${names.sql_db_name!}_elsewhere`;
      await env.asSuperuser((db) => db.query(`CREATE DATABASE ${quoteIdent(elsewhere)}`));
      try {
        await env.asSuperuser(async (db) => {
          await db.query("CREATE TABLE public.shared (id integer)");
          await db.query(`ALTER TABLE public.shared OWNER TO ${quoteIdent(names.users![0]!.username)}`);
          await db.query(
            `CREATE FUNCTION public.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '${REFUSAL}'; END$$`,
          );
          await db.query(
            "CREATE EVENT TRIGGER refuse_drop_owned ON ddl_command_start WHEN TAG IN ('DROP OWNED') EXECUTE FUNCTION public.refuse()",
          );
        }, elsewhere);
        await env.kubectl("delete", "pgdb", "stuck", "-n", namespace, "--wait=false");

        await env.condition(namespace, "stuck", "Ready", "False", {
          reason: DatabaseReason.ReconcileFailed,
          message: REFUSAL,
        });
        await env.condition(namespace, "stuck", "Database", "False", { reason: DatabaseReason.ReconcileFailed });
        await env.condition(namespace, "stuck", "Reconciling", "True", { reason: DatabaseReason.ReconcileFailed });

        await env.asSuperuser((db) => db.query("DROP EVENT TRIGGER refuse_drop_owned"), elsewhere);
        await env.gone(namespace, "stuck").catch(async (err: unknown) => {
          throw new Error(`${String(err)}: ${JSON.stringify((await env.get(namespace, "stuck"))?.status)}`);
        });
      } finally {
        await env.asSuperuser((db) => db.query(`DROP DATABASE IF EXISTS ${quoteIdent(elsewhere)} WITH (FORCE)`));
      }
    });
  });
}
