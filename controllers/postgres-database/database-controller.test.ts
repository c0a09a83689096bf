import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import { secretKind } from "../../runtime/resource-kind.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { CONNECTION_SECRET_KEYS } from "../../services/secrets/connection-details.js";
import { eventually } from "../../test/support/eventually.js";
import { FINALIZER } from "../constants.js";
import { ADMIN_KINDS, DatabaseTestEnv, type SecretData, sqlState, using } from "../../test/env/database-env.js";

/** Short, so that drift is repaired and a quiet resync is observed within a test. */
const RESYNC_MS = 1000;

const SECRET_KEYS = [...CONNECTION_SECRET_KEYS].sort();

for (const kind of ADMIN_KINDS) {
  describe(`PostgresDatabase controller with the ${kind} admin (real API server and PostgreSQL)`, function () {
    this.timeout(120_000);
    let env: DatabaseTestEnv;
    let namespace: string;

    before(async () => {
      env = await DatabaseTestEnv.start({ resyncPeriodMs: RESYNC_MS });
      namespace = await env.namespace("readme");
      await env.instance(namespace, "app-database", kind);
    });

    after(async () => {
      await env.deleteDatabases(namespace);
      await env.stop();
    });

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
        expect(db.status?.users?.map(({ username, secret }) => ({ username, secret }))).to.have.deep.members([
          { username: `${database()}_app`, secret: "psql-staging-app" },
          { username: `${database()}_inspector`, secret: "psql-staging-inspector" },
        ]);
        for (const user of db.status?.users ?? []) expect(user.passwordSetAt).to.match(/^\d{4}-\d\d-\d\dT[\d:]{8}Z$/);
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
            DB_SSL_CA: env.srv.caPem,
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

      it("records one Provisioned Event that names what it created and says the resource is ready", async () => {
        const event = await env.event(namespace, "staging", "Provisioned");
        expect(event.type).to.equal("Normal");
        expect(event.message).to.include(`database "${database()}"`).and.to.include("ready");
        expect(event.message).to.include('created Secret "psql-staging-app"').and.to.include("created role");
      });
    });

    describe("security properties (docs/security.md)", () => {
      let a: SecretData;
      let aInspector: SecretData;
      let b: SecretData;

      before(async () => {
        await env.database(namespace, "tenant-a", { instance: "app-database" });
        await env.database(namespace, "tenant-b", { instance: "app-database" });
        await env.ready(namespace, "tenant-a");
        await env.ready(namespace, "tenant-b");
        a = await env.secretData(namespace, "psql-tenant-a-app");
        aInspector = await env.secretData(namespace, "psql-tenant-a-inspector");
        b = await env.secretData(namespace, "psql-tenant-b-app");
      });

      it("lets app create, alter and drop tables, sequences, views, functions and schemas on PostgreSQL 15+", async () => {
        expect(env.srv.majorVersion).to.be.at.least(15);
        await using(env.connectWith(a), async (app) => {
          for (const statement of [
            "CREATE TABLE public.t (id serial PRIMARY KEY, v text)",
            "ALTER TABLE public.t ADD COLUMN w integer",
            "INSERT INTO public.t (v, w) VALUES ('x', 1)",
            "CREATE SEQUENCE public.s",
            "CREATE VIEW public.v AS SELECT id FROM public.t",
            "CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
            "CREATE SCHEMA own",
            "CREATE TABLE own.t (id integer)",
            "DROP FUNCTION public.f()",
            "DROP VIEW public.v",
            "DROP SEQUENCE public.s",
            "DROP TABLE public.t",
            "DROP SCHEMA own CASCADE",
          ]) {
            await app.query(statement);
          }
        });
      });

      it("lets inspector read a table app creates after provisioning, and neither write nor create", async () => {
        await using(env.connectWith(a), async (app) => {
          await app.query("CREATE TABLE public.later (id integer)");
          await app.query("INSERT INTO public.later VALUES (42)");
        });
        await using(env.connectWith(aInspector), async (inspector) => {
          expect((await inspector.query("SELECT id FROM public.later")).rows).to.deep.equal([{ id: 42 }]);
          expect(await sqlState(inspector.query("INSERT INTO public.later VALUES (1)"))).to.equal("42501");
          expect(await sqlState(inspector.query("DELETE FROM public.later"))).to.equal("42501");
          expect(await sqlState(inspector.query("CREATE TABLE public.mine (id integer)"))).to.equal("42501");
          expect(await sqlState(inspector.query("CREATE SCHEMA mine"))).to.equal("42501");
        });
      });

      it("keeps each tenant's roles out of the other tenant's database", async () => {
        expect(await sqlState(env.connectWith(a, b.DB_NAME))).to.equal("42501");
        expect(await sqlState(env.connectWith(aInspector, b.DB_NAME))).to.equal("42501");
        expect(await sqlState(env.connectWith(b, a.DB_NAME))).to.equal("42501");
      });

      it("gives the tenant roles no membership, no SET ROLE to the admin and no elevated attributes", async () => {
        const roles = [a.DB_USER, aInspector.DB_USER];
        const rows = await env.asSuperuser(async (db) => {
          const result = await db.query<{ role: string; member_of: number; elevated: boolean }>(
            `SELECT r.rolname AS role,
                    (SELECT count(*) FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid)::int AS member_of,
                    r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls AS elevated
               FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1) ORDER BY 1`,
            [roles],
          );
          return result.rows;
        });
        expect(rows).to.deep.equal(roles.sort().map((role) => ({ role, member_of: 0, elevated: false })));
        for (const data of [a, aInspector]) {
          await using(env.connectWith(data), async (tenant) => {
            expect(await sqlState(tenant.query(`SET ROLE ${quoteIdent(env.srv[kind].user)}`))).to.equal("42501");
            expect(await sqlState(tenant.query(`SET ROLE ${quoteIdent(env.srv.superuser.user)}`))).to.equal("42501");
          });
        }
      });

      it("generates passwords of at least 32 characters that differ for every role", () => {
        const passwords = [a.DB_PASS, aInspector.DB_PASS, b.DB_PASS];
        for (const password of passwords) expect(password).to.match(/^[A-Za-z0-9]{32,}$/);
        expect(new Set(passwords).size).to.equal(passwords.length);
      });
    });

    describe("a resync where nothing drifted", () => {
      it("issues only catalog reads and writes nothing to the API server", async () => {
        await env.database(namespace, "quiet", { instance: "app-database" });
        await env.ready(namespace, "quiet");
        const quiet = { namespace, name: "quiet" };
        // Settled: a resync that started after Ready has finished.
        await env.reconciles.more(quiet, 2);
        const rvOf = async (): Promise<(string | undefined)[]> => [
          (await env.get(namespace, "quiet"))?.metadata.resourceVersion,
          (await env.secret(namespace, "psql-quiet-app"))?.metadata?.resourceVersion,
          (await env.secret(namespace, "psql-quiet-inspector"))?.metadata?.resourceVersion,
        ];
        const before = await rvOf();
        const writes = { patches: env.client.patches, creates: env.client.creates };
        const logStart = (await env.srv.readLog()).length;
        // A resync begun after the marks above, and the next.
        await env.reconciles.more(quiet, 3);
        const statements = loggedStatements((await env.srv.readLog()).slice(logStart));
        // The resyncs did run: they looked the database up.
        expect(statements.some((s) => s.includes("pg_catalog.pg_database"))).to.equal(true);
        expect(statements.filter((s) => !/^SELECT\b/i.test(s))).to.deep.equal([]);
        expect({ patches: env.client.patches, creates: env.client.creates }).to.deep.equal(writes);
        expect(await rvOf()).to.deep.equal(before);
      });
    });

    // Each test starts from the Secrets as they are now, so that they pass alone (--grep) and in any order.
    describe("drift repair", () => {
      /** Every password a Secret held during these tests, for the leak checks. */
      const seen: string[] = [];

      before(async () => {
        await env.database(namespace, "drift", { instance: "app-database" });
        await env.ready(namespace, "drift");
        seen.push((await current()).DB_PASS!);
      });

      /** The app Secret as it is now. */
      const current = () => env.secretData(namespace, "psql-drift-app");

      const appWorks = (data: SecretData) =>
        eventually(
          () =>
            using(env.connectWith(data), async (app) => {
              await app.query("CREATE TABLE IF NOT EXISTS public.probe (id integer)");
            }),
          30_000,
          200,
        );

      it("re-creates a dropped database with the grants, for the same Secrets", async () => {
        const app = await current();
        await env.asSuperuser((db) => db.query(`DROP DATABASE ${quoteIdent(app.DB_NAME!)} WITH (FORCE)`));
        await appWorks(app);
        const inspector = await env.secretData(namespace, "psql-drift-inspector");
        await eventually(
          () => using(env.connectWith(inspector), (c) => c.query("SELECT id FROM public.probe")),
          30_000,
          200,
        );
      });

      it("re-creates a dropped role with the Secret's password", async () => {
        const app = await current();
        const role = quoteIdent(app.DB_USER!);
        // One transaction, retried: a resync between the two statements would grant to the role again.
        await eventually(
          () =>
            env.asSuperuser((db) => db.query(`BEGIN; DROP OWNED BY ${role}; DROP ROLE ${role}; COMMIT`), app.DB_NAME),
          10_000,
          100,
        );
        await appWorks(app);
      });

      it("resets a password changed on the server to the Secret's", async () => {
        await changePasswordOnServer();
      });

      /** Changes the app role's password on the server and waits until the controller has set the Secret's again. */
      async function changePasswordOnServer(): Promise<void> {
        const app = await current();
        const resets = () => env.logLines.filter((line) => line.includes("PasswordReset")).length;
        const before = resets();
        await env.asSuperuser((db) => db.query(`ALTER ROLE ${quoteIdent(app.DB_USER!)} PASSWORD 'changed-by-hand'`));
        await appWorks(app);
        await eventually(() => expect(resets()).to.be.greaterThan(before), 30_000);
        await env.event(namespace, "drift", "PasswordReset");
      }

      it("grants a revoked privilege again", async () => {
        const app = await current();
        await appWorks(app); // the table public.probe exists
        const inspector = await env.secretData(namespace, "psql-drift-inspector");
        await env.asSuperuser(
          (db) => db.query(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM ${quoteIdent(inspector.DB_USER!)}`),
          app.DB_NAME,
        );
        await env.asSuperuser((db) =>
          db.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(app.DB_NAME!)} FROM ${quoteIdent(inspector.DB_USER!)}`),
        );
        await eventually(
          () => using(env.connectWith(inspector), (c) => c.query("SELECT id FROM public.probe")),
          30_000,
          200,
        );
      });

      it("brings a deleted Secret back with a new password that the role then has", async () => {
        const before = await current();
        await appWorks(before);
        await env.kubectl("delete", "secret", "-n", namespace, "psql-drift-app");
        const renewed = await eventually(async () => {
          const data = await current();
          expect(data.DB_PASS).to.not.equal(before.DB_PASS);
          return data;
        }, 30_000);
        seen.push(renewed.DB_PASS!);
        expect(renewed.DB_PASS).to.match(/^[A-Za-z0-9]{32,}$/);
        await appWorks(renewed);
        expect(await sqlState(env.connectWith(before))).to.equal("28P01");
      });

      it("makes an edited DB_PASS the role's password and puts every other edited key back", async () => {
        const chosen = `my 'own'; pass\\word "${kind}" -- ok`;
        seen.push(chosen);
        await editSecret(env, namespace, "psql-drift-app", { DB_PASS: chosen, DB_HOST: "elsewhere.example" });
        const data = await eventually(async () => {
          const now = await current();
          expect(now.DB_HOST).to.equal(env.srv.tlsServerName);
          return now;
        }, 30_000);
        expect(data.DB_PASS).to.equal(chosen);
        expect(data.DATABASE_URL).to.include(encodeURIComponent(chosen));
        await appWorks(data);
        await using(env.connectWithUrl(data), (c) => c.query("SELECT 1"));
      });

      it("replaces an unusable DB_PASS with a generated one and says so in a Warning Event", async () => {
        await editSecret(env, namespace, "psql-drift-app", { DB_PASS: "" });
        const data = await eventually(async () => {
          const now = await current();
          expect(now.DB_PASS).to.match(/^[A-Za-z0-9]{32,}$/);
          return now;
        }, 30_000);
        seen.push(data.DB_PASS!);
        await appWorks(data);
        const warning = await env.event(namespace, "drift", "PasswordRegenerated");
        expect(warning.type).to.equal("Warning");
        expect(warning.message).to.include("DB_PASS is empty");
      });

      it("never puts a password into a log line, an Event or the status", async () => {
        await changePasswordOnServer(); // so that there is a PasswordReset to look at
        const secrets = await env.client.list<V1Secret>(secretKind, { namespace });
        const passwords = secrets.items.map((s) => Buffer.from(s.data?.DB_PASS ?? "", "base64").toString("utf8"));
        const events = (await env.events(namespace, "drift")).map((e) => e.message ?? "");
        const status = JSON.stringify((await env.get(namespace, "drift"))?.status);
        // The controller did log and record what it did, so the search below looks at real text.
        expect(env.logLines.join("\n")).to.include("PasswordReset");
        expect(events.join("\n")).to.include("Secret");
        for (const password of [...passwords, ...seen].filter((p) => p.length > 0)) {
          expect(env.logLines.join("\n")).to.not.include(password);
          expect(events.join("\n")).to.not.include(password);
          expect(status).to.not.include(password);
        }
      });

      it("never shows a password of any Secret in the server log", async () => {
        const log = await env.srv.readLog();
        expect(log).to.include("SCRAM-SHA-256$4096:");
        const secrets = await env.client.list<V1Secret>(secretKind, { namespace });
        const passwords = secrets.items.map((s) => Buffer.from(s.data?.DB_PASS ?? "", "base64").toString("utf8"));
        expect(passwords).to.have.length.at.least(2);
        for (const password of [...passwords, ...seen]) {
          if (password.length > 0) expect(log).to.not.include(password);
        }
      });
    });
  });
}

/** The statements of a log_statement=all server log, in order. */
function loggedStatements(log: string): string[] {
  return [...log.matchAll(/LOG:\s+(?:statement|execute [^:]*):\s*(.*)$/gm)].map((m) => m[1]!.trim());
}

/** Sets keys of a Secret's data the way a user would (kubectl patch). */
async function editSecret(
  env: DatabaseTestEnv,
  namespace: string,
  name: string,
  values: Record<string, string>,
): Promise<void> {
  const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  await env.kubectl("patch", "secret", "-n", namespace, name, "--type=merge", "-p", JSON.stringify({ data }));
}
