import { expect } from "chai";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { eventually } from "../test/support/eventually.js";
import { Informer } from "./informer.js";
import { KubeClient } from "./kube-client.js";
import { configMapKind } from "./resource-kind.js";
import { testLogger, uniqueName } from "./testing/fixtures.js";
import { TcpProxy } from "./testing/tcp-proxy.js";

describe("Informer (against a real API server)", () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let namespace: string;
  const informers: Informer<V1ConfigMap>[] = [];

  const informer = (client: KubeClient, options: Partial<ConstructorParameters<typeof Informer>[2]> = {}) => {
    const created = new Informer<V1ConfigMap>(client, configMapKind, { logger: testLogger(), namespace, ...options });
    informers.push(created);
    return created;
  };

  before(async () => {
    cp = await controlPlane();
    admin = new KubeClient(cp.kubeConfig);
  });

  beforeEach(async () => {
    namespace = uniqueName("informer");
    await cp.createNamespace(namespace);
  });

  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
  });

  it("lists into its cache, stamps apiVersion and kind, and reports adds, updates and deletes", async () => {
    await admin.create(configMapKind, { metadata: { name: "before", namespace } });
    const seen: string[] = [];
    const cms = informer(admin);
    cms.addHandler({
      onAdd: (cm) => seen.push(`add ${cm.metadata!.name}`),
      onUpdate: (_old, cm) => seen.push(`update ${cm.metadata!.name} ${cm.data?.v}`),
      onDelete: (cm) => seen.push(`delete ${cm.metadata!.name}`),
    });
    await cms.start();
    expect(cms.hasSynced()).to.equal(true);
    expect(cms.store.get({ namespace, name: "before" })).to.include({ apiVersion: "v1", kind: "ConfigMap" });
    await admin.create(configMapKind, { metadata: { name: "after", namespace } });
    await admin.patch(configMapKind, { namespace, name: "after" }, { data: { v: "1" } });
    await admin.delete(configMapKind, { namespace, name: "before" });
    await eventually(() => expect(seen).to.deep.equal(["add before", "add after", "update after 1", "delete before"]));
    expect(cms.store.keys()).to.deep.equal([`${namespace}/after`]);
  });

  it("watches only objects that match its label selector", async () => {
    const cms = informer(admin, { labelSelector: "app=kompost" });
    await cms.start();
    await admin.create(configMapKind, { metadata: { name: "other", namespace } });
    await admin.create(configMapKind, { metadata: { name: "ours", namespace, labels: { app: "kompost" } } });
    await eventually(() => expect(cms.store.keys()).to.deep.equal([`${namespace}/ours`]));
  });

  it("with metadataOnly, lists and watches metadata without data, and still sees every change", async () => {
    await admin.create(configMapKind, { metadata: { name: "listed", namespace }, data: { big: "x".repeat(1000) } });
    const updates: string[] = [];
    const cms = informer(admin, { metadataOnly: true });
    cms.addHandler({ onUpdate: (_old, cm) => updates.push(`${cm.metadata!.name} ${cm.metadata!.labels?.v}`) });
    await cms.start();
    const listed = cms.store.get({ namespace, name: "listed" });
    expect(listed?.metadata?.uid).to.be.a("string");
    expect(listed).to.not.have.property("data");
    await admin.create(configMapKind, { metadata: { name: "watched", namespace }, data: { big: "y" } });
    await admin.patch(
      configMapKind,
      { namespace, name: "watched" },
      { metadata: { labels: { v: "2" } }, data: { big: "z" } },
    );
    await eventually(() => expect(updates).to.deep.equal(["watched 2"]));
    expect(cms.store.get({ namespace, name: "watched" })).to.not.have.property("data");
  });

  it("caches only what retain keeps, as retain shapes it, and reports an object that stops being kept as deleted", async () => {
    await admin.create(configMapKind, {
      metadata: { name: "listed-junk", namespace },
      data: { big: "x".repeat(1000) },
    });
    await admin.create(configMapKind, { metadata: { name: "listed-kept", namespace, labels: { keep: "yes" } } });
    const seen: string[] = [];
    const cms = informer(admin, {
      retain: (obj) =>
        obj.metadata?.labels?.keep === "yes" ? { ...obj, metadata: { ...obj.metadata, managedFields: [] } } : undefined,
    });
    cms.addHandler({
      onAdd: (cm) => seen.push(`add ${cm.metadata!.name}`),
      onUpdate: (_old, cm) => seen.push(`update ${cm.metadata!.name}`),
      onDelete: (cm) => seen.push(`delete ${cm.metadata!.name}`),
    });
    await cms.start();
    await admin.create(configMapKind, { metadata: { name: "watched-junk", namespace }, data: { big: "y" } });
    await admin.patch(configMapKind, { namespace, name: "watched-junk" }, { data: { big: "z" } });
    await admin.delete(configMapKind, { namespace, name: "watched-junk" });
    await admin.create(configMapKind, { metadata: { name: "watched-kept", namespace, labels: { keep: "yes" } } });
    await admin.patch(configMapKind, { namespace, name: "listed-kept" }, { metadata: { labels: { keep: "no" } } });
    await eventually(() => expect(seen).to.deep.equal(["add listed-kept", "add watched-kept", "delete listed-kept"]));
    expect(cms.store.keys()).to.deep.equal([`${namespace}/watched-kept`]);
    expect(cms.store.get({ namespace, name: "watched-kept" })?.metadata?.managedFields).to.deep.equal([]);
  });
  it("restarts a watch whose connection went silent", async function () {
    this.timeout(60_000);
    const server = new URL(cp.server);
    const proxy = await TcpProxy.start(server.hostname, Number(server.port));
    try {
      const cms = informer(new KubeClient(proxy.kubeConfigVia(cp.kubeConfig)), {
        watchTimeoutSeconds: 2,
        idleMarginSeconds: 1,
      });
      await cms.start();
      // Seeing a change proves the watch connection is open before it is stalled.
      await admin.create(configMapKind, { metadata: { name: "before-stall", namespace } });
      await eventually(() => expect(cms.store.get({ namespace, name: "before-stall" })).to.not.equal(undefined));
      proxy.stall();
      await admin.create(configMapKind, { metadata: { name: "after-stall", namespace } });
      await eventually(() => expect(cms.store.get({ namespace, name: "after-stall" })).to.not.equal(undefined), 30_000);
    } finally {
      await proxy.close();
    }
  });

  it("stops at once even while a LIST hangs", async function () {
    this.timeout(10_000);
    const server = new URL(cp.server);
    const proxy = await TcpProxy.start(server.hostname, Number(server.port));
    try {
      proxy.blackhole();
      const cms = informer(new KubeClient(proxy.kubeConfigVia(cp.kubeConfig)));
      const started = cms.start();
      // The LIST is on its way: the proxy took its connection, and will never answer.
      await eventually(() => expect(proxy.accepted).to.be.greaterThan(0));
      await cms.stop();
      await started;
      expect(cms.hasSynced()).to.equal(false);
    } finally {
      await proxy.close();
    }
  });

  it("keeps retrying while the server is unreachable and catches up once it is back", async function () {
    this.timeout(60_000);
    const server = new URL(cp.server);
    const proxy = await TcpProxy.start(server.hostname, Number(server.port));
    try {
      const cms = informer(new KubeClient(proxy.kubeConfigVia(cp.kubeConfig)), {
        backoffInitialMs: 100,
        backoffMaxMs: 500,
      });
      await cms.start();
      proxy.cut();
      await admin.create(configMapKind, { metadata: { name: "while-down", namespace } });
      // Two more attempts to reach the server, both begun after the create, both refused.
      const attempts = proxy.accepted;
      await eventually(() => expect(proxy.accepted).to.be.at.least(attempts + 2));
      expect(cms.store.get({ namespace, name: "while-down" })).to.equal(undefined);
      proxy.restore();
      await eventually(() => expect(cms.store.get({ namespace, name: "while-down" })).to.not.equal(undefined), 20_000);
    } finally {
      await proxy.close();
    }
  });
});
