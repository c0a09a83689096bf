import { randomUUID } from "node:crypto";
import os from "node:os";
import type { KubernetesObject } from "@kubernetes/client-node";
import { errorFields, isConflict, isNotFound } from "./errors.js";
import { KubeClient } from "./kube-client.js";
import type { ClusterAccess } from "./kube-config.js";
import type { Logger } from "./logger.js";
import { leaderElectionStatus } from "./metrics.js";
import type { ResourceKind } from "./resource-kind.js";

/** controller-runtime's defaults: a Lease is held for 15 s, must be renewed within 10 s, tried every 2 s. */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** See DEFAULT_LEASE_DURATION_MS. */
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
/** See DEFAULT_LEASE_DURATION_MS. */
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

// client-go waits retryPeriod * (1 + rand * 1.2) between attempts to acquire,
// so that replicas started together do not hit the API server in lockstep.
const JITTER_FACTOR = 1.2;

/** coordination.k8s.io/v1 Lease. */
const leaseKind: ResourceKind = {
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
};

/** A Lease's spec as JSON: MicroTimes are the server's strings (a Date is accepted when read). */
export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string | Date;
  readonly renewTime?: string | Date;
  readonly leaseTransitions?: number;
}

interface Lease extends KubernetesObject {
  readonly spec?: LeaseSpec;
}

/** How to elect a leader on a coordination.k8s.io/v1 Lease. */
export interface LeaderElectionOptions {
  /** The Lease is read and written on a client of its own, so its renewals never queue behind other requests. */
  readonly kubeConfig: ClusterAccess;
  readonly namespace: string;
  /** Name of the Lease (the leader election id). */
  readonly name: string;
  /** Defaults to `<hostname>_<uuid>`, unique per process. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
}

type State = "idle" | "campaigning" | "leading" | "lost" | "stopped";

/**
 * Campaigns for a Lease like client-go's LeaderElector: acquires it when it is free or expired,
 * renews it every retry period, reports the loss when renewals failed for the renew deadline,
 * and releases it on stop so a standby takes over at once.
 */
export class LeaderElector {
  /** The holderIdentity this process writes into the Lease. */
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly logger: Logger;
  private state: State = "idle";
  /** True while our last successful write made us the holder; decides whether stop() releases. */
  private holding = false;
  private lastHolder: string | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private renewDeadlineTimer: NodeJS.Timeout | undefined;
  private wakeSleeper: (() => void) | undefined;
  private readonly lostListeners: ((err: Error) => void)[] = [];

  constructor(private readonly options: LeaderElectionOptions) {
    this.identity = options.identity ?? `${os.hostname()}_${randomUUID()}`;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    if (this.leaseDurationMs <= this.renewDeadlineMs || this.renewDeadlineMs <= this.retryPeriodMs * JITTER_FACTOR) {
      throw new Error(
        `while configuring leader election: need leaseDuration > renewDeadline > retryPeriod * ${JITTER_FACTOR}, got ${this.leaseDurationMs}ms, ${this.renewDeadlineMs}ms, ${this.retryPeriodMs}ms`,
      );
    }
    this.client = new KubeClient(options.kubeConfig, { requestTimeoutMs: this.renewDeadlineMs });
    this.logger = options.logger.child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
  }

  /** True while this process holds the Lease and has renewed it within the renew deadline. */
  isLeader(): boolean {
    return this.state === "leading";
  }

  /** Registers a callback for the moment leadership is lost (renewals failed for the renew deadline). */
  onLost(listener: (err: Error) => void): void {
    this.lostListeners.push(listener);
  }

