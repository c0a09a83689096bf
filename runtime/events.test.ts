import { expect } from "chai";
import type { CoreV1Event, V1ConfigMap } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { EventRecorder } from "./events.js";
import { KubeClient } from "./kube-client.js";
import { configMapKind, eventKind } from "./resource-kind.js";
import { testLogger, uniqueName } from "./testing/fixtures.js";

describe("EventRecorder (against a real API server)", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let namespace: string;

  const createConfigMap = (name: string): Promise<V1ConfigMap> =>
    client.create<V1ConfigMap>(configMapKind, { metadata: { name, namespace } });

  const eventsAbout = async (name: string): Promise<CoreV1Event[]> =>
    (await client.list<CoreV1Event>(eventKind, { namespace, fieldSelector: `involvedObject.name=${name}` })).items;

  before(async () => {
    cp = await controlPlane();
    client = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("events");
    await cp.createNamespace(namespace);
  });

  it("writes an Event that kubectl describe shows, from the kompost component", async () => {
    const cm = { ...(await createConfigMap("described")), apiVersion: "v1", kind: "ConfigMap" };
    await new EventRecorder(client, { logger: testLogger() }).event(
      cm,
      "Warning",
      "ConnectFailed",
      "server unreachable",
    );
    const described = await cp.kubectl(["describe", "configmap", "described", "-n", namespace]);
    expect(described.stdout).to.match(/Warning\s+ConnectFailed\s+.*kompost\s+server unreachable/);
    const [event] = await eventsAbout("described");
    expect(event).to.deep.include({ reportingComponent: "kompost", type: "Warning", count: 1 });
    expect(event!.involvedObject).to.include({ kind: "ConfigMap", name: "described", uid: cm.metadata!.uid });
  });

  it("aggregates repeats of the same event into one Event with a count", async () => {
    const cm = { ...(await createConfigMap("repeated")), apiVersion: "v1", kind: "ConfigMap" };
    const recorder = new EventRecorder(client, { logger: testLogger() });
    await Promise.all([1, 2, 3].map(() => recorder.event(cm, "Warning", "ConnectFailed", "server unreachable")));
    await recorder.event(cm, "Normal", "Connected", "server reachable");
    const events = await eventsAbout("repeated");
    expect(events.map((e) => [e.reason, e.count])).to.have.deep.members([
      ["ConnectFailed", 3],
      ["Connected", 1],
    ]);
    const described = await cp.kubectl(["describe", "configmap", "repeated", "-n", namespace]);
    expect(described.stdout).to.match(/\(x3 over .*\)\s+kompost\s+server unreachable/);
  });

  it("starts a new Event once the aggregation window has passed", async () => {
    const cm = { ...(await createConfigMap("windowed")), apiVersion: "v1", kind: "ConfigMap" };
    const recorder = new EventRecorder(client, { logger: testLogger(), aggregationWindowMs: 0 });
    await recorder.event(cm, "Normal", "Synced", "done");
    await recorder.event(cm, "Normal", "Synced", "done");
    expect(await eventsAbout("windowed")).to.have.length(2);
  });

  it("never rejects, even when the Event cannot be written", async () => {
    const recorder = new EventRecorder(client, { logger: testLogger() });
    const orphan = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "no-such-namespace" } };
    await recorder.event(orphan, "Warning", "Whatever", "lost");
  });
});
