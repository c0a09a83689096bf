import { expect } from "chai";
import { eventually } from "../../test/support/eventually.js";
import { DELETION_POLICY_ANNOTATION, FINALIZER } from "../constants.js";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, sqlState, using } from "../../test/env/database-env.js";

/** Which of the database's objects exist on the server. */
async function onServer(env: DatabaseTestEnv, data: SecretData): Promise<{ database: boolean; roles: string[] }> {
  return env.asSuperuser(async (db) => {
    const database = await db.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [data.DB_NAME]);
    const prefix = data.DB_NAME!;
    const roles = await db.query<{ rolname: string }>(
      "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1) ORDER BY 1",
      [[`${prefix}_app`, `${prefix}_inspector`]],
    );
    return { database: database.rows.length === 1, roles: roles.rows.map((r) => r.rolname) };
  });
}

for (const kind of ADMIN_KINDS) {
  describe(`PostgresDatabase deletion with the ${kind} admin (real API server and PostgreSQL)`, function () {
    this.timeout(120_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start();
      namespace = await env.namespace("deletion");
      await env.instance(namespace, "pg", kind);
    });

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.stop();
    });

    const provisioned = async (name: string, annotations: Record<string, string> = {}): Promise<SecretData> => {
      await env.database(namespace, name, { instance: "pg" }, { annotations });
      await env.ready(namespace, name);
      return env.secretData(namespace, `psql-${name}-app`);
    };

    it("drops the database while an app session is connected, then both roles, and lets the resource go", async () => {
      const data = await provisioned("busy");
      const session = await env.connectWith(data);
      session.on("error", () => undefined);
      try {
        await session.query("CREATE TABLE public.busy (id integer)");
        await env.kubectl("delete", "pgdb", "-n", namespace, "busy", "--wait=false");
        await env.gone(namespace, "busy");
        expect(await sqlState(session.query("SELECT 1"))).to.not.equal(undefined);
      } finally {
        await session.end().catch(() => undefined);
      }
      expect(await onServer(env, data)).to.deep.equal({ database: false, roles: [] });
      expect((await env.event(namespace, "busy", "Dropped")).message).to.include(`"${data.DB_NAME!}" dropped`);
    });

    it("lets the garbage collector remove the Secrets with the resource", async function () {
      if (!env.cp.garbageCollection) this.skip();
      await provisioned("collected");
      await env.kubectl("delete", "pgdb", "-n", namespace, "collected");
      await env.gone(namespace, "collected");
      await eventually(async () => {
        expect(await env.secret(namespace, "psql-collected-app")).to.equal(undefined);
        expect(await env.secret(namespace, "psql-collected-inspector")).to.equal(undefined);
      }, 60_000);
    });

    it("keeps the database and roles when the deletion policy is abandon", async () => {
      const data = await provisioned("kept", { [DELETION_POLICY_ANNOTATION]: "abandon" });
      expect((await env.get(namespace, "kept"))?.metadata.finalizers ?? []).to.not.include(FINALIZER);
      await env.kubectl("delete", "pgdb", "-n", namespace, "kept");
      await env.gone(namespace, "kept");
      expect(await onServer(env, data)).to.deep.equal({
        database: true,
        roles: [data.DB_USER, `${data.DB_NAME!}_inspector`],
      });
      await using(env.connectWith(data), (c) => c.query("SELECT 1"));
    });

    it("honours abandon set after creation: the finalizer goes and nothing on the server is touched", async () => {
      const data = await provisioned("late");
      expect((await env.get(namespace, "late"))?.metadata.finalizers).to.deep.equal([FINALIZER]);
      await env.kubectl("annotate", "pgdb", "-n", namespace, "late", `${DELETION_POLICY_ANNOTATION}=abandon`);
      await eventually(async () =>
        expect((await env.get(namespace, "late"))?.metadata.finalizers ?? []).to.deep.equal([]),
      );
      await env.kubectl("delete", "pgdb", "-n", namespace, "late");
      await env.gone(namespace, "late");
      expect((await onServer(env, data)).database).to.equal(true);
      await using(env.connectWith(data), (c) => c.query("SELECT 1"));
    });

    it("holds the deletion while the instance is not Ready, saying why, and completes it once it is", async () => {
      const data = await provisioned("waits");
      const key = { kind: "PostgresInstance" as const, namespace, name: "pg" };
      env.directory.withdraw(key);
      try {
        await env.kubectl("delete", "pgdb", "-n", namespace, "waits", "--wait=false");
        await env.condition(namespace, "waits", "Connection", "False", {
          reason: "DeletionWaiting",
          message: `to drop database "${data.DB_NAME!}"`,
        });
        expect((await env.event(namespace, "waits", "DeletionWaiting")).type).to.equal("Warning");
        expect((await onServer(env, data)).database).to.equal(true);
      } finally {
        env.publish(key, kind);
      }
      await env.gone(namespace, "waits");
      expect(await onServer(env, data)).to.deep.equal({ database: false, roles: [] });
    });

    it("holds the deletion while the server is down and completes it once the server is back", async () => {
      const data = await provisioned("outage");
      await env.srv.stop();
      try {
        await env.kubectl("delete", "pgdb", "-n", namespace, "outage", "--wait=false");
        await env.condition(namespace, "outage", "Connection", "False", { reason: "DeletionWaiting" });
        // Two more attempts, the second begun after the condition was seen, each held back.
        await env.reconciles.more({ namespace, name: "outage" }, 2);
        expect(await env.get(namespace, "outage")).to.not.equal(undefined);
      } finally {
        await env.srv.start();
      }
      await env.gone(namespace, "outage", 60_000);
      expect(await onServer(env, data)).to.deep.equal({ database: false, roles: [] });
    });
  });
}
