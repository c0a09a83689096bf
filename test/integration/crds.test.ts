import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";

/** The original Kompost's manifests, kept as fixtures of this repository (each file says where it comes from). */
const ORIGINAL_FIXTURES = new URL("../fixtures/original/", import.meta.url);

/** Every manifest of the original Kompost kept in test/fixtures/original, by file name. */
async function originalManifests(): Promise<[file: string, yaml: string][]> {
  const files = (await readdir(ORIGINAL_FIXTURES)).filter((file) => file.endsWith(".yaml")).sort();
  return Promise.all(files.map(async (file) => [file, await readFile(new URL(file, ORIGINAL_FIXTURES), "utf8")]));
}

const instance = (spec: string, name = "cel-instance") => `
apiVersion: kompost.chuge.li/v1alpha1
kind: PostgresInstance
metadata: { name: ${name}, namespace: crd-tests }
spec:
${spec}`;

const database = (spec: string, name = "cel-database") => `
apiVersion: kompost.chuge.li/v1alpha1
kind: PostgresDatabase
metadata: { name: ${name}, namespace: crd-tests }
spec:
${spec}`;

/** The part of a CRD's openAPIV3Schema the status test reads. */
interface SchemaNode {
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
}

describe("the Kompost CRDs on a real API server", function () {
  let cp: ControlPlane;

  const apply = (manifest: string) => cp.kubectl(["apply", "-f", "-"], { input: manifest });

  async function expectRejected(manifest: string, message: string): Promise<void> {
    const result = await apply(manifest);
    expect(result.code, result.stdout).not.to.equal(0);
    expect(result.stderr).to.include(message);
  }

  async function expectAccepted(manifest: string): Promise<void> {
    const result = await apply(manifest);
    expect(result.code, result.stderr).to.equal(0);
  }

  before(async function () {
    this.timeout(180_000);
    cp = await controlPlane();
    for (const ns of ["crd-tests", "awesome-application", "team-orders"]) await cp.createNamespace(ns);
  });

  it("serves the three kinds under their short names and the kompost category", async () => {
    const byShortNames = await cp.kubectl(["get", "pginst,pgcinst,pgdb", "--all-namespaces"]);
    expect(byShortNames.code, byShortNames.stderr).to.equal(0);
    const byCategory = await cp.kubectl(["get", "kompost", "--all-namespaces"]);
    expect(byCategory.code, byCategory.stderr).to.equal(0);
  });

  it("accepts every manifest of the original Kompost's README and tests unchanged", async () => {
    const manifests = await originalManifests();
    expect(manifests.map(([file]) => file)).to.include.members([
      "readme-postgres-instance.yaml",
      "readme-postgres-instance-secret-ref.yaml",
      "readme-postgres-database.yaml",
      "test-postgres-database-params.yaml",
    ]);
    for (const [file, yaml] of manifests) {
      const result = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: yaml });
      expect(result.code, `${file}: ${result.stderr}`).to.equal(0);
    }
  });

  describe("manifest shapes the original documented or tested", () => {
    it("takes params.encoding as a name or a number, as the original's int-or-string did", async () => {
      await expectAccepted(database("  instanceRef: { name: a }\n  params: { encoding: SQL_ASCII }", "encoding-name"));
      await expectAccepted(database("  instanceRef: { name: a }\n  params: { encoding: 6 }", "encoding-number"));
    });

    it("takes locale together with lc_collate and lc_ctype, as the original's own test did", () =>
      expectAccepted(
        database("  instanceRef: { name: a }\n  params: { locale: C, lc_collate: C, lc_ctype: C }", "locale-and-lc"),
      ));

    it("refuses an integer locale, as the original's CRD (type string) did", () =>
      expectRejected(
        database("  instanceRef: { name: a }\n  params: { locale: 5 }", "locale-number"),
        "spec.params.locale: Invalid value",
      ));

    it("takes instanceRef.namespace, documented by the original's README", () =>
      expectAccepted(database("  instanceRef: { name: a, namespace: team-orders }", "ref-namespace")));

    it("takes the original's spec.extensions list", () =>
      expectAccepted(database("  instanceRef: { name: a }\n  extensions: [pgcrypto, uuid-ossp]", "extensions")));

    it("keeps the original's status field names: sql_db_name, users, observedGeneration, conditions", async () => {
      const crd = await cp.kubectl(["get", "crd", "postgresdatabases.kompost.chuge.li", "-o", "json"]);
      expect(crd.code, crd.stderr).to.equal(0);
      const status = (
        JSON.parse(crd.stdout) as {
          spec: { versions: { schema: { openAPIV3Schema: { properties: { status: SchemaNode } } } }[] };
        }
      ).spec.versions[0]!.schema.openAPIV3Schema.properties.status;
      expect(Object.keys(status.properties!)).to.include.members([
        "sql_db_name",
        "users",
        "observedGeneration",
        "conditions",
      ]);
      expect(Object.keys(status.properties!.users!.items!.properties!)).to.include.members(["username", "secret"]);
      expect(Object.keys(status.properties!.conditions!.items!.properties!)).to.include.members([
        "type",
        "status",
        "message",
        "lastHeartbeatTime",
        "lastTransitionTime",
      ]);
    });
  });

  it("accepts config/samples, and applying them twice changes nothing", async () => {
    const first = await cp.kubectl(["apply", "-k", "config/samples"]);
    expect(first.code, first.stderr).to.equal(0);
    const second = await cp.kubectl(["apply", "-k", "config/samples"]);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).not.to.match(/configured|created/);
    const diff = await cp.kubectl(["diff", "-k", "config/samples"]);
    expect(diff.code, diff.stdout + diff.stderr).to.equal(0);
  });

  it("shows a database with kubectl describe and the printer columns", async () => {
    await expectAccepted(database("  instanceRef: { name: app-database }", "described"));
    const describe = await cp.kubectl(["describe", "pgdb", "-n", "crd-tests", "described"]);
    expect(describe.code, describe.stderr).to.equal(0);
    expect(describe.stdout).to.include("Instance Ref");
    const wide = await cp.kubectl(["get", "pgdb", "-n", "crd-tests", "described", "-o", "wide"]);
    expect(wide.stdout).to.match(/DATABASE\s+INSTANCE\s+CLUSTER INSTANCE\s+READY\s+REASON\s+AGE/);
  });

  describe("CEL validation", () => {
    it("rejects an instance with both plainPassword and passwordSecretRef", () =>
      expectRejected(
        instance("  hostname: db\n  username: u\n  plainPassword: p\n  passwordSecretRef: { name: s, key: k }"),
        "exactly one of plainPassword or passwordSecretRef must be set",
      ));

    it("rejects an instance with neither password source", () =>
      expectRejected(instance("  hostname: db\n  username: u"), "exactly one of plainPassword or passwordSecretRef"));

    it("rejects a cluster instance with neither password source", () =>
      expectRejected(
        "apiVersion: kompost.chuge.li/v1alpha1\nkind: PostgresClusterInstance\nmetadata: { name: cel }\nspec: { hostname: db, username: u }",
        "exactly one of plainPassword or passwordSecretRef",
      ));

    it("rejects an unknown ssl.verify", () =>
      expectRejected(
        instance(
          "  hostname: db\n  username: u\n  plainPassword: p\n  ssl: { enabled: true, verify: verify_everything }",
        ),
        'supported values: "verify_none", "verify_ca", "verify_peer"',
      ));

    it("rejects a port outside 1-65535", () =>
      expectRejected(instance("  hostname: db\n  port: 70000\n  username: u\n  plainPassword: p"), "spec.port"));

    it("rejects a database with both instanceRef and clusterInstanceRef", () =>
      expectRejected(
        database("  instanceRef: { name: a }\n  clusterInstanceRef: { name: b }"),
        "exactly one of instanceRef or clusterInstanceRef must be set",
      ));

    it("rejects a database with no instance reference", () =>
      expectRejected(
        database("  params: { connection_limit: 3 }"),
        "exactly one of instanceRef or clusterInstanceRef",
      ));

    it("rejects a change of params on an existing database", async () => {
      await expectAccepted(database("  instanceRef: { name: a }\n  params: { connection_limit: 3 }", "params-change"));
      await expectRejected(
        database("  instanceRef: { name: a }\n  params: { connection_limit: 4 }", "params-change"),
        "params cannot be changed once set",
      );
      await expectRejected(
        database("  instanceRef: { name: a }", "params-change"),
        "params cannot be changed once set",
      );
    });

    it("rejects adding params to an existing database", async () => {
      await expectAccepted(database("  instanceRef: { name: a }", "params-added"));
      await expectRejected(
        database("  instanceRef: { name: a }\n  params: { is_template: true }", "params-added"),
        "params cannot be changed once set",
      );
    });

    it("rejects a change of databaseNamingStrategy, but allows spelling out the default", async () => {
      await expectAccepted(database("  instanceRef: { name: a }", "strategy-change"));
      await expectAccepted(
        database("  instanceRef: { name: a }\n  databaseNamingStrategy: prefix_namespace", "strategy-change"),
      );
      await expectRejected(
        database("  instanceRef: { name: a }\n  databaseNamingStrategy: resource_name", "strategy-change"),
        "databaseNamingStrategy cannot be changed",
      );
    });

    it("rejects a change of the instance reference (more cases in test/adversarial/references.test.ts)", async () => {
      await expectAccepted(database("  instanceRef: { name: a }", "ref-change"));
      await expectAccepted(database("  instanceRef: { name: a }", "ref-change"));
      await expectRejected(
        database("  clusterInstanceRef: { name: b }", "ref-change"),
        "instanceRef (name and namespace) cannot be changed",
      );
    });
  });
});
