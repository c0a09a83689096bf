import { randomBytes } from "node:crypto";
import net from "node:net";
import { CoordinationV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import type { V1Lease } from "@kubernetes/client-node";
import { expect } from "chai";
import { controlPlane } from "../test/harness/control-plane.js";
import type { ControlPlane } from "../test/harness/control-plane.js";
import { eventually } from "../test/support/eventually.js";
import { silentLogger } from "./logger.js";
import type { ManagedController } from "./managed-controller.js";
import { Manager } from "./manager.js";
import { metricsRegistry } from "./metrics.js";
import type { ManagerLeaderElection, ManagerOptions } from "./manager.js";

/** A controller whose sync the test decides, counting what the Manager asks of it. */
class StubController implements ManagedController {
  starts = 0;
  readonly stopTimeouts: number[] = [];
  private synced: boolean;
  private readonly failStart: Error | undefined;
  private releaseStart: (() => void) | undefined;

  constructor(
    readonly name: string,
    { synced = true, failStart }: { synced?: boolean; failStart?: Error } = {},
  ) {
    this.synced = synced;
    this.failStart = failStart;
  }

  async start(): Promise<void> {
    this.starts++;
    if (this.failStart) throw this.failStart;
    if (!this.synced) await new Promise<void>((resolve) => (this.releaseStart = resolve));
  }

  markSynced(): void {
    this.synced = true;
    this.releaseStart?.();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  stop(timeoutMs: number): Promise<void> {
    this.stopTimeouts.push(timeoutMs);
    return Promise.resolve();
  }
}

const LOCAL = { healthProbeBindAddress: "127.0.0.1:0", metricsBindAddress: "127.0.0.1:0" } as const;

async function status(url: string | undefined): Promise<{ status: number; body: string }> {
  const res = await fetch(url!);
  return { status: res.status, body: await res.text() };
}

describe("manager", () => {
  const managers: Manager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  function manager(overrides: Partial<ManagerOptions> = {}): Manager {
    const m = new Manager({
      kubeConfig: new KubeConfig(),
      logger: silentLogger(),
      shutdownTimeoutMs: 1234,
      ...LOCAL,
      ...overrides,
    });
    managers.push(m);
    return m;
  }

  it("reports not ready until every controller's caches synced, then ready", async () => {
    const slow = new StubController("slow", { synced: false });
    const fast = new StubController("fast");
    const m = manager();
    m.add(slow);
    m.add(fast);
    const starting = m.start();
    const url = `${await m.healthProbeUrl()}/readyz`;
    await eventually(() => expect(slow.starts).to.equal(1));
    expect(await status(url)).to.deep.equal({ status: 503, body: "caches not synced: slow\n" });
    expect((await status(`${await m.healthProbeUrl()}/healthz`)).status).to.equal(200);
    slow.markSynced();
    await starting;
    expect(await status(url)).to.deep.equal({ status: 200, body: "ok\n" });
  });

  it("serves controller-runtime's metric names on /metrics", async () => {
    const m = manager();
    await m.start();
    const { status: code, body } = await status(`${await m.metricsUrl()}/metrics`);
    expect(code).to.equal(200);
    for (const name of [
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_errors_total",
      "controller_runtime_reconcile_time_seconds",
      "controller_runtime_max_concurrent_reconciles",
      "controller_runtime_active_workers",
      "workqueue_depth",
      "workqueue_adds_total",
      "workqueue_retries_total",
      "workqueue_queue_duration_seconds",
      "workqueue_work_duration_seconds",
      "leader_election_master_status",
    ]) {
      expect(body).to.match(new RegExp(`^# TYPE ${name} `, "m"));
    }
  });

  it("stops every controller with the shutdown timeout and then stops serving", async () => {
    const a = new StubController("a");
    const b = new StubController("b");
    const m = manager();
    m.add(a);
    m.add(b);
    await m.start();
    const url = `${await m.healthProbeUrl()}/healthz`;
    await m.stop();
    await m.wait();
    expect(a.stopTimeouts).to.deep.equal([1234]);
    expect(b.stopTimeouts).to.deep.equal([1234]);
    const refused = await fetch(url).then(
      () => false,
      () => true,
    );
    expect(refused).to.equal(true);
  });

  it("runs shutdown tasks after every controller stopped, in order, and goes on past a failing one", async () => {
    const seen: string[] = [];
    const controller = new StubController("a");
    controller.stop = (timeoutMs) => {
      seen.push(`stop a ${timeoutMs}`);
      return Promise.resolve();
    };
    const m = manager();
    m.add(controller);
    m.onShutdown("broken", () => Promise.reject(new Error("already closed")));
    m.onShutdown("pools", () => {
      seen.push("close pools");
      return Promise.resolve();
    });
    await m.start();
    await m.stop();
    expect(seen).to.deep.equal(["stop a 1234", "close pools"]);
  });

  it("stops itself and reports why when a controller fails to start", async () => {
    const broken = new StubController("broken", { failStart: new Error("no RBAC for secrets") });
    const healthy = new StubController("healthy");
    const m = manager();
    m.add(broken);
    m.add(healthy);
    const err = await m.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.equal('while starting controller "broken": no RBAC for secrets');
    const waited = await m.wait().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(waited?.message).to.equal('while starting controller "broken": no RBAC for secrets');
    expect(healthy.stopTimeouts).to.have.length(1);
  });

  it("fails to start, naming the address, when the probe port is taken", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const m = manager({ healthProbeBindAddress: `127.0.0.1:${port}` });
      const stub = new StubController("never");
      m.add(stub);
      const err = await m.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.contain(`127.0.0.1:${port}: EADDRINUSE`);
      expect(stub.starts).to.equal(0);
      await m.wait().catch(() => undefined);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("refuses controllers added after start", async () => {
    const m = manager();
    await m.start();
    expect(() => m.add(new StubController("late"))).to.throw(
      'while adding controller "late": the manager has already started',
    );
  });
});

describe("manager with leader election on a real API server", function () {
  /** Short timings so takeovers happen in seconds. */
  const FAST = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 } as const;
  const LEASE = "kompost-manager-test";
  let cp: ControlPlane;
  let api: CoordinationV1Api;
  let namespace: string;
  const managers: Manager[] = [];

  before(async function () {
    this.timeout(180_000);
    cp = await controlPlane();
    api = cp.kubeConfig.makeApiClient(CoordinationV1Api);
  });

  beforeEach(async () => {
    namespace = `mgr-${randomBytes(4).toString("hex")}`;
    await cp.createNamespace(namespace);
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
  });

  interface Replica {
    readonly identity: string;
    readonly manager: Manager;
    readonly controller: StubController;
    readonly started: Promise<void>;
  }

  function electing(identity: string, election: Partial<ManagerLeaderElection> = {}): Replica {
    const controller = new StubController(identity);
    const m = new Manager({
      kubeConfig: cp.kubeConfig,
      logger: silentLogger(),
      shutdownTimeoutMs: 1000,
      ...LOCAL,
      leaderElection: { namespace, id: LEASE, identity, ...FAST, ...election },
    });
    managers.push(m);
    m.add(controller);
    return { identity, manager: m, controller, started: m.start() };
  }

  const readLease = (): Promise<V1Lease> => api.readNamespacedLease({ name: LEASE, namespace });

  /** Waits until the Lease was written `times` more times, i.e. the leader renewed it. */
  async function renewals(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      const before = (await readLease()).metadata?.resourceVersion;
      await eventually(async () => expect((await readLease()).metadata?.resourceVersion).to.not.equal(before), 10_000);
    }
  }

  async function twoReplicas(
    election: Partial<ManagerLeaderElection> = {},
  ): Promise<{ leader: Replica; standby: Replica }> {
    const a = electing("replica-a", election);
    const b = electing("replica-b", election);
    await Promise.race([a.started, b.started]);
    const [leader, standby] = a.controller.starts === 1 ? [a, b] : [b, a];
    await renewals(2);
    expect(leader.controller.starts).to.equal(1);
    expect(standby.controller.starts).to.equal(0);
    return { leader, standby };
  }

  it("starts the controllers of exactly one of two replicas", async () => {
    const { leader, standby } = await twoReplicas();
    expect(leader.manager.isLeader()).to.equal(true);
    expect(standby.manager.isLeader()).to.equal(false);
    expect((await readLease()).spec?.holderIdentity).to.equal(leader.identity);
  });

  it("reports a standby replica as ready while it waits to be elected", async () => {
    const { leader, standby } = await twoReplicas();
    expect(await status(`${await standby.manager.healthProbeUrl()}/readyz`)).to.deep.equal({
      status: 200,
      body: "ok: standby, waiting to be elected leader\n",
    });
    expect(await status(`${await leader.manager.healthProbeUrl()}/readyz`)).to.deep.equal({
      status: 200,
      body: "ok\n",
    });
  });

  it("hands over at once when the leader stops: it releases the Lease and the standby takes it", async () => {
    // A lease far longer than the wait below: only a release lets the standby in this soon.
    const { leader, standby } = await twoReplicas({ leaseDurationMs: 30_000, renewDeadlineMs: 20_000 });
    await leader.manager.stop();
    expect(leader.controller.stopTimeouts).to.deep.equal([1000]);
    await eventually(() => expect(standby.controller.starts).to.equal(1), 10_000);
    await standby.started;
    expect(standby.manager.isLeader()).to.equal(true);
  });

  it("takes over after the lease expires when the leader dies without releasing it", async () => {
    const { leader, standby } = await twoReplicas({ releaseOnCancel: false });
    await leader.manager.stop();
    const held = await readLease();
    expect(held.spec?.holderIdentity).to.equal(leader.identity);
    await standby.started;
    expect(standby.controller.starts).to.equal(1);
    const taken = await readLease();
    expect(taken.spec?.holderIdentity).to.equal(standby.identity);
    expect(taken.spec?.leaseTransitions).to.equal((held.spec?.leaseTransitions ?? 0) + 1);
  });

  it("stops its controllers and reports the loss when it cannot renew the Lease", async () => {
    const { manager, controller, started } = electing("replica-a");
    await started;
    const lease = await readLease();
    await api.replaceNamespacedLease({
      name: LEASE,
      namespace,
      body: {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 3600, renewTime: new V1MicroTime() },
      },
    });
    const err = await manager.wait().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.match(/^leader election lost: could not renew Lease/);
    expect(controller.stopTimeouts).to.have.length(1);
    expect(manager.healthz().ok).to.equal(false);
    expect((await readLease()).spec?.holderIdentity).to.equal("intruder");
  });

  it("shows leader_election_master_status 1 for the Lease while leading and 0 after stopping", async () => {
    const { manager, started } = electing("replica-a");
    await started;
    const metricsUrl = `${await manager.metricsUrl()}/metrics`;
    expect((await status(metricsUrl)).body).to.contain(`leader_election_master_status{name="${LEASE}"} 1`);
    await manager.stop();
    expect(await metricsRegistry.getSingleMetricAsString("leader_election_master_status")).to.contain(
      `leader_election_master_status{name="${LEASE}"} 0`,
    );
  });
});
