import { randomBytes } from "node:crypto";
import os from "node:os";
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import type { V1Lease } from "@kubernetes/client-node";
import { expect } from "chai";
import { controlPlane } from "../test/harness/control-plane.js";
import type { ControlPlane } from "../test/harness/control-plane.js";
import { eventually } from "../test/support/eventually.js";
import { LeaderElector, leaseExpired } from "./leader-election.js";
import { silentLogger } from "./logger.js";
import { TcpProxy } from "./testing/tcp-proxy.js";

/** Short timings so the tests run in seconds; the same ratios as controller-runtime's 15 s / 10 s / 2 s. */
const FAST = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 } as const;
const LEASE = "kompost-test";

function spec(renewTime: string | undefined, leaseDurationSeconds: number | undefined): V1Lease["spec"] & object {
  return { renewTime: renewTime as unknown as V1MicroTime, leaseDurationSeconds };
}

describe("lease expiry", () => {
  const renewed = "2026-01-01T00:00:00.000000Z";
  const renewedMs = Date.parse(renewed);

  it("counts a Lease as held until renewTime plus its duration has passed", () => {
    expect(leaseExpired(spec(renewed, 15), renewedMs + 14_999)).to.equal(false);
    expect(leaseExpired(spec(renewed, 15), renewedMs + 15_000)).to.equal(true);
  });

  it("reads renewTime both as the server's microsecond string and as a Date", () => {
    const asDate = { renewTime: new V1MicroTime(renewedMs), leaseDurationSeconds: 15 };
    expect(leaseExpired(asDate, renewedMs + 1_000)).to.equal(false);
    expect(leaseExpired(spec("2026-01-01T00:00:00.123456Z", 1), renewedMs + 1_100)).to.equal(false);
  });

  it("counts a Lease without renewTime or duration as expired", () => {
    expect(leaseExpired(spec(undefined, 15), renewedMs)).to.equal(true);
    expect(leaseExpired(spec(renewed, undefined), renewedMs + 1)).to.equal(true);
  });
});

