import { expect } from "chai";
import { FINALIZER } from "../constants.js";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, using } from "./test-env.js";

const SECRET_KEYS = ["DATABASE_URL", "DB_HOST", "DB_NAME", "DB_PASS", "DB_PORT", "DB_SSL", "DB_SSL_VERIFY", "DB_USER"];

for (const kind of ADMIN_KINDS) {
  describe(`PostgresDatabase controller with the ${kind} admin (real API server and PostgreSQL)`, function () {
    this.timeout(120_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start();
      namespace = await env.namespace("readme");
      await env.instance(namespace, "app-database", kind);
    });

    after(() => env.stop());

    describe("the original README's example", () => {
      let app: SecretData;
      let inspector: SecretData;
      const database = () => `${namespace.replace(/-/g, "_")}_staging`;

      before(async () => {
        await env.database(namespace, "staging", { instance: "app-database", instanceNamespace: namespace });
        await env.ready(namespace, "staging");
        app = await env.secretData(namespace, "psql-staging-app");
        inspector = await env.secretData(namespace, "psql-staging-inspector");
      });

      it("reports the original's conditions, the database name and both users in status", async () => {
        const db = (await env.get(namespace, "staging"))!;
        const byType = Object.fromEntries((db.status?.conditions ?? []).map((c) => [c.type, c]));
        expect(byType.Connection).to.include({
          status: "True",
          message: "Connected to the referenced PostgreSQL instance.",
        });
        expect(byType.Database).to.include({
          status: "True",
          message: `The database "${database()}" was created on the PostgreSQL instance`,
        });
        expect(byType.AppUser).to.include({ status: "True", message: "Application user was created successfully." });
        expect(byType.InspectorUser).to.include({
          status: "True",
          message: "Inspector user was created successfully.",
        });
        expect(byType.Ready).to.include({ status: "True" });
        expect(db.status?.observedGeneration).to.equal(db.metadata.generation);
        expect(db.status?.sql_db_name).to.equal(database());
        expect(db.status?.users).to.have.deep.members([
          { username: `${database()}_app`, secret: "psql-staging-app" },
          { username: `${database()}_inspector`, secret: "psql-staging-inspector" },
        ]);
        expect(db.metadata.finalizers).to.deep.equal([FINALIZER]);
      });

      it("writes both Secrets with every key, owned by the PostgresDatabase", async () => {
        const db = (await env.get(namespace, "staging"))!;
        for (const [role, data] of [
          ["app", app],
          ["inspector", inspector],
        ] as const) {
          expect(Object.keys(data).sort()).to.deep.equal(SECRET_KEYS);
          expect(data).to.include({
            DB_HOST: env.srv.tlsServerName,
            DB_PORT: String(env.srv.port),
            DB_NAME: database(),
            DB_USER: `${database()}_${role}`,
            DB_SSL: "true",
            DB_SSL_VERIFY: "true",
          });
          expect(data.DB_PASS).to.match(/^[A-Za-z0-9]{32,}$/);
          const secret = (await env.secret(namespace, `psql-staging-${role}`))!;
          expect(secret.metadata?.ownerReferences).to.deep.equal([
            {
              apiVersion: "kompost.chuge.li/v1alpha1",
              kind: "PostgresDatabase",
              name: "staging",
              uid: db.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ]);
        }
        expect(app.DB_PASS).to.not.equal(inspector.DB_PASS);
      });

      it("lets an application connect with each Secret's values and with DATABASE_URL, over TLS", async () => {
        for (const data of [app, inspector]) {
          for (const connecting of [env.connectWith(data), env.connectWithUrl(data)]) {
            await using(connecting, async (client) => {
              const { rows } = await client.query<{ user: string; db: string; ssl: boolean }>(
                "SELECT current_user AS user, current_database() AS db, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl",
              );
              expect(rows[0]).to.deep.equal({ user: data.DB_USER, db: database(), ssl: true });
            });
          }
        }
      });

      it("records Events for what it created, and that the resource became Ready", async () => {
        const reasons = (await env.events(namespace, "staging")).map((e) => e.reason);
        expect(reasons).to.include.members(["DatabaseCreated", "UserCreated", "SecretCreated", "Ready"]);
      });
    });
  });
}
