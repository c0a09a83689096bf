import { expect } from "chai";
import type { KubernetesObject, V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { delay, eventually } from "../test/support/eventually.js";
import { TerminalError, type ReconcileResult } from "./errors.js";
import { KubeClient } from "./kube-client.js";
import { Operator, type MappedWatch, type OperatorDeps, type ReconcileContext, type WatchSource } from "./operator.js";
import { controllerReference } from "./owner-references.js";
import { metricsRegistry } from "./metrics.js";
import { ExponentialBackoffLimiter } from "./rate-limiter.js";
import { configMapKind, keyString, secretKind, type ObjectKey } from "./resource-kind.js";
import { CountingClient } from "./testing/counting-client.js";
import { testLogger, uniqueName } from "./testing/fixtures.js";
import { TcpProxy } from "./testing/tcp-proxy.js";

type Behaviour = (cm: V1ConfigMap, ctx: ReconcileContext) => Promise<ReconcileResult>;

/** A controller of ConfigMaps that records what it was asked to do. */
class ConfigMapOperator extends Operator<V1ConfigMap> {
  readonly name = "configmap-test";
  protected readonly forKind = configMapKind;
  protected override readonly concurrency = 4;
  /** Every reconcile: the key, the data it saw and when. */
  readonly calls: { key: string; data: Record<string, string>; at: number }[] = [];
  readonly gone: string[] = [];
  inFlight = new Map<string, number>();
  maxInFlight = 0;

  constructor(
    deps: OperatorDeps,
    private readonly behaviour: Behaviour = () => Promise.resolve(),
  ) {
    super(deps);
  }

  callsFor(name: string): { data: Record<string, string>; at: number }[] {
    return this.calls.filter((call) => call.key.endsWith(`/${name}`));
  }

  protected async reconcile(cm: V1ConfigMap, ctx: ReconcileContext): Promise<ReconcileResult> {
    const key = keyString(ctx.key);
    const running = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, running);
    this.maxInFlight = Math.max(this.maxInFlight, running);
    this.calls.push({ key, data: { ...cm.data }, at: Date.now() });
    try {
      return await this.behaviour(cm, ctx);
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
  }

  protected override onGone(key: ObjectKey): void {
    this.gone.push(keyString(key));
  }
}

/** The sum of a counter's or gauge's values whose labels include `labels` (process-wide: compare before and after). */
async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric(name)!.get();
  return metric.values
    .filter((value) => Object.entries(labels).every(([label, want]) => value.labels[label] === want))
    .reduce((sum, value) => sum + value.value, 0);
}

/** Reconcile results of the test controller so far, by result (success, error, requeue_after). */
const results = (result: string) =>
  metricValue("controller_runtime_reconcile_total", { controller: "configmap-test", result });

/** Rate-limited re-adds (retries) of the test controller's queue so far. */
const retried = () => metricValue("workqueue_retries_total", { name: "configmap-test" });

/** Waits until nothing is queued and nothing runs: a reconcile still to come would have to be queued. */
const idle = () =>
  eventually(async () => {
    expect(await metricValue("workqueue_depth", { name: "configmap-test" })).to.equal(0);
    expect(await metricValue("controller_runtime_active_workers", { controller: "configmap-test" })).to.equal(0);
  });

