import type { Registry } from "prom-client";
import { errorFields } from "./errors.js";
import { InformerCache } from "./informer-cache.js";
import { KubeClient } from "./kube-client.js";
import type { ClusterAccess } from "./kube-config.js";
import { LeaderElector } from "./leader-election.js";
import type { Logger } from "./logger.js";
import type { ManagedController } from "./managed-controller.js";
import { metricsRegistry } from "./metrics.js";
import { ProbeServers } from "./probes.js";
import type { CheckResult } from "./probes.js";

/** Leader election settings of a Manager; durations default to controller-runtime's 15 s / 10 s / 2 s. */
export interface ManagerLeaderElection {
  readonly namespace: string;
  /** Name of the Lease. */
  readonly id: string;
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Give the Lease up on stop so a standby takes over at once (controller-runtime's LeaderElectionReleaseOnCancel); default true. */
  readonly releaseOnCancel?: boolean;
}

/** What a Manager needs to run. */
export interface ManagerOptions {
  readonly kubeConfig: ClusterAccess;
  readonly logger: Logger;
  /** "[host]:port" for /healthz and /readyz, or "0" to disable. */
  readonly healthProbeBindAddress: string;
  /** "[host]:port" for /metrics, or "0" to disable. */
  readonly metricsBindAddress: string;
  /** How long each controller may take to finish reconciles in flight on stop. */
  readonly shutdownTimeoutMs: number;
  /** Leader election; when absent every replica runs its controllers. */
  readonly leaderElection?: ManagerLeaderElection;
  /** Registry served on /metrics; defaults to the process registry of runtime/metrics.ts. */
  readonly registry?: Registry;
  /** The client of the shared informer cache (the controllers' client, to share its connections); default one on kubeConfig. */
  readonly client?: KubeClient;
  /** Informer tuning of the shared cache (tests shorten these; see InformerCacheOptions). */
  readonly watchTimeoutSeconds?: number;
  readonly watchBackoffMaxMs?: number;
}

type Phase = "new" | "starting" | "electing" | "starting-controllers" | "running" | "stopping" | "stopped";

// A controller that ignores its own stop timeout must not keep the process from exiting.
const STOP_GRACE_MS = 5_000;

/**
 * Runs the controllers of the process, like controller-runtime's manager: serves probes and
 * metrics, waits to be elected leader when leader election is on, starts every controller, and
 * shuts all of it down in order on stop() or when leadership is lost. Its `cache` holds the
 * informers its controllers share (give it to them as OperatorDeps.cache); they start when the
 * controllers start, and stop once every controller has stopped.
 */
export class Manager {
  private readonly controllers: ManagedController[] = [];
  private sharedCache: InformerCache | undefined;
  private readonly shutdownTasks: { readonly name: string; readonly run: () => Promise<void> }[] = [];
  private readonly logger: Logger;
  private phase: Phase = "new";
  private elector: LeaderElector | undefined;
  private servers: Promise<ProbeServers | undefined> = Promise.resolve(undefined);
  private startedControllers: readonly ManagedController[] = [];
  private stopping: Promise<void> | undefined;
  private failure: Error | undefined;
  private readonly finished: Promise<void>;
  private settleFinished!: (err: Error | undefined) => void;
  private announceStopping!: () => void;
  private readonly stoppingSignal: Promise<void>;

  constructor(private readonly options: ManagerOptions) {
    this.logger = options.logger;
    this.finished = new Promise<void>((resolve, reject) => {
      this.settleFinished = (err) => (err ? reject(err) : resolve());
    });
    // Marked handled here; callers of wait() still see the rejection.
    this.finished.catch(() => undefined);
    this.stoppingSignal = new Promise<void>((resolve) => {
      this.announceStopping = resolve;
    });
  }

  /** The informers shared by the controllers: one list and watch per kind, selectors, projection and retain. */
  get cache(): InformerCache {
    this.sharedCache ??= new InformerCache(this.options.client ?? new KubeClient(this.options.kubeConfig), {
      logger: this.logger,
      watchTimeoutSeconds: this.options.watchTimeoutSeconds,
      watchBackoffMaxMs: this.options.watchBackoffMaxMs,
    });
    return this.sharedCache;
  }

  /** Registers a controller; only before start(). */
  add(controller: ManagedController): void {
    if (this.phase !== "new")
      throw new Error(`while adding controller "${controller.name}": the manager has already started`);
    this.controllers.push(controller);
  }

  /**
   * Registers clean-up that runs on stop once every controller has stopped (so nothing in flight
   * still needs what it closes), before the Lease is released; a failure is logged, not fatal.
   */
  onShutdown(name: string, run: () => Promise<void>): void {
    this.shutdownTasks.push({ name, run });
  }

  /**
   * Starts the probe and metrics servers, waits to become leader (when leader election is on),
   * then starts every controller. Resolves once all caches synced, or early when stop() is called
   * first; rejects when a server cannot listen or a controller fails to start.
   */
  async start(): Promise<void> {
    if (this.phase !== "new") throw new Error("while starting the manager: start() may be called once");
    this.phase = "starting";
    this.logger.info("Starting manager", { controllers: this.controllers.map((c) => c.name) });
    this.servers = ProbeServers.start({
      healthProbeBindAddress: this.options.healthProbeBindAddress,
      metricsBindAddress: this.options.metricsBindAddress,
      healthz: () => this.healthz(),
      readyz: () => this.readyz(),
      registry: this.options.registry ?? metricsRegistry,
      logger: this.logger,
    });
    try {
      await this.servers;
    } catch (err) {
      this.servers = Promise.resolve(undefined);
      await this.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    if (!(await this.becomeLeader())) return;
    await this.startControllers();
  }

  /** Stops the controllers (each finishing in-flight work within the shutdown timeout), releases the Lease, closes the servers. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown(undefined);
    return this.stopping;
  }

  /** Resolves when the manager has stopped after stop(); rejects with the reason when it stopped itself (leadership lost, a controller failed to start). */
  wait(): Promise<void> {
    return this.finished;
  }

  /** True when this replica may reconcile: it holds the Lease, or leader election is off. */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.phase === "starting-controllers" || this.phase === "running";
  }

