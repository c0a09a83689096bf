import { expect } from "chai";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { isNotFound } from "./errors.js";
import { addFinalizer, handleFinalizer, removeFinalizer } from "./finalizers.js";
import { KubeClient } from "./kube-client.js";
import { configMapKind } from "./resource-kind.js";
import { uniqueName } from "./testing/fixtures.js";

describe("finalizers (against a real API server)", () => {
  const ours = "runtime.kompost.test/cleanup";
  let cp: ControlPlane;
  let client: KubeClient;
  let namespace: string;

  const create = (name: string, finalizers?: string[]): Promise<V1ConfigMap> =>
    client.create<V1ConfigMap>(configMapKind, { metadata: { name, namespace, finalizers } });
  const read = (name: string): Promise<V1ConfigMap> => client.get<V1ConfigMap>(configMapKind, { namespace, name });

  before(async () => {
    cp = await controlPlane();
    client = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("finalizers");
    await cp.createNamespace(namespace);
  });

  it("keeps a finalizer another writer added after our copy was read", async () => {
    const stale = await create("add-race");
    await client.patch(configMapKind, { namespace, name: "add-race" }, { metadata: { finalizers: ["other.io/x"] } });
    await addFinalizer(client, configMapKind, stale, ours);
    expect((await read("add-race")).metadata!.finalizers).to.have.members(["other.io/x", ours]);
  });

  it("loses none of five finalizers added at once from the same stale copy", async () => {
    const stale = await create("many");
    const names = Array.from({ length: 5 }, (_, i) => `writer${i}.io/f`);
    await Promise.all(names.map((name) => addFinalizer(client, configMapKind, stale, name)));
    expect((await read("many")).metadata!.finalizers).to.have.members(names);
  });

  it("removes only its own finalizer even when its copy is stale", async () => {
    const stale = await create("remove-race", [ours]);
    await client.patch(
      configMapKind,
      { namespace, name: "remove-race" },
      { metadata: { finalizers: [ours, "other.io/y"] } },
    );
    await removeFinalizer(client, configMapKind, stale, ours);
    expect((await read("remove-race")).metadata!.finalizers).to.deep.equal(["other.io/y"]);
  });

  it("adds the finalizer to a live object and reports it as not deleting", async () => {
    const cm = await create("live");
    let cleaned = false;
    const result = await handleFinalizer(client, configMapKind, cm, ours, () => Promise.resolve(void (cleaned = true)));
    expect(result.deleting).to.equal(false);
    expect(result.object.metadata!.finalizers).to.deep.equal([ours]);
    expect(cleaned).to.equal(false);
  });

  it("cleans up and releases a deleted object, which then disappears", async () => {
    await create("doomed", [ours]);
    await client.delete(configMapKind, { namespace, name: "doomed" });
    const deleting = await read("doomed");
    expect(deleting.metadata!.deletionTimestamp).to.not.equal(undefined);
    let cleaned = 0;
    const result = await handleFinalizer(client, configMapKind, deleting, ours, () => Promise.resolve(void cleaned++));
    expect(result.deleting).to.equal(true);
    expect(cleaned).to.equal(1);
    const gone = await read("doomed").then(
      () => false,
      (err: unknown) => isNotFound(err),
    );
    expect(gone).to.equal(true);
  });

  it("keeps the finalizer when the clean-up fails", async () => {
    await create("stuck", [ours, "other.io/z"]);
    await client.delete(configMapKind, { namespace, name: "stuck" });
    const deleting = await read("stuck");
    const failing = handleFinalizer(client, configMapKind, deleting, ours, () => Promise.reject(new Error("db down")));
    await failing.then(
      () => expect.fail("handleFinalizer should have rethrown"),
      (err: Error) => expect(err.message).to.equal("db down"),
    );
    expect((await read("stuck")).metadata!.finalizers).to.deep.equal([ours, "other.io/z"]);
  });
});
