import { expect } from "chai";
import { catalogSnapshot } from "../../services/postgres/objects/fixture.test.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { ALLOWED_NAMESPACES_ANNOTATION, DELETION_POLICY_ANNOTATION, FINALIZER } from "../constants.js";
import { DatabaseTestEnv, using } from "../../test/env/database-env.js";

/** params a user might write to break out of CREATE DATABASE, with the words the refusal must contain. */
const HOSTILE_PARAMS: readonly { readonly yaml: string; readonly says: string }[] = [
  { yaml: `template: 'template0"; DROP DATABASE postgres; --'`, says: "params.template" },
  { yaml: `locale: "C'; DROP ROLE kompost_admin; --"`, says: "params.locale" },
  { yaml: `encoding: "UTF8'; SELECT pg_sleep(10); --"`, says: "params.encoding" },
  { yaml: `lc_collate: "en_US\\u00e9\\\\'"`, says: "params.lc_collate" },
  { yaml: `template: postgres`, says: "is not a template database" },
];

describe("PostgresDatabase with hostile input and foreign objects (real API server and PostgreSQL)", function () {
  this.timeout(120_000);
  let env: DatabaseTestEnv;
  let namespace: string;
  const prefix = (): string => namespace.replace(/-/g, "_");

  before(async () => {
    env = await DatabaseTestEnv.start();
    namespace = await env.namespace("hostile");
    await env.instance(namespace, "pg", "limitedAdmin");
  });

  after(async () => {
    await env.deleteDatabases(namespace);
    await env.stop();
  });

  it("refuses hostile params with a clear Database message and a Warning Event, changing nothing on the server", async () => {
    const before = await env.asSuperuser(catalogSnapshot);
    for (const [index, { yaml, says }] of HOSTILE_PARAMS.entries()) {
      const name = `params-${index}`;
      await env.database(namespace, name, { instance: "pg" }, { spec: `  params:\n    ${yaml}\n` });
      const db = await env.condition(namespace, name, "Database", "False", {
        reason: "InvalidParameter",
        message: says,
      });
      const message = db.status!.conditions!.find((c) => c.type === "Database")!.message!;
      expect(message).to.not.match(/syntax error|SQLSTATE/);
      expect((await env.event(namespace, name, "InvalidParameter")).type).to.equal("Warning");
      expect(await env.secret(namespace, `psql-${name}-app`)).to.equal(undefined);
    }
    expect(await env.asSuperuser(catalogSnapshot)).to.deep.equal(before);
  });

  it("reads hostile annotations as data: no access from a pattern with SQL in it, no abandon from a near miss", async () => {
    const before = await env.asSuperuser(catalogSnapshot);
    await env.instance(namespace, "guarded", "limitedAdmin", {
      [ALLOWED_NAMESPACES_ANNOTATION]: ".*'; DROP DATABASE postgres; --",
    });
    const stranger = await env.namespace("stranger");
    await env.database(stranger, "sneaky", { instance: "guarded", instanceNamespace: namespace });
    await env.condition(stranger, "sneaky", "Connection", "False", { reason: "InstanceNotAllowed" });
    expect(await env.asSuperuser(catalogSnapshot)).to.deep.equal(before);
    await env.database(
      namespace,
      "almost",
      { instance: "pg" },
      { annotations: { [DELETION_POLICY_ANNOTATION]: "abandon'; --" } },
    );
    const db = await env.ready(namespace, "almost");
    expect(db.metadata.finalizers).to.deep.equal([FINALIZER]);
    await env.deleteDatabases(stranger);
  });

  it("leaves a pre-existing database of the target name alone and reports it, also when the resource is deleted", async () => {
    const name = `${prefix()}_taken`;
    await env.asSuperuser((db) => db.query(`CREATE DATABASE ${quoteIdent(name)}`));
    const taken = { namespace, name: "taken" };
    const reconciled = env.reconciles.count(taken);
    await env.database(namespace, "taken", { instance: "pg" });
    await env.condition(namespace, "taken", "Database", "False", {
      reason: "ForeignObject",
      message: `database "${name}" already exists and was not created by Kompost`,
    });
    await env.condition(namespace, "taken", "Ready", "False", { reason: "ForeignObject" });
    // The reconcile that reported it has finished (a foreign object is not retried until something changes).
    await env.reconciles.atLeast(taken, reconciled + 1);
    const found = await env.asSuperuser(async (db) => {
      const { rows } = await db.query<{ comment: string | null; roles: number }>(
        `SELECT pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
                (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname LIKE $2)::int AS roles
           FROM pg_catalog.pg_database d WHERE d.datname = $1`,
        [name, `${name}\\_%`],
      );
      return rows[0];
    });
    expect(found).to.deep.equal({ comment: null, roles: 0 });
    await env.kubectl("delete", "pgdb", "-n", namespace, "taken");
    await env.gone(namespace, "taken");
    const still = await env.asSuperuser((db) =>
      db.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [name]),
    );
    expect(still.rows).to.have.length(1);
    await env.asSuperuser((db) => db.query(`DROP DATABASE ${quoteIdent(name)}`));
  });

  it("leaves a pre-existing role of the target name alone and reports it, without a Secret for it", async () => {
    const role = `${prefix()}_squat_app`;
    await env.asSuperuser((db) => db.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD 'theirs-and-only-theirs'`));
    await env.database(namespace, "squat", { instance: "pg" });
    await env.condition(namespace, "squat", "AppUser", "False", {
      reason: "ForeignObject",
      message: `role "${role}" already exists`,
    });
    await env.condition(namespace, "squat", "InspectorUser", "True");
    await env.condition(namespace, "squat", "Database", "True");
    expect(await env.secret(namespace, "psql-squat-app")).to.equal(undefined);
    await using(
      env.srv.connect({ user: role, password: "theirs-and-only-theirs", database: "postgres" }),
      async (client) => {
        const { rows } = await client.query<{ comment: string | null }>(
          "SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        );
        expect(rows).to.deep.equal([{ comment: null }]);
      },
    );
    await env.kubectl("delete", "pgdb", "-n", namespace, "squat");
    await env.gone(namespace, "squat");
    await using(env.srv.connect({ user: role, password: "theirs-and-only-theirs", database: "postgres" }), (c) =>
      c.query("SELECT 1"),
    );
    await env.asSuperuser((db) => db.query(`DROP ROLE ${quoteIdent(role)}`));
  });
});