describe("Operator (against a real API server)", function () {
  let cp: ControlPlane;
  let admin: KubeClient;
  let namespace: string;
  let operator: ConfigMapOperator | undefined;

  const deps = (client: KubeClient = admin): OperatorDeps => ({
    client,
    logger: testLogger(),
    namespace,
    rateLimiter: new ExponentialBackoffLimiter(50, 5000),
    watchBackoffMaxMs: 1000,
  });

  const start = async (behaviour?: Behaviour, client?: KubeClient): Promise<ConfigMapOperator> => {
    operator = new ConfigMapOperator(deps(client), behaviour);
    await operator.start();
    expect(operator.hasSynced()).to.equal(true);
    return operator;
  };

  const startWith = async (subclass: new (deps: OperatorDeps) => ConfigMapOperator): Promise<ConfigMapOperator> => {
    operator = new subclass(deps());
    await operator.start();
    return operator;
  };

  const createConfigMap = (name: string, data: Record<string, string>): Promise<V1ConfigMap> =>
    admin.create<V1ConfigMap>(configMapKind, { metadata: { name, namespace }, data });

  const setData = (name: string, data: Record<string, string>): Promise<V1ConfigMap> =>
    admin.patch<V1ConfigMap>(configMapKind, { namespace, name }, { data });

  before(async () => {
    cp = await controlPlane();
    admin = new KubeClient(cp.kubeConfig);
  });

  beforeEach(async () => {
    namespace = uniqueName("operator");
    await cp.createNamespace(namespace);
  });

  afterEach(async () => {
    await operator?.stop(5000);
    operator = undefined;
  });

  it("reconciles added and updated ConfigMaps with the latest object, and reports deleted ones as gone", async () => {
    const op = await start();
    await createConfigMap("one", { v: "1" });
    await eventually(() => expect(op.callsFor("one").map((c) => c.data.v)).to.include("1"));
    await setData("one", { v: "2" });
    await eventually(() => expect(op.callsFor("one").at(-1)?.data.v).to.equal("2"));
    await admin.delete(configMapKind, { namespace, name: "one" });
    await eventually(() => expect(op.gone).to.include(`${namespace}/one`));
  });

  it("reconciles objects that existed before it started", async () => {
    await createConfigMap("early", { v: "0" });
    const op = await start();
    await eventually(() => expect(op.callsFor("early")).to.have.length.greaterThan(0));
  });

  it("coalesces a burst of 100 updates into far fewer reconciles, never two at once for one key", async () => {
    const op = await start(() => delay(50));
    await createConfigMap("burst", { n: "0" });
    for (let n = 1; n <= 100; n++) await setData("burst", { n: String(n) });
    await eventually(() => expect(op.callsFor("burst").at(-1)?.data.n).to.equal("100"));
    await idle();
    expect(op.callsFor("burst").length).to.be.lessThan(50);
    expect(op.maxInFlight).to.equal(1);
  });

  it("runs different keys in parallel up to its concurrency", async () => {
    const op = await start(() => delay(300));
    let running = 0;
    let peak = 0;
    const sampler = setInterval(() => {
      running = [...op.inFlight.values()].reduce((sum, n) => sum + n, 0);
      peak = Math.max(peak, running);
    }, 10);
    try {
      await Promise.all(["a", "b", "c", "d", "e", "f"].map((name) => createConfigMap(name, {})));
      await eventually(() => expect(op.calls.length).to.be.at.least(6));
    } finally {
      clearInterval(sampler);
    }
    expect(peak).to.be.greaterThan(1);
    expect(peak).to.be.at.most(4);
  });

  it("retries a throwing reconcile with growing delays until it succeeds", async () => {
    const [successes, retriesBefore] = [await results("success"), await retried()];
    const op = await start((cm) => {
      if (op.callsFor(cm.metadata!.name!).length <= 5) return Promise.reject(new Error("not yet"));
      return Promise.resolve();
    });
    await createConfigMap("flaky", {});
    await eventually(() => expect(op.callsFor("flaky")).to.have.length(6));
    const at = op.callsFor("flaky").map((call) => call.at);
    const gaps = at.slice(1).map((time, i) => time - at[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).to.be.greaterThan(gaps[i - 1]!);
    // The sixth ended in success, which schedules no retry: five retries in all, and no seventh call.
    await eventually(async () => expect(await results("success")).to.equal(successes + 1));
    await idle();
    expect(await retried()).to.equal(retriesBefore + 5);
    expect(op.callsFor("flaky")).to.have.length(6);
  });

  it("reconciles again after requeueAfter without any change to the object", async () => {
    const [successes, requeues] = [await results("success"), await results("requeue_after")];
    const op = await start((cm) =>
      Promise.resolve(op.callsFor(cm.metadata!.name!).length < 3 ? { requeueAfterMs: 200 } : undefined),
    );
    await createConfigMap("later", {});
    await eventually(() => expect(op.callsFor("later")).to.have.length(3));
    const [first, second] = op.callsFor("later");
    expect(second!.at - first!.at).to.be.at.least(190);
    // The third returned no requeueAfter: two requeues in all, and no fourth call.
    await eventually(async () => expect(await results("success")).to.equal(successes + 1));
    await idle();
    expect(await results("requeue_after")).to.equal(requeues + 2);
    expect(op.callsFor("later")).to.have.length(3);
  });

  it("does not retry a TerminalError, but reconciles the object again when it changes", async () => {
    const terminal = () =>
      metricValue("controller_runtime_terminal_reconcile_errors_total", { controller: "configmap-test" });
    const [terminalBefore, retriesBefore] = [await terminal(), await retried()];
    const op = await start(() => Promise.reject(new TerminalError("bad spec")));
    await createConfigMap("broken", { v: "1" });
    await eventually(() => expect(op.callsFor("broken")).to.have.length(1));
    // The call ended as terminal and scheduled no retry.
    await eventually(async () => expect(await terminal()).to.equal(terminalBefore + 1));
    await idle();
    expect(await retried()).to.equal(retriesBefore);
    expect(op.callsFor("broken")).to.have.length(1);
    await setData("broken", { v: "2" });
    await eventually(() => expect(op.callsFor("broken")).to.have.length(2));
  });

  it("re-reconciles every cached object each resync period", async () => {
    const op = await startWith(
      class extends ConfigMapOperator {
        protected override readonly resyncPeriodMs = 300;
      },
    );
    await createConfigMap("steady", {});
    await eventually(() => expect(op.callsFor("steady").length).to.be.at.least(3));
  });

  it("keeps running through an API server restart and sees changes made afterwards", async function () {
    this.timeout(120_000);
    const client = new CountingClient(cp.kubeConfig);
    const op = await start(undefined, client);
    await createConfigMap("survivor", { v: "1" });
    await eventually(() => expect(op.callsFor("survivor").at(-1)?.data.v).to.equal("1"));
    const watches = client.watchedKinds.length;
    await cp.stopApiServer();
    // The outage was seen: the informer's watch ended and it has tried to watch again while the server is down.
    await eventually(() => expect(client.watchedKinds.length).to.be.greaterThan(watches), 30_000);
    await cp.startApiServer();
    await setData("survivor", { v: "2" });
    await createConfigMap("newcomer", {});
    await eventually(() => expect(op.callsFor("survivor").at(-1)?.data.v).to.equal("2"), 60_000);
    await eventually(() => expect(op.callsFor("newcomer")).to.have.length.greaterThan(0), 30_000);
  });

  it("reconciles the owner when an object it controls changes", async () => {
    const op = await startWith(
      class extends ConfigMapOperator {
        protected override readonly owns: readonly WatchSource[] = [{ kind: secretKind }];
      },
    );
    const owner = await createConfigMap("owner", {});
    await eventually(() => expect(op.callsFor("owner")).to.have.length(1));
    const ownerRef = controllerReference({ ...owner, apiVersion: "v1", kind: "ConfigMap" });
    await admin.create<V1Secret>(secretKind, { metadata: { name: "child", namespace, ownerReferences: [ownerRef] } });
    await eventually(() => expect(op.callsFor("owner")).to.have.length(2));
    await admin.create<V1Secret>(secretKind, { metadata: { name: "stray", namespace } });
    // Handlers run as the informer applies an event: once "stray" is cached, its event was handled.
    await eventually(() => expect(op.cachedKeys(secretKind)).to.include(`${namespace}/stray`));
    await idle();
    expect(op.callsFor("owner")).to.have.length(2);
    await admin.patch(secretKind, { namespace, name: "child" }, { data: { k: "dg==" } });
    await eventually(() => expect(op.callsFor("owner")).to.have.length(3));
    await idle();
    expect(op.callsFor("owner")).to.have.length(3);
  });

  it("reconciles the objects a mapped watch names when a watched object changes", async () => {
    const op = await startWith(
      class extends ConfigMapOperator {
        protected override readonly watches: readonly MappedWatch[] = [
          {
            kind: secretKind,
            // ConfigMaps name the Secret they use in data.secret.
            map: (secret: KubernetesObject) =>
              this.cache
                .list(secret.metadata?.namespace)
                .filter((cm) => cm.data?.secret === secret.metadata?.name)
                .map((cm) => ({ namespace: cm.metadata!.namespace!, name: cm.metadata!.name! })),
          },
        ];
      },
    );
    await createConfigMap("user", { secret: "password" });
    await createConfigMap("bystander", {});
    await eventually(() => expect(op.calls).to.have.length(2));
    await admin.create<V1Secret>(secretKind, { metadata: { name: "password", namespace } });
    await eventually(() => expect(op.callsFor("user")).to.have.length(2));
    await admin.delete(secretKind, { namespace, name: "password" });
    await eventually(() => expect(op.callsFor("user")).to.have.length(3));
    expect(op.callsFor("bystander")).to.have.length(1);
  });

  it("reports synced only once started, and counts reconciles in controller-runtime's metrics", async () => {
    const op = new ConfigMapOperator(deps());
    expect(op.hasSynced()).to.equal(false);
    operator = op;
    await op.start();
    expect(op.hasSynced()).to.equal(true);
    await createConfigMap("counted", {});
    await eventually(() => expect(op.callsFor("counted")).to.have.length(1));
    const metrics = await metricsRegistry.metrics();
    expect(metrics).to.match(
      /controller_runtime_reconcile_total\{controller="configmap-test",result="success"\} [1-9]/,
    );
    expect(metrics).to.match(/workqueue_adds_total\{name="configmap-test",controller="configmap-test"\} [1-9]/);
    expect(metrics).to.match(/controller_runtime_max_concurrent_reconciles\{controller="configmap-test"\} 4/);
  });

  it("lets a reconcile in flight finish on stop and then takes no more work", async () => {
    let finished = 0;
    const op = await start(async () => {
      await delay(500);
      finished++;
    });
    await createConfigMap("slow", { v: "1" });
    await eventually(() => expect(op.callsFor("slow")).to.have.length(1));
    await op.stop(5000);
    expect(finished).to.equal(1);
    await setData("slow", { v: "2" });
    // A controller started after the change has listed and reconciled it: the stopped one would have been told first.
    const witness = await start();
    await eventually(() => expect(witness.callsFor("slow").at(-1)?.data.v).to.equal("2"));
    expect(op.callsFor("slow")).to.have.length(1);
  });

  describe("when its watch is cut off and etcd is compacted meanwhile", () => {
    let proxy: TcpProxy;

    beforeEach(async () => {
      const server = new URL(cp.server);
      proxy = await TcpProxy.start(server.hostname, Number(server.port));
    });

    afterEach(() => proxy.close());

    it("relists after 410 Gone and misses no change, including a delete", async () => {
      const client = new CountingClient(proxy.kubeConfigVia(cp.kubeConfig));
      const op = await start(undefined, client);
      await createConfigMap("changed", { v: "1" });
      await createConfigMap("deleted", {});
      await eventually(() => {
        expect(op.callsFor("changed")).to.have.length.greaterThan(0);
        expect(op.callsFor("deleted")).to.have.length.greaterThan(0);
      });
      const listsBefore = client.lists;
      proxy.cut();
      await setData("changed", { v: "2" });
      await admin.delete(configMapKind, { namespace, name: "deleted" });
      await createConfigMap("created", {});
      await cp.compactEtcd();
      proxy.restore();
      await eventually(() => {
        expect(op.callsFor("changed").at(-1)?.data.v).to.equal("2");
        expect(op.gone).to.include(`${namespace}/deleted`);
        expect(op.callsFor("created")).to.have.length.greaterThan(0);
      }, 30_000);
      expect(client.lists).to.be.greaterThan(listsBefore);
    });
  });
});
