import { expect } from "chai";
import { KubeConfig, type KubernetesObject, type V1ConfigMap } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { eventually } from "../test/support/eventually.js";
import { ObjectStore, type IndexFunc } from "./cache.js";
import { InformerCache } from "./informer-cache.js";
import { KubeClient } from "./kube-client.js";
import { Manager } from "./manager.js";
import { Operator, type OperatorDeps, type ReconcileContext } from "./operator.js";
import { configMapKind, keyString } from "./resource-kind.js";
import { CountingClient } from "./testing/counting-client.js";
import { testLogger, uniqueName } from "./testing/fixtures.js";

/** The index the tests read: ConfigMaps by the value of their `owner` entry. */
const BY_OWNER = "owner";
const ownerOf: IndexFunc = (obj) => {
  const owner = (obj as V1ConfigMap).data?.owner;
  return owner ? [owner] : [];
};

/** A ConfigMap controller that records the keys it reconciled and reads the shared index. */
class RecordingOperator extends Operator<V1ConfigMap> {
  protected readonly forKind = configMapKind;
  protected override readonly forIndexes = { [BY_OWNER]: ownerOf };
  readonly reconciled: string[] = [];

  constructor(
    readonly name: string,
    deps: OperatorDeps,
  ) {
    super(deps);
  }

  /** The names of the cached ConfigMaps whose owner is `owner`, sorted. */
  ownedBy(owner: string): string[] {
    return this.cache
      .byIndex(BY_OWNER, owner)
      .map((cm) => cm.metadata!.name!)
      .sort();
  }

  protected reconcile(cm: V1ConfigMap, ctx: ReconcileContext): Promise<undefined> {
    this.reconciled.push(keyString(ctx.key));
    return Promise.resolve(undefined);
  }
}

describe("InformerCache (against a real API server)", () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let namespace: string;

  before(async () => {
    cp = await controlPlane();
    admin = new KubeClient(cp.kubeConfig);
  });

  beforeEach(async () => {
    namespace = uniqueName("shared-cache");
    await cp.createNamespace(namespace);
  });

  const configMap = (name: string, owner?: string): V1ConfigMap => ({
    metadata: { name, namespace },
    ...(owner ? { data: { owner } } : {}),
  });

  it("lists and watches a kind once for two controllers, each of which gets every event, and stops it after both", async () => {
    await admin.create(configMapKind, configMap("before"));
    const client = new CountingClient(cp.kubeConfig);
    const manager = new Manager({
      kubeConfig: cp.kubeConfig,
      client,
      logger: testLogger(),
      healthProbeBindAddress: "0",
      metricsBindAddress: "0",
      shutdownTimeoutMs: 5000,
    });
    const deps: OperatorDeps = { client, logger: testLogger(), namespace, cache: manager.cache };
    const first = new RecordingOperator("first", deps);
    const second = new RecordingOperator("second", deps);
    manager.add(first);
    manager.add(second);
    try {
      await manager.start();
      await admin.create(configMapKind, configMap("after"));
      const both = [`${namespace}/after`, `${namespace}/before`];
      await eventually(() => expect([...new Set(first.reconciled)].sort()).to.deep.equal(both));
      await eventually(() => expect([...new Set(second.reconciled)].sort()).to.deep.equal(both));
      expect(manager.cache.size).to.equal(1);
      expect(client.listedKinds).to.deep.equal(["ConfigMap"]);
      expect(client.watchedKinds).to.deep.equal(["ConfigMap"]);

      // One controller stopping takes only its own handlers away: the other still sees changes.
      await first.stop(1000);
      const firstCount = first.reconciled.length;
      await admin.patch(configMapKind, { namespace, name: "after" }, { data: { v: "2" } });
      await eventually(() => expect(second.reconciled.filter((key) => key.endsWith("/after"))).to.have.length(2));
      expect(first.reconciled).to.have.length(firstCount);
    } finally {
      await manager.stop();
    }
    expect(() => manager.cache.informer({ kind: configMapKind, namespace })).to.throw(/informer cache was stopped/);
  });

  it("answers an index after adds, updates and deletes, and gives a late handler the cached objects as adds", async () => {
    const cache = new InformerCache(admin, { logger: testLogger() });
    try {
      const source = { kind: configMapKind, namespace, indexes: { [BY_OWNER]: ownerOf } };
      const informer = cache.informer<V1ConfigMap>(source);
      await informer.start();
      const owned = (owner: string) =>
        informer.store
          .byIndex(BY_OWNER, owner)
          .map((cm) => cm.metadata!.name!)
          .sort();
      await admin.create(configMapKind, configMap("a", "x"));
      await admin.create(configMapKind, configMap("b", "x"));
      await admin.create(configMapKind, configMap("c", "y"));
      await admin.create(configMapKind, configMap("none"));
      await eventually(() => expect([owned("x"), owned("y")]).to.deep.equal([["a", "b"], ["c"]]));
      await admin.patch(configMapKind, { namespace, name: "b" }, { data: { owner: "y" } });
      await eventually(() => expect([owned("x"), owned("y")]).to.deep.equal([["a"], ["b", "c"]]));
      await admin.delete(configMapKind, { namespace, name: "a" });
      await eventually(() => expect(owned("x")).to.deep.equal([]));
      expect(owned("y")).to.deep.equal(["b", "c"]);

      // The same source again is the same informer; a late handler sees what it holds as adds.
      expect(cache.informer(source)).to.equal(informer);
      const added: string[] = [];
      informer.addHandler({ onAdd: (cm) => added.push(cm.metadata!.name!) });
      expect(added.sort()).to.deep.equal(["b", "c", "none"]);
      expect(() => cache.informer({ ...source, indexes: { [BY_OWNER]: () => [] } })).to.throw(/already has an index/);
    } finally {
      await cache.stop();
    }
  });
});

describe("InformerCache identity", () => {
  const cache = new InformerCache(new KubeClient(new KubeConfig()), { logger: testLogger() });
  const keep = (obj: KubernetesObject): KubernetesObject => obj;

  it("shares an informer only between sources of the same kind, namespace, selectors, projection and retain", () => {
    const base = { kind: configMapKind, namespace: "a" };
    const informer = cache.informer(base);
    expect(cache.informer({ ...base })).to.equal(informer);
    for (const other of [
      { ...base, namespace: "b" },
      { ...base, labelSelector: "app=x" },
      { ...base, fieldSelector: "metadata.name=x" },
      { ...base, metadataOnly: true },
      { ...base, retain: keep },
      { ...base, retain: (obj: KubernetesObject) => keep(obj) },
    ])
      expect(cache.informer(other)).to.not.equal(informer);
    expect(cache.informer({ ...base, retain: keep })).to.equal(cache.informer({ ...base, retain: keep }));
    expect(cache.size).to.equal(7);
  });

  it("keeps an index in step with the store, filing an object whose function throws under no value", () => {
    const store = new ObjectStore<V1ConfigMap>();
    store.set({ metadata: { name: "early", namespace: "n" }, data: { owner: "x" } });
    store.addIndex(BY_OWNER, (obj) => {
      const owner = (obj as V1ConfigMap).data?.owner;
      if (owner === "bad") throw new Error("bad");
      return owner ? [owner, owner] : [];
    });
    store.set({ metadata: { name: "bad", namespace: "n" }, data: { owner: "bad" } });
    expect(store.byIndex(BY_OWNER, "x").map((cm) => cm.metadata!.name)).to.deep.equal(["early"]);
    expect(store.byIndex(BY_OWNER, "bad")).to.deep.equal([]);
    expect(() => store.byIndex("missing", "x")).to.throw(/no index "missing"/);
  });
});
