import { expect } from "chai";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { setConditions } from "./conditions.js";
import { KubeClient } from "./kube-client.js";
import { updateStatus } from "./status.js";
import { CountingClient } from "./testing/counting-client.js";
import { uniqueName } from "./testing/fixtures.js";
import { installWidgetCrd, widgetKind, type Widget } from "./testing/widget-crd.js";

describe("updateStatus (against a real API server)", () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let client: CountingClient;
  let namespace: string;

  const create = (name: string): Promise<Widget> =>
    admin.create<Widget>(widgetKind, {
      apiVersion: "runtime.kompost.test/v1",
      kind: "Widget",
      metadata: { name, namespace },
      spec: { size: 1 },
    });

  before(async () => {
    cp = await controlPlane();
    await installWidgetCrd(cp);
    admin = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("status");
    await cp.createNamespace(namespace);
  });

  beforeEach(() => {
    client = new CountingClient(cp.kubeConfig);
  });

  const connected = setConditions<Widget>([{ type: "Connected", status: "True", reason: "Connected", message: "ok" }], {
    readyFrom: ["Connected"],
  });

  it("writes conditions, Ready and observedGeneration through the status subresource", async () => {
    const widget = await create("first");
    const updated = await updateStatus(client, widgetKind, widget, [connected]);
    expect(client.patchesBySubresource.get("status")).to.equal(1);
    expect(updated.status!.observedGeneration).to.equal(widget.metadata!.generation);
    expect(updated.status!.conditions!.map((c) => c.type)).to.deep.equal(["Connected", "Ready"]);
    const stored = await admin.get<Widget>(widgetKind, { namespace, name: "first" });
    expect(stored.status).to.deep.equal(updated.status);
  });

  it("makes no API write when the status would not change", async () => {
    const widget = await updateStatus(client, widgetKind, await create("unchanged"), [connected]);
    const writes = client.patches;
    const again = await updateStatus(client, widgetKind, widget, [connected]);
    expect(client.patches).to.equal(writes);
    const stored = await admin.get<Widget>(widgetKind, { namespace, name: "unchanged" });
    expect(stored.metadata!.resourceVersion).to.equal(widget.metadata!.resourceVersion);
    expect(again).to.equal(widget);
  });

  it("retries from a fresh read on conflict and keeps a field another writer set meanwhile", async () => {
    const stale = await create("conflict");
    await admin.patch(
      widgetKind,
      { namespace, name: "conflict" },
      { status: { other: "theirs" } },
      { subresource: "status" },
    );
    const updated = await updateStatus(client, widgetKind, stale, [(status) => (status.note = "ours")]);
    expect(client.patchesBySubresource.get("status")).to.equal(2);
    expect(updated.status).to.include({ other: "theirs", note: "ours" });
  });

  it("removes a field a mutator deleted", async () => {
    const widget = await updateStatus(client, widgetKind, await create("removal"), [(status) => (status.note = "x")]);
    const updated = await updateStatus(client, widgetKind, widget, [(status) => delete status.note]);
    expect(updated.status).to.not.have.property("note");
  });
});
