import { expect } from "chai";
import { ALLOWED_NAMESPACES_ANNOTATION } from "../constants.js";
import { DatabaseTestEnv } from "../../test/env/database-env.js";
import { uniqueName } from "../../runtime/testing/fixtures.js";

describe("PostgresDatabase instance references and names (real API server and PostgreSQL)", function () {
  this.timeout(120_000);
  let env: DatabaseTestEnv;
  let home: string;
  let other: string;
  const clusterInstances: string[] = [];

  before(async () => {
    env = await DatabaseTestEnv.start();
    home = await env.namespace("home");
    other = await env.namespace("other");
  });

  after(async () => {
    await env.deleteDatabases(home, other);
    for (const name of clusterInstances) await env.kubectl("delete", "pgcinst", name);
    await env.stop();
  });

  describe("resolving the instance", () => {
    it("says the instance was not found, and proceeds once it exists and is Ready", async () => {
      await env.database(home, "early", { instance: "later" });
      await env.condition(home, "early", "Connection", "False", {
        reason: "InstanceNotFound",
        message: `PostgresInstance "${home}/later" was not found`,
      });
      await env.condition(home, "early", "Ready", "False", { reason: "InstanceNotFound" });
      await env.instance(home, "later", "superuser");
      await env.ready(home, "early");
    });

    it("waits for an instance that exists but is not Ready, and proceeds when it is published", async () => {
      await env.apply(
        `apiVersion: kompost.chuge.li/v1alpha1\nkind: PostgresInstance\nmetadata: {name: pending, namespace: ${home}}\nspec: {hostname: localhost, username: x, plainPassword: "y"}`,
      );
      await env.database(home, "patient", { instance: "pending" });
      await env.condition(home, "patient", "Connection", "False", {
        reason: "InstanceNotReady",
        message: `PostgresInstance "${home}/pending" is not Ready`,
      });
      expect((await env.event(home, "patient", "InstanceNotReady")).type).to.equal("Warning");
      env.publish({ kind: "PostgresInstance", namespace: home, name: "pending" }, "superuser");
      const db = await env.ready(home, "patient");
      expect(db.status?.conditions?.find((c) => c.type === "Connection")?.message).to.equal(
        "Connected to the referenced PostgreSQL instance.",
      );
    });

    it("refuses an instance of another namespace that does not admit this one", async () => {
      await env.instance(other, "closed", "superuser");
      await env.database(home, "intruder", { instance: "closed", instanceNamespace: other });
      await env.condition(home, "intruder", "Connection", "False", {
        reason: "InstanceNotAllowed",
        message: `may not be used from namespace "${home}"`,
      });
      expect(await env.secret(home, "psql-intruder-app")).to.equal(undefined);
    });

    it("uses an instance of another namespace whose annotation admits this one, also once the annotation is added", async () => {
      await env.instance(other, "shared", "superuser", { [ALLOWED_NAMESPACES_ANNOTATION]: `nothing-here, ${home}` });
      await env.database(home, "guest", { instance: "shared", instanceNamespace: other });
      await env.ready(home, "guest");
      await env.kubectl("annotate", "pginst", "-n", other, "closed", `${ALLOWED_NAMESPACES_ANNOTATION}=home-.*`);
      await env.ready(home, "intruder");
    });

    it("uses a cluster instance without annotation, and reports access in ClusterInstanceAccess", async () => {
      const name = uniqueName("open");
      clusterInstances.push(name);
      await env.clusterInstance(name, "limitedAdmin");
      await env.database(home, "cluster-user", { clusterInstance: name });
      const db = await env.ready(home, "cluster-user");
      expect(db.status?.conditions?.find((c) => c.type === "ClusterInstanceAccess")?.status).to.equal("True");
    });

    it("refuses a cluster instance whose annotation leaves this namespace out, in ClusterInstanceAccess", async () => {
      const name = uniqueName("walled");
      clusterInstances.push(name);
      await env.clusterInstance(name, "superuser", { [ALLOWED_NAMESPACES_ANNOTATION]: "team-a, team-b" });
      await env.database(home, "outsider", { clusterInstance: name });
      await env.condition(home, "outsider", "ClusterInstanceAccess", "False", { reason: "InstanceNotAllowed" });
      await env.condition(home, "outsider", "Connection", "False", { reason: "InstanceNotAllowed" });
    });
  });

  describe("naming", () => {
    it("names the database after the resource alone with the resource_name strategy", async () => {
      const name = uniqueName("plain.name");
      await env.database(home, name, { instance: "later" }, { spec: "  databaseNamingStrategy: resource_name\n" });
      const db = await env.ready(home, name);
      const expected = name.replace(/[^a-z0-9_]/g, "_");
      expect(db.status?.sql_db_name).to.equal(expected);
      expect(db.status?.users?.map((u) => u.username)).to.deep.equal([`${expected}_app`, `${expected}_inspector`]);
    });

    it("gives two resources whose names differ only past 63 bytes distinct database and role names", async () => {
      const stem = "x".repeat(70);
      await env.database(home, `${stem}-one`, { instance: "later" });
      await env.database(home, `${stem}-two`, { instance: "later" });
      const one = await env.ready(home, `${stem}-one`);
      const two = await env.ready(home, `${stem}-two`);
      const names = [one, two].flatMap((db) => [db.status!.sql_db_name!, ...db.status!.users!.map((u) => u.username)]);
      expect(new Set(names).size).to.equal(6);
      for (const name of names) expect(Buffer.byteLength(name)).to.be.at.most(63);
      const app = await env.secretData(home, `psql-${stem}-two-app`);
      expect(app.DB_NAME).to.equal(two.status!.sql_db_name);
    });

    it("accepts the original's spec.extensions as names, provisions anyway and refuses those the instance does not allow", async () => {
      await env.database(home, "with-ext", { instance: "later" }, { spec: "  extensions: [pgcrypto, 'uuid-ossp']\n" });
      const ready = await env.ready(home, "with-ext");
      const warning = await env.event(home, "with-ext", "ExtensionNotAllowed");
      expect(warning.type).to.equal("Warning");
      const condition = ready.status?.conditions?.find((c) => c.type === "ExtensionsReady");
      expect(condition?.status).to.equal("False");
      expect(condition?.message).to.include('"pgcrypto"').and.to.include('"uuid-ossp"');
    });

    it("has the API server reject a change of params or naming strategy", async () => {
      await env.database(home, "fixed", { instance: "later" }, { spec: "  params:\n    connection_limit: 5\n" });
      await env.ready(home, "fixed");
      const changed = await env.cp.kubectl(
        ["patch", "pgdb", "-n", home, "fixed", "--type=merge", "-p", '{"spec":{"params":{"connection_limit":6}}}'],
        {},
      );
      expect(changed.code).to.not.equal(0);
      expect(changed.stderr).to.include("params cannot be changed");
      const strategy = await env.cp.kubectl([
        "patch",
        "pgdb",
        "-n",
        home,
        "fixed",
        "--type=merge",
        "-p",
        '{"spec":{"databaseNamingStrategy":"resource_name"}}',
      ]);
      expect(strategy.code).to.not.equal(0);
    });
  });
});
