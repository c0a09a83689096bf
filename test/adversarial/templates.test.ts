/**
 * Hostile tenants against templates: a database made with params.is_template must
 * still be deletable, and params.template may only name what the platform allows
 * (template0, template1, spec.allowedTemplates), never another resource's database.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { ADMIN_KINDS, DatabaseTestEnv, using } from "../env/database-env.js";
import { dropPendingDatabase } from "../../services/postgres/objects/database.js";
import { connectAdmin, withClient } from "../../services/postgres/objects/fixture.test.js";
import { pendingDatabaseName } from "../../services/postgres/ownership.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { postgres } from "../harness/postgres.js";

for (const kind of ADMIN_KINDS) {
  describe(`templates under platform control, with the ${kind} admin`, function () {
    this.timeout(180_000);
    let env: DatabaseTestEnv;
    let nsX: string;
    let nsY: string;
    const plainTemplate = `plain_tpl_${randomBytes(4).toString("hex")}`;

    before(async () => {
      env = await DatabaseTestEnv.start();
      nsX = await env.namespace("cloned");
      nsY = await env.namespace("cloner");
      await env.instance(nsX, "pg", kind);
      await env.instance(nsY, "pg", kind);
      await env.asSuperuser((db) => db.query(`CREATE DATABASE ${quoteIdent(plainTemplate)} IS_TEMPLATE true`));
      await env.asSuperuser(async (db) => {
        await db.query("CREATE TABLE public.seed AS SELECT 'from the platform'::text AS note");
        // The grant set gives inspector SELECT on every table of public: the admin must be able to pass it on.
        await db.query(`GRANT SELECT ON public.seed TO ${quoteIdent(env.srv[kind].user)} WITH GRANT OPTION`);
      }, plainTemplate);
    });

    after(async () => {
      await env.deleteDatabases(nsX, nsY);
      await env.stop();
      await env.asSuperuser(async (db) => {
        await db.query(`ALTER DATABASE ${quoteIdent(plainTemplate)} IS_TEMPLATE false`);
        await db.query(`DROP DATABASE ${quoteIdent(plainTemplate)}`);
      });
    });

    const databaseExists = (name: string): Promise<boolean> =>
      env.asSuperuser(async (db) => {
        const { rows } = await db.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [name]);
        return rows.length === 1;
      });

    const allowTemplates = (names: readonly string[]): Promise<string> =>
      env.kubectl(
        "patch",
        "postgresinstance",
        "pg",
        "-n",
        nsY,
        "--type",
        "merge",
        "-p",
        JSON.stringify({ spec: { allowedTemplates: names } }),
      );

    it("deletes a database created with params.is_template: true", async () => {
      await env.database(nsX, "stamp", { instance: "pg" }, { spec: "  params:\n    is_template: true\n" });
      await env.ready(nsX, "stamp");
      const { DB_NAME: name } = await env.secretData(nsX, "psql-stamp-app");
      const template = await env.asSuperuser((db) =>
        db.query("SELECT datistemplate FROM pg_catalog.pg_database WHERE datname = $1", [name]),
      );
      expect(template.rows).to.deep.equal([{ datistemplate: true }]);
      await env.kubectl("delete", "pgdb", "-n", nsX, "stamp", "--wait=false");
      await env.gone(nsX, "stamp", 60_000);
      expect(await databaseExists(name!)).to.equal(false);
    });

    it("refuses params.template naming another tenant's template database, listed or not, and reads nothing", async () => {
      await env.database(nsX, "golden", { instance: "pg" }, { spec: "  params:\n    is_template: true\n" });
      await env.ready(nsX, "golden");
      const golden = await env.secretData(nsX, "psql-golden-app");
      await using(env.connectWith(golden), (app) =>
        app.query("CREATE TABLE public.secrets AS SELECT 'x-only'::text AS secret"),
      );
      await env.database(nsY, "thief", { instance: "pg" }, { spec: `  params:\n    template: ${golden.DB_NAME!}\n` });
      const refused = await env.condition(nsY, "thief", "Database", "False", { reason: "InvalidParameter" });
      const message = refused.status!.conditions!.find((c) => c.type === "Database")!.message!;
      expect(message).to.include(`params.template "${golden.DB_NAME!}"`).and.include("allowedTemplates");
      expect((await env.event(nsY, "thief", "InvalidParameter")).type).to.equal("Warning");
      await env.condition(nsY, "thief", "Ready", "False");

      // Even when the platform lists it, a database Kompost made for a PostgresDatabase is never a template.
      await allowTemplates([golden.DB_NAME!]);
      await env.condition(nsY, "thief", "Database", "False", {
        reason: "InvalidParameter",
        message: "created by Kompost for a PostgresDatabase",
      });
      const thiefDatabase = await env.asSuperuser((db) =>
        db.query(
          "SELECT datname FROM pg_catalog.pg_database WHERE pg_catalog.shobj_description(oid, 'pg_database') LIKE $1",
          [`%for PostgresDatabase ${nsY}/thief`],
        ),
      );
      expect(thiefDatabase.rows).to.deep.equal([]);
    });

    it("accepts a plain template the platform lists in spec.allowedTemplates", async () => {
      await env.database(nsY, "stamped", { instance: "pg" }, { spec: `  params:\n    template: ${plainTemplate}\n` });
      await env.condition(nsY, "stamped", "Database", "False", { reason: "InvalidParameter" });
      await allowTemplates([plainTemplate]);
      await env.ready(nsY, "stamped", 60_000);
      const stamped = await env.secretData(nsY, "psql-stamped-app");
      const { rows } = await env.asSuperuser((db) => db.query("SELECT note FROM public.seed"), stamped.DB_NAME);
      expect(rows).to.deep.equal([{ note: "from the platform" }]);
    });
  });
}

for (const kind of ADMIN_KINDS) {
  describe(`an unfinished template database, with the ${kind} admin`, () => {
    it("is dropped although a crash left it IS_TEMPLATE before its marker and rename", async () => {
      const srv = await postgres();
      const owner = { namespace: `tpl-${randomBytes(4).toString("hex")}`, name: "stamp" };
      const pending = pendingDatabaseName(owner);
      await withClient(connectAdmin(srv, kind), async (admin) => {
        // What createDatabase leaves when killed right after CREATE DATABASE with params.is_template.
        await admin.query(`CREATE DATABASE ${quoteIdent(pending)} IS_TEMPLATE true ALLOW_CONNECTIONS false`);
        expect(await dropPendingDatabase(admin, owner)).to.equal("dropped");
        const { rows } = await admin.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [pending]);
        expect(rows).to.deep.equal([]);
      });
    });
  });
}
