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
    const recorder = new EventRecorder(client, { logger: testLogger() });
    recorder.event(cm, "Warning", "ConnectFailed", "server unreachable");
    await recorder.flush();
    const described = await cp.kubectl(["describe", "configmap", "described", "-n", namespace]);
    expect(described.stdout).to.match(/Warning\s+ConnectFailed\s+.*kompost\s+server unreachable/);
    const [event] = await eventsAbout("described");
    expect(event).to.deep.include({ reportingComponent: "kompost", type: "Warning", count: 1 });
    expect(event!.involvedObject).to.include({ kind: "ConfigMap", name: "described", uid: cm.metadata!.uid });
  });

  it("aggregates repeats of the same event into one Event with a count", async () => {
    const cm = { ...(await createConfigMap("repeated")), apiVersion: "v1", kind: "ConfigMap" };
    const recorder = new EventRecorder(client, { logger: testLogger() });
    for (let i = 0; i < 3; i++) recorder.event(cm, "Warning", "ConnectFailed", "server unreachable");
    recorder.event(cm, "Normal", "Connected", "server reachable");
    await recorder.flush();
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
    recorder.event(cm, "Normal", "Synced", "done");
    recorder.event(cm, "Normal", "Synced", "done");
    await recorder.flush();
    expect(await eventsAbout("windowed")).to.have.length(2);
  });

  it("never rejects, even when the Event cannot be written", async () => {
    const recorder = new EventRecorder(client, { logger: testLogger() });
    const orphan = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "no-such-namespace" } };
    recorder.event(orphan, "Warning", "Whatever", "lost");
    await recorder.flush();
  });

  it("queues Events without waiting for the API server, and drops (and logs) those past its bound", async () => {
    const cm = { ...(await createConfigMap("queued")), apiVersion: "v1", kind: "ConfigMap" };
    const warnings: string[] = [];
    const logger = testLogger();
    logger.warn = ((message: string) => (warnings.push(message), logger)) as typeof logger.warn;
    const recorder = new EventRecorder(client, { logger, maxQueued: 3 });
    const returned = [0, 1, 2, 3, 4].map((i) => recorder.event(cm, "Normal", `Step${i}`, `step ${i}`));
    expect(returned, "event() hands back no promise to wait for").to.deep.equal(Array(5).fill(undefined));
    await recorder.flush();
    // The first is taken off the queue at once; three wait; the fifth does not fit.
    expect((await eventsAbout("queued")).map((e) => e.reason)).to.have.members(["Step0", "Step1", "Step2", "Step3"]);
    expect(warnings).to.include("Dropped events: too many waiting to be written");
  });
});