  /**
   * Tries to acquire the Lease every retry period until it succeeds (resolves true, then keeps
   * renewing in the background) or stop() is called first (resolves false).
   */
  async acquire(): Promise<boolean> {
    if (this.state !== "idle") throw new Error("while acquiring the leader Lease: acquire() may be called once");
    this.state = "campaigning";
    leaderElectionStatus.labels(this.options.name).set(0);
    this.logger.info("Attempting to acquire leader lease");
    while (this.state === "campaigning") {
      if (await this.attempt()) {
        if (this.state !== "campaigning") return false;
        this.becomeLeader();
        return true;
      }
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR));
    }
    return false;
  }

  /**
   * Stops campaigning and renewing. With `release` (client-go's ReleaseOnCancel), a held Lease is
   * given up by clearing holderIdentity and shortening it to 1 s, so a standby can take it at once.
   */
  async stop({ release }: { readonly release: boolean }): Promise<void> {
    if (this.state === "stopped") return;
    const wasLeading = this.state === "leading";
    this.state = "stopped";
    clearTimeout(this.renewDeadlineTimer);
    this.wakeSleeper?.();
    // A request to an unreachable API server must not hold up the shutdown.
    await withTimeout(this.inFlight, this.renewDeadlineMs);
    if (wasLeading) leaderElectionStatus.labels(this.options.name).set(0);
    if (release && this.holding) {
      const released = await withTimeout(this.release(), this.renewDeadlineMs);
      if (released === "timeout") this.logger.warn("Gave up releasing the lease; it expires by itself");
    }
    this.holding = false;
    this.client.close();
  }

  private becomeLeader(): void {
    this.state = "leading";
    leaderElectionStatus.labels(this.options.name).set(1);
    this.logger.info("Acquired lease");
    this.armRenewDeadline();
    this.renewLoop().catch((err: unknown) =>
      this.logger.error("Renewing the lease failed unexpectedly", errorFields(err)),
    );
  }

  private async renewLoop(): Promise<void> {
    while (this.state === "leading") {
      await this.sleep(this.retryPeriodMs);
      if (this.state !== "leading") return;
      if ((await this.attempt()) && this.state === "leading") this.armRenewDeadline();
    }
  }

  /** (Re)starts the countdown that ends leadership when no renewal succeeds within the renew deadline. */
  private armRenewDeadline(): void {
    clearTimeout(this.renewDeadlineTimer);
    this.renewDeadlineTimer = setTimeout(() => this.loseLeadership(), this.renewDeadlineMs);
  }

  private loseLeadership(): void {
    if (this.state !== "leading") return;
    this.state = "lost";
    this.holding = false;
    this.wakeSleeper?.();
    leaderElectionStatus.labels(this.options.name).set(0);
    const err = new Error(
      `leader election lost: could not renew Lease ${this.options.namespace}/${this.options.name} within ${this.renewDeadlineMs}ms`,
    );
    this.logger.error("Lost lease", { renewDeadlineMs: this.renewDeadlineMs });
    for (const listener of this.lostListeners) listener(err);
  }

  /** One acquire-or-renew round, bounded by the renew deadline so a hung request cannot stall the loop. */
  private async attempt(): Promise<boolean> {
    const round = this.tryAcquireOrRenew();
    this.inFlight = round;
    return (await withTimeout(round, this.renewDeadlineMs)) === true;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace } = this.options;
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(leaseKind, { name, namespace });
    } catch (err) {
      if (isNotFound(err)) return this.create(now);
      this.logger.warn("Failed to read lease", errorFields(err));
      return false;
    }
    const spec: LeaseSpec = lease.spec ?? {};
    const holder = spec.holderIdentity || undefined;
    this.noticeHolder(holder);
    if (holder !== undefined && holder !== this.identity && !leaseExpired(spec, now.getTime())) return false;
    const renewing = holder === this.identity;
    const body: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: lease.metadata, // carries resourceVersion: the update fails with 409 if someone wrote in between
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationSeconds(),
        acquireTime: renewing ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      await this.client.replace(leaseKind, body);
    } catch (err) {
      if (!isConflict(err)) this.logger.warn("Failed to update lease", errorFields(err));
      return false;
    }
    this.holding = this.state !== "lost";
    return true;
  }

  private async create(now: Date): Promise<boolean> {
    const { name, namespace } = this.options;
    try {
      await this.client.create<Lease>(leaseKind, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: {
          holderIdentity: this.identity,
          leaseDurationSeconds: this.leaseDurationSeconds(),
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
    } catch (err) {
      if (!isConflict(err)) this.logger.warn("Failed to create lease", errorFields(err));
      return false;
    }
    this.holding = this.state !== "lost";
    return true;
  }

  /** Gives the Lease up the way client-go's ReleaseOnCancel does, if we still hold it. */
  private async release(): Promise<void> {
    const { name, namespace } = this.options;
    try {
      const lease = await this.client.get<Lease>(leaseKind, { name, namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      await this.client.replace<Lease>(leaseKind, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: lease.metadata,
        spec: {
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: lease.spec.leaseTransitions,
        },
      });
      this.logger.info("Released lease");
    } catch (err) {
      // Not fatal: the Lease then simply expires after its duration.
      this.logger.warn("Failed to release lease; it expires by itself", errorFields(err));
    }
  }

  private noticeHolder(holder: string | undefined): void {
    if (holder === this.lastHolder) return;
    this.lastHolder = holder;
    if (holder !== undefined && holder !== this.identity)
      this.logger.info("Lease is held by another replica", { holder });
  }

  private leaseDurationSeconds(): number {
    return Math.ceil(this.leaseDurationMs / 1000);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        if (this.wakeSleeper === wake) this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeSleeper = wake;
    });
  }
}

/**
 * A MicroTime as the API server writes it (RFC 3339 with six fractional digits), typed as the
 * Date that client-node's LeaseSpec declares: JSON.stringify sends the string as it is.
 */
function microTime(date: Date): Date {
  return date.toISOString().replace(/(\.\d{3})Z$/, "$1000Z") as unknown as Date;
}

/** Resolves with the promise's value, or "timeout" after `ms`, whichever comes first. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A Lease is expired when its renewTime plus leaseDurationSeconds lies in the past by our clock.
 * This trusts node clocks to agree to well within the lease duration (NTP). client-go instead
 * counts from when it last saw the record change, which makes a fresh candidate wait a full
 * lease duration even when the holder died long ago.
 */
export function leaseExpired(spec: LeaseSpec, nowMs: number): boolean {
  const renewed = toMillis(spec.renewTime ?? spec.acquireTime);
  if (renewed === undefined) return true;
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 <= nowMs;
}

// MicroTime fields arrive as the server's strings; a Date is accepted too (tests build specs with one).
function toMillis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
