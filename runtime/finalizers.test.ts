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

  it("adds the finalizer to a live object and lets the reconcile go on with the stored object", async () => {
    const cm = await create("live");
    let cleaned = false;
    let added = 0;
    const step = await handleFinalizer(client, configMapKind, cm, ours, {
      added: () => Promise.resolve(void added++),
      cleanUp: () => {
        cleaned = true;
        return done();
      },
    });
    expect(step.proceed && step.object.metadata!.finalizers).to.deep.equal([ours]);
    expect((await read("live")).metadata!.finalizers).to.deep.equal([ours]);
    expect({ cleaned, added }).to.deep.equal({ cleaned: false, added: 1 });
  });

  it("adds nothing under the keep policy, and removes the finalizer without a clean-up under release", async () => {
    const bare = await create("kept");
    const kept = await handleFinalizer(client, configMapKind, bare, ours, { policy: "keep", cleanUp: () => done() });
    expect(kept.proceed).to.equal(true);
    expect((await read("kept")).metadata!.finalizers).to.equal(undefined);
    await create("released", [ours, "other.io/r"]);
    await client.delete(configMapKind, { namespace, name: "released" });
    let cleaned = 0;
    const step = await handleFinalizer(client, configMapKind, await read("released"), ours, {
      policy: "release",
      cleanUp: () => {
        cleaned++;
        return done();
      },
    });
    expect(step).to.deep.equal({ proceed: false, result: undefined, released: false });
    expect(cleaned).to.equal(0);
    expect((await read("released")).metadata!.finalizers).to.deep.equal(["other.io/r"]);
  });

  it("cleans up and releases a deleted object, which then disappears", async () => {
    await create("doomed", [ours]);
    await client.delete(configMapKind, { namespace, name: "doomed" });
    const deleting = await read("doomed");
    expect(deleting.metadata!.deletionTimestamp).to.not.equal(undefined);
    let cleaned = 0;
    const step = await handleFinalizer(client, configMapKind, deleting, ours, {
      cleanUp: () => {
        cleaned++;
        return done();
      },
    });
    expect(step).to.deep.equal({ proceed: false, result: undefined, released: true });
    expect(cleaned).to.equal(1);
    const gone = await read("doomed").then(
      () => false,
      (err: unknown) => isNotFound(err),
    );
    expect(gone).to.equal(true);
  });

  it("keeps the finalizer when the clean-up waits or fails, and returns the wait as the result", async () => {
    await create("stuck", [ours, "other.io/z"]);
    await client.delete(configMapKind, { namespace, name: "stuck" });
    const deleting = await read("stuck");
    const waiting = await handleFinalizer(client, configMapKind, deleting, ours, {
      cleanUp: () => Promise.resolve({ requeueAfterMs: 1234 }),
    });
    expect(waiting).to.deep.equal({ proceed: false, result: { requeueAfterMs: 1234 }, released: false });
    const failing = handleFinalizer(client, configMapKind, deleting, ours, {
      cleanUp: () => Promise.reject(new Error("db down")),
    });
    await failing.then(
      () => expect.fail("handleFinalizer should have rethrown"),
      (err: Error) => expect(err.message).to.equal("db down"),
    );
    expect((await read("stuck")).metadata!.finalizers).to.deep.equal([ours, "other.io/z"]);
  });
});

function done(): Promise<"done"> {
  return Promise.resolve("done");
}
