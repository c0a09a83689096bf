import { expect } from "chai";
import { uniqueName } from "../../runtime/testing/fixtures.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";

type Reference = { instanceRef: { name: string; namespace?: string } } | { clusterInstanceRef: { name: string } };

/**
 * A reference that could be re-pointed after the database exists would leave the old database
 * and roles on the old server with working passwords; the API server refuses the change.
 */
describe("the instance reference of a PostgresDatabase (real API server)", function () {
  this.timeout(60_000);
  let cp: ControlPlane;
  let namespace: string;

  before(async function () {
    this.timeout(600_000);
    cp = await controlPlane();
    namespace = uniqueName("refs");
    await cp.createNamespace(namespace);
  });

  const manifest = (name: string, ref: Reference): string =>
    JSON.stringify({
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      metadata: { name, namespace },
      spec: { ...ref, params: { connection_limit: 5 } },
    });

  /** Applies as a user would (client-side apply); returns kubectl's exit code and stderr. */
  const apply = (name: string, ref: Reference) => cp.kubectl(["apply", "-f", "-"], { input: manifest(name, ref) });

  const accepted = async (name: string, ref: Reference): Promise<void> => {
    const result = await apply(name, ref);
    expect(result.code, result.stderr).to.equal(0);
  };

  const refused = async (name: string, ref: Reference, message: string): Promise<void> => {
    const result = await apply(name, ref);
    expect(result.code, `the change to ${JSON.stringify(ref)} was accepted`).to.not.equal(0);
    expect(result.stderr).to.include(message);
  };

  const stored = async (name: string): Promise<unknown> => {
    const result = await cp.kubectl(["get", "pgdb", name, "-n", namespace, "-o", "jsonpath={.spec}"]);
    return JSON.parse(result.stdout) as unknown;
  };

  it("refuses another instanceRef.name, and accepts the unchanged manifest applied again", async () => {
    await accepted("by-name", { instanceRef: { name: "first" } });
    await accepted("by-name", { instanceRef: { name: "first" } });
    await refused("by-name", { instanceRef: { name: "second" } }, "instanceRef (name and namespace) cannot be changed");
    expect(await stored("by-name")).to.deep.include({ instanceRef: { name: "first" } });
  });

  it("refuses setting, changing or removing instanceRef.namespace", async () => {
    await accepted("by-namespace", { instanceRef: { name: "shared" } });
    const message = "instanceRef (name and namespace) cannot be changed";
    await refused("by-namespace", { instanceRef: { name: "shared", namespace: "platform" } }, message);
    await accepted("with-namespace", { instanceRef: { name: "shared", namespace: "platform" } });
    await accepted("with-namespace", { instanceRef: { name: "shared", namespace: "platform" } });
    await refused("with-namespace", { instanceRef: { name: "shared", namespace: "elsewhere" } }, message);
    await refused("with-namespace", { instanceRef: { name: "shared" } }, message);
  });

  it("refuses another clusterInstanceRef.name", async () => {
    await accepted("cluster", { clusterInstanceRef: { name: "shared" } });
    await accepted("cluster", { clusterInstanceRef: { name: "shared" } });
    await refused("cluster", { clusterInstanceRef: { name: "other" } }, "clusterInstanceRef cannot be changed");
  });

  it("refuses switching between instanceRef and clusterInstanceRef, both ways", async () => {
    await accepted("to-cluster", { instanceRef: { name: "local" } });
    await refused("to-cluster", { clusterInstanceRef: { name: "shared" } }, "instanceRef (name and namespace)");
    await accepted("to-local", { clusterInstanceRef: { name: "shared" } });
    await refused("to-local", { instanceRef: { name: "local" } }, "clusterInstanceRef cannot be changed");
  });
});