describe("leader election on a real API server", function () {
  let cp: ControlPlane;
  let api: CoordinationV1Api;
  let namespace: string;
  const electors: LeaderElector[] = [];

  before(async function () {
    this.timeout(180_000);
    cp = await controlPlane();
    api = cp.kubeConfig.makeApiClient(CoordinationV1Api);
  });

  beforeEach(async () => {
    namespace = `le-${randomBytes(4).toString("hex")}`;
    await cp.createNamespace(namespace);
  });

  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
  });

  function elector(overrides: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {}): LeaderElector {
    const e = new LeaderElector({
      kubeConfig: cp.kubeConfig,
      namespace,
      name: LEASE,
      logger: silentLogger(),
      ...FAST,
      ...overrides,
    });
    electors.push(e);
    return e;
  }

  const readLease = (): Promise<V1Lease> => api.readNamespacedLease({ name: LEASE, namespace });

  it("creates the Lease with a <hostname>_<uuid> holder and keeps renewing it", async () => {
    const e = elector();
    expect(await e.acquire()).to.equal(true);
    expect(e.isLeader()).to.equal(true);
    const first = await readLease();
    expect(first.spec?.holderIdentity).to.equal(e.identity);
    expect(e.identity).to.match(new RegExp(`^${os.hostname()}_[0-9a-f]{8}-[0-9a-f]{4}-`));
    expect(first.spec?.leaseDurationSeconds).to.equal(2);
    expect(first.spec?.leaseTransitions).to.equal(0);
    await eventually(async () => {
      const later = await readLease();
      expect(later.metadata?.resourceVersion).to.not.equal(first.metadata?.resourceVersion);
      expect(later.spec?.holderIdentity).to.equal(e.identity);
      expect(String(later.spec?.renewTime)).to.not.equal(String(first.spec?.renewTime));
    }, 10_000);
  });

  it("waits while another holder's Lease is fresh and takes it over only once it expired", async () => {
    const renewTime = new V1MicroTime();
    await api.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: LEASE, namespace },
        spec: {
          holderIdentity: "other-replica",
          leaseDurationSeconds: 2,
          renewTime,
          acquireTime: renewTime,
          leaseTransitions: 4,
        },
      },
    });
    const e = elector();
    expect(await e.acquire()).to.equal(true);
    expect(Date.now()).to.be.at.least(renewTime.getTime() + 2_000);
    const lease = await readLease();
    expect(lease.spec?.holderIdentity).to.equal(e.identity);
    expect(lease.spec?.leaseTransitions).to.equal(5);
  });

  it("takes a released Lease at once", async () => {
    const renewTime = new V1MicroTime();
    await api.createNamespacedLease({
      namespace,
      body: { metadata: { name: LEASE, namespace }, spec: { leaseDurationSeconds: 3600, renewTime } },
    });
    const e = elector();
    expect(await e.acquire()).to.equal(true);
    expect((await readLease()).spec?.holderIdentity).to.equal(e.identity);
  });

  it("releases the Lease on stop: no holder, and a 1 s duration", async () => {
    const e = elector();
    await e.acquire();
    await e.stop({ release: true });
    expect(e.isLeader()).to.equal(false);
    const lease = await readLease();
    expect(lease.spec?.holderIdentity ?? "").to.equal("");
    expect(lease.spec?.leaseDurationSeconds).to.equal(1);
  });

  it("stops campaigning when stopped before it could acquire", async () => {
    const renewTime = new V1MicroTime();
    await api.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: LEASE, namespace },
        spec: { holderIdentity: "other-replica", leaseDurationSeconds: 3600, renewTime },
      },
    });
    const e = elector();
    const acquiring = e.acquire();
    await e.stop({ release: true });
    expect(await acquiring).to.equal(false);
    expect((await readLease()).spec?.holderIdentity).to.equal("other-replica");
  });

  it("reports the loss when renewals fail for the renew deadline, and then leaves the new holder's Lease alone", async () => {
    const e = elector();
    const lost = new Promise<Error>((resolve) => e.onLost(resolve));
    await e.acquire();
    const lease = await readLease();
    const now = new V1MicroTime();
    await api.replaceNamespacedLease({
      name: LEASE,
      namespace,
      body: {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 3600, renewTime: now },
      },
    });
    const err = await lost;
    expect(err.message).to.equal(`leader election lost: could not renew Lease ${namespace}/${LEASE} within 1500ms`);
    expect(e.isLeader()).to.equal(false);
    await e.stop({ release: true });
    expect((await readLease()).spec?.holderIdentity).to.equal("intruder");
  });

  it("reports the loss when the API server becomes unreachable, and still stops", async () => {
    const server = new URL(cp.server);
    const proxy = await TcpProxy.start(server.hostname, Number(server.port));
    try {
      const e = elector({ kubeConfig: proxy.kubeConfigVia(cp.kubeConfig) });
      const lost = new Promise<Error>((resolve) => e.onLost(resolve));
      await e.acquire();
      proxy.cut();
      expect((await lost).message).to.match(/^leader election lost/);
      await e.stop({ release: true });
      // It could not release, and must not pretend it did: the Lease stays until it expires.
      expect((await readLease()).spec?.holderIdentity).to.equal(e.identity);
    } finally {
      await proxy.close();
    }
  });

  it("lets exactly one of two candidates lead", async () => {
    const a = elector();
    const b = elector();
    const winner = await Promise.race([a.acquire().then(() => a), b.acquire().then(() => b)]);
    const loser = winner === a ? b : a;
    const first = await readLease();
    await eventually(async () => {
      expect((await readLease()).metadata?.resourceVersion).to.not.equal(first.metadata?.resourceVersion);
    }, 10_000);
    expect(winner.isLeader()).to.equal(true);
    expect(loser.isLeader()).to.equal(false);
    expect((await readLease()).spec?.holderIdentity).to.equal(winner.identity);
  });
});