  /** Base URL of the /healthz and /readyz server once started, if enabled. */
  async healthProbeUrl(): Promise<string | undefined> {
    return (await this.servers)?.healthProbeUrl;
  }

  /** Base URL of the /metrics server once started, if enabled. */
  async metricsUrl(): Promise<string | undefined> {
    return (await this.servers)?.metricsUrl;
  }

  /** Liveness: answering at all proves the event loop turns; a manager that failed reports unhealthy until the process exits. */
  healthz(): CheckResult {
    return this.failure ? { ok: false, detail: `manager failed: ${this.failure.message}` } : { ok: true, detail: "ok" };
  }

  /**
   * Readiness: ready once every controller's caches synced. A standby replica (leader election on,
   * not leader) reports ready: it is healthy and waiting, and a Deployment whose standbys never
   * became ready could not finish a rolling update while the old leader holds the Lease. Nothing
   * routes traffic to the operator, so readiness only gates rollouts.
   */
  readyz(): CheckResult {
    if (this.phase === "stopping" || this.phase === "stopped") return { ok: false, detail: "shutting down" };
    if (this.phase === "new" || this.phase === "starting") return { ok: false, detail: "starting" };
    if (this.phase === "electing") return { ok: true, detail: "ok: standby, waiting to be elected leader" };
    const unsynced = this.controllers.filter((c) => !c.hasSynced()).map((c) => c.name);
    if (unsynced.length > 0) return { ok: false, detail: `caches not synced: ${unsynced.join(", ")}` };
    return { ok: true, detail: "ok" };
  }

  /** Resolves true once this replica may run controllers; false when stopped first. */
  private async becomeLeader(): Promise<boolean> {
    const election = this.options.leaderElection;
    if (this.phase !== "starting") return false;
    if (!election) return true;
    this.phase = "electing";
    this.elector = new LeaderElector({
      kubeConfig: this.options.kubeConfig,
      namespace: election.namespace,
      name: election.id,
      logger: this.logger,
      ...(election.identity === undefined ? {} : { identity: election.identity }),
      ...(election.leaseDurationMs === undefined ? {} : { leaseDurationMs: election.leaseDurationMs }),
      ...(election.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: election.renewDeadlineMs }),
      ...(election.retryPeriodMs === undefined ? {} : { retryPeriodMs: election.retryPeriodMs }),
    });
    this.elector.onLost((err) => {
      void this.fail(err);
    });
    const leader = await this.elector.acquire();
    return leader && this.phase === "electing";
  }

  private async startControllers(): Promise<void> {
    this.phase = "starting-controllers";
    this.startedControllers = [...this.controllers];
    this.logger.info("Starting controllers", { controllers: this.controllers.map((c) => c.name) });
    const all = Promise.all(
      this.controllers.map(async (controller) => {
        try {
          await controller.start();
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          throw new Error(`while starting controller "${controller.name}": ${message}`, { cause: err });
        }
      }),
    );
    try {
      await Promise.race([all, this.stoppingSignal]);
    } catch (err) {
      await this.fail(err as Error);
      throw err;
    }
    if (this.phase !== "starting-controllers") return;
    this.phase = "running";
    this.logger.info("Controllers started and caches synced");
  }

  private fail(err: Error): Promise<void> {
    if (this.stopping) return this.stopping;
    this.failure = err;
    this.logger.error("Manager is stopping after a fatal error", errorFields(err));
    this.stopping = this.shutdown(err);
    return this.stopping;
  }

  private async shutdown(reason: Error | undefined): Promise<void> {
    this.phase = "stopping";
    this.announceStopping();
    this.logger.info("Stopping manager");
    await Promise.all(this.startedControllers.map((controller) => this.stopController(controller)));
    // After every controller: none of them reads the cache any more.
    await this.sharedCache?.stop();
    await this.runShutdownTasks();
    const release = !reason && (this.options.leaderElection?.releaseOnCancel ?? true);
    await this.elector?.stop({ release });
    try {
      await (await this.servers)?.close();
    } catch (err) {
      this.logger.warn("Failed to close the probe and metrics servers", errorFields(err));
    }
    this.phase = "stopped";
    this.logger.info("Stopped manager");
    this.settleFinished(reason);
  }

  private async runShutdownTasks(): Promise<void> {
    for (const task of this.shutdownTasks) {
      try {
        await task.run();
      } catch (err) {
        this.logger.warn("Shutdown task failed", { task: task.name, ...errorFields(err) });
      }
    }
  }

  private async stopController(controller: ManagedController): Promise<void> {
    const timeoutMs = this.options.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs + STOP_GRACE_MS);
    });
    try {
      const outcome = await Promise.race([controller.stop(timeoutMs), gaveUp]);
      if (outcome === "timeout")
        this.logger.warn("Controller did not stop in time; leaving it", { controller: controller.name, timeoutMs });
    } catch (err) {
      this.logger.error("Failed to stop controller", { controller: controller.name, ...errorFields(err) });
    } finally {
      clearTimeout(timer);
    }
  }
}
