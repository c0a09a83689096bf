import type { KubernetesObject } from "@kubernetes/client-node";
import { emptyStore, type IndexFunc, type ReadonlyStore } from "./cache.js";
import { TerminalError, errorMessage, type ReconcileResult } from "./errors.js";
import { EventRecorder } from "./events.js";
import type { Informer, InformerHandler } from "./informer.js";
import { InformerCache, informerKey, type InformerSource } from "./informer-cache.js";
import type { KubeClient } from "./kube-client.js";
import type { Logger } from "./logger.js";
import type { ManagedController } from "./managed-controller.js";
import { passes, type EventFilter } from "./predicates.js";
import {
  activeWorkers,
  maxConcurrentReconciles,
  reconcileErrorsTotal,
  reconcileTimeSeconds,
  reconcileTotal,
  terminalReconcileErrorsTotal,
} from "./metrics.js";
import { controllerOf } from "./owner-references.js";
import type { RateLimiter } from "./rate-limiter.js";
import { keyOf, keyString, parseKey, type ObjectKey, type ResourceKind } from "./resource-kind.js";
import { Revisits } from "./revisits.js";
import { WorkQueue } from "./workqueue.js";

/** What every Operator gets from the process: clients, logger and operator-wide settings. */
export interface OperatorDeps {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Shared Event recorder; one is created when absent. */
  readonly recorder?: EventRecorder;
  /** Watch only this namespace (tests, single-namespace installs); absent: the whole cluster. */
  readonly namespace?: string;
  /** Workers when the subclass does not set `concurrency`; default 1. */
  readonly maxConcurrentReconciles?: number;
  /** Resync period when the subclass does not set `resyncPeriodMs`; default 5 min. */
  readonly resyncPeriodMs?: number;
  /** Retry delays of failed reconciles; default `defaultControllerRateLimiter()` (100 ms → 5 min, 10 qps). */
  readonly rateLimiter?: RateLimiter;
  /**
   * The informers shared with the process's other controllers (the Manager's cache): a kind
   * several controllers read is listed and watched once. Absent: the controller makes its own
   * and stops them with itself.
   */
  readonly cache?: InformerCache;
  /** Tuning of the controller's own informers, without a shared `cache` (tests shorten these). */
  readonly watchTimeoutSeconds?: number;
  readonly watchBackoffMaxMs?: number;
}

/** Objects to watch besides the reconciled kind, narrowed by selectors. */
export interface WatchSource {
  readonly kind: ResourceKind;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Watch and cache only each object's metadata (see Projection); its cache then holds nothing else. */
  readonly metadataOnly?: boolean;
  /**
   * What the cache keeps of each object: the object (or a slimmer copy), or undefined to drop it
   * before it is stored; dropped objects trigger nothing (see InformerOptions.retain).
   */
  readonly retain?: (obj: KubernetesObject) => KubernetesObject | undefined;
  /** LIST page size; default 500. Smaller for kinds whose objects can be large, so that a relist holds less at once. */
  readonly pageSize?: number;
  /** Which of its changes enqueue (see predicates.ts); default all. */
  readonly filter?: EventFilter;
  /** Indexes the controller reads on this cache with `byIndex`, by name (see InformerSource.indexes). */
  readonly indexes?: Readonly<Record<string, IndexFunc>>;
}

/** Objects whose changes map to reconcile requests, e.g. a Secret to the instances that reference it. */
export interface MappedWatch extends WatchSource {
  /** The keys of the reconciled kind to enqueue for a changed (added, updated or deleted) object. */
  readonly map: (obj: KubernetesObject) => readonly ObjectKey[];
}

/** What `reconcile` gets besides the object. */
export interface ReconcileContext {
  readonly key: ObjectKey;
  /** A logger with controller, namespace and name on every line. */
  readonly logger: Logger;
}

/** The default period of the resync that re-reconciles every object. */
export const DEFAULT_RESYNC_PERIOD_MS = 5 * 60 * 1000;

/**
 * The base class of a controller: a subclass declares `name`, `forKind` and optionally
 * `owns`, `watches`, `concurrency`, `resyncPeriodMs`, and implements `reconcile`. Informers
 * feed a de-duplicating work queue; `reconcile` gets a copy of the latest cached object for
 * the key (events only trigger), never runs twice at once for one key, is retried with
 * per-key backoff when it throws (not for a TerminalError), and runs again after
 * `requeueAfterMs` when asked. Every object is re-reconciled about one resync period after its
 * last reconcile (see Revisits: per key, so the resync is spread, not a burst).
 */
export abstract class Operator<T extends KubernetesObject> implements ManagedController {
  /** Controller name, for metrics and logs, e.g. "postgresdatabase". */
  abstract readonly name: string;
  /** The kind this controller reconciles. */
  protected abstract readonly forKind: ResourceKind;
  /** Narrows the reconciled kind's watch. */
  protected readonly labelSelector?: string;
  /** Which changes of the reconciled kind enqueue (e.g. not the controller's own status writes); default all. */
  protected readonly forFilter?: EventFilter<T>;
  /** Indexes on the reconciled kind's cache, read with `this.cache.byIndex` (see InformerSource.indexes). */
  protected readonly forIndexes?: Readonly<Record<string, IndexFunc>>;
  /**
   * What the reconciled kind's cache keeps of each object (see WatchSource.retain), e.g. a slim
   * copy (runtime/slim-object.ts); every controller of the kind must share one function object.
   */
  protected readonly forRetain?: (obj: KubernetesObject) => KubernetesObject | undefined;
  /** LIST page size of the reconciled kind (see WatchSource.pageSize); default 500. */
  protected readonly forPageSize?: number;
  /** Kinds this controller creates with a controller ownerReference to its objects (e.g. Secrets). */
  protected readonly owns: readonly WatchSource[] = [];
  /** Other kinds whose changes map to objects of `forKind`. */
  protected readonly watches: readonly MappedWatch[] = [];
  /** Workers; default `deps.maxConcurrentReconciles`, else 1. */
  protected readonly concurrency?: number;
  /** Resync period; default `deps.resyncPeriodMs`, else 5 min; 0 turns resync off. */
  protected readonly resyncPeriodMs?: number;

  /** The REST client, for the subclass's own reads and writes. */
  protected readonly client: KubeClient;
  /** Records Events shown by `kubectl describe`. */
  protected readonly recorder: EventRecorder;

  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  /** Removes this controller's handlers from the (possibly shared) informers. */
  private readonly unregisters: (() => void)[] = [];
  /** The informers this controller made for itself, without a shared cache; stopped with it. */
  private ownCache: InformerCache | undefined;
  private primary: Informer<T> | undefined;
  private queue: WorkQueue | undefined;
  private workers: Promise<void>[] = [];
  private revisits: Revisits | undefined;
  private state: "new" | "starting" | "running" | "stopped" = "new";
  private baseLogger: Logger | undefined;

  constructor(protected readonly deps: OperatorDeps) {
    this.client = deps.client;
    this.recorder = deps.recorder ?? new EventRecorder(deps.client, { logger: deps.logger });
  }

  /**
   * Brings the object to its desired state. Gets a private copy of the latest cached object;
   * return `{ requeueAfterMs }` to run again later; throw to retry with backoff; throw a
   * TerminalError for a failure retrying cannot fix.
   */
  protected abstract reconcile(obj: T, ctx: ReconcileContext): Promise<ReconcileResult>;

  /** Called instead of `reconcile` when the key's object is no longer in the cache (clean up in-memory state). */
  protected onGone(_key: ObjectKey, _ctx: ReconcileContext): void | Promise<void> {}

  /**
   * The group an object's reconciles share the workers with, e.g. the server it lives on: when
   * several groups have keys waiting, the workers are shared fairly between them, so that one
   * whose reconciles hang does not hold up the others (see GroupQueue). Default: one group.
   */
  protected schedulingGroup(_obj: T): string {
    return "";
  }

  /** The controller's logger, with `controller` set. */
  protected get logger(): Logger {
    this.baseLogger ??= this.deps.logger.child({ controller: this.name });
    return this.baseLogger;
  }

  /** The cache of the reconciled kind (read-only, shared objects: clone before changing). */
  protected get cache(): ReadonlyStore<T> {
    return this.primary?.store ?? emptyStore<T>();
  }

  /** The cache of an owned or watched kind (read-only, shared objects). */
  protected cacheOf<O extends KubernetesObject>(source: WatchSource): ReadonlyStore<O> {
    const informer = this.informers.get(informerKey(this.sourceOf(source)));
    if (!informer) throw new Error(`${this.name} does not watch ${source.kind.kind} with these selectors`);
    return informer.store as unknown as ReadonlyStore<O>;
  }

  /** The keys ("namespace/name") of the objects of `kind` that this controller's caches hold now. */
  cachedKeys(kind: ResourceKind): string[] {
    const sameKind = [...this.informers.values()].filter((informer) => informer.kind === kind);
    return [...new Set(sameKind.flatMap((informer) => informer.store.keys()))];
  }

  /** Queues a key for reconcile (e.g. from a subclass's own trigger). */
  protected enqueue(key: ObjectKey): void {
    this.queue?.add(keyString(key));
  }

  /**
   * Starts the informers (the owned ones once the reconciled kind's has synced), waits for their
   * caches to sync, then starts the workers and the resync.
   */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`controller ${this.name} was already started`);
    this.state = "starting";
    const workers = this.concurrency ?? this.deps.maxConcurrentReconciles ?? 1;
    const queue = new WorkQueue({
      name: this.name,
      ...(this.deps.rateLimiter ? { rateLimiter: this.deps.rateLimiter } : {}),
      groupOf: (key) => this.groupOfKey(key),
      // Retries run in lanes of their own: failures that keep failing never take a worker new work needs.
      retryLanes: workers,
    });
    this.queue = queue;
    const enqueue = (key: string): void => queue.add(key);
    this.primary = this.informer<T>(
      {
        kind: this.forKind,
        labelSelector: this.labelSelector,
        indexes: this.forIndexes,
        retain: this.forRetain,
        pageSize: this.forPageSize,
      },
      enqueueFor((obj) => [keyOf(obj)], enqueue, this.forFilter),
    );
    const owned = this.owns.map((source) =>
      this.informer(
        source,
        enqueueFor((obj) => this.ownerKey(obj), enqueue, source.filter),
      ),
    );
    const watched = this.watches.map((source) =>
      this.informer(
        source,
        enqueueFor((obj) => this.mapped(source, obj), enqueue, source.filter),
      ),
    );
    // Owned objects list after the primary cache has synced: what an owned cache keeps may depend
    // on it (a Secret is kept only when the cache holds its owner, see ownedSecretRetainer).
    const watchedSynced = Promise.all(watched.map((informer) => informer.start()));
    // Awaited below; until then (or when the start ends early) its failure must not go unhandled.
    watchedSynced.catch(() => undefined);
    await this.primary.start();
    if (this.state !== "starting") return;
    await Promise.all([...owned.map((informer) => informer.start()), watchedSynced]);
    if (this.state !== "starting") return;
    this.state = "running";
    maxConcurrentReconciles.set({ controller: this.name }, workers);
    activeWorkers.set({ controller: this.name }, 0);
    this.revisits = new Revisits((key) => queue.add(key), {
      periodMs: this.resyncPeriodMs ?? this.deps.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS,
    });
    this.workers = [
      ...Array.from({ length: workers }, () => this.work(queue, () => queue.get())),
      ...Array.from({ length: workers }, () => this.work(queue, () => queue.getRetry())),
    ];
    this.logger.info("Started controller", { workers, kind: this.forKind.kind });
  }

  /** True once every informer of this controller has listed at least once. */
  hasSynced(): boolean {
    return this.informers.size > 0 && [...this.informers.values()].every((informer) => informer.hasSynced());
  }

  /** Stops taking work, waits up to `timeoutMs` for reconciles in flight, then stops the informers. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.revisits?.stop();
    this.queue?.shutDown();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    const finished = await Promise.race([Promise.all(this.workers).then(() => false), timedOut]);
    clearTimeout(timer);
    if (finished) this.logger.warn("Reconciles still running at shutdown", { timeoutMs });
    // Shared informers run on for the other controllers (their owner stops them); own ones stop here.
    for (const unregister of this.unregisters.splice(0)) unregister();
    await this.ownCache?.stop();
    this.logger.info("Stopped controller");
  }

  /** The informer of `source` from the shared (or own) cache, with this controller's handler added. */
  private informer<O extends KubernetesObject>(source: WatchSource, handler: InformerHandler<O>): Informer<O> {
    const wanted = this.sourceOf(source);
    const informer = this.informerCache().informer<O>(wanted);
    this.informers.set(informerKey(wanted), informer);
    this.unregisters.push(informer.addHandler(handler));
    return informer;
  }

  private informerCache(): InformerCache {
    if (this.deps.cache) return this.deps.cache;
    this.ownCache ??= new InformerCache(this.client, {
      logger: this.logger,
      watchTimeoutSeconds: this.deps.watchTimeoutSeconds,
      watchBackoffMaxMs: this.deps.watchBackoffMaxMs,
    });
    return this.ownCache;
  }

  /** What the cache is asked for a watch: the source, in the operator's namespace when it watches one. */
  private sourceOf(source: WatchSource): InformerSource {
    return { ...source, namespace: source.kind.namespaced ? this.deps.namespace : undefined };
  }

  /** The scheduling group of the cached object of `key`; the default group for a key without one. */
  private groupOfKey(key: string): string {
    const cached = this.primary?.store.get(key);
    try {
      return cached ? this.schedulingGroup(cached) : "";
    } catch (err) {
      this.logger.error("Finding the scheduling group failed", { key, error: errorMessage(err) });
      return "";
    }
  }

  /** The reconciled object that controls `obj`, through its controller ownerReference. */
  private ownerKey(obj: KubernetesObject): ObjectKey[] {
    const owner = controllerOf(obj);
    if (!owner || owner.kind !== this.forKind.kind || groupOf(owner.apiVersion) !== this.forKind.group) return [];
    const namespace = obj.metadata?.namespace;
    return [this.forKind.namespaced && namespace ? { namespace, name: owner.name } : { name: owner.name }];
  }

  private mapped(source: MappedWatch, obj: KubernetesObject): readonly ObjectKey[] {
    try {
      return source.map(obj);
    } catch (err) {
      this.logger.error("Mapping a watched object failed", { kind: source.kind.kind, error: errorMessage(err) });
      return [];
    }
  }

  /** A worker (or retry lane): processes the keys `next` hands it until the queue shuts down. */
  private async work(queue: WorkQueue, next: () => Promise<string | undefined>): Promise<void> {
    for (let key = await next(); key !== undefined; key = await next()) {
      try {
        await this.process(queue, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async process(queue: WorkQueue, key: string): Promise<void> {
    const objectKey = parseKey(key);
    const logger = this.logger.child(objectKey);
    const ctx: ReconcileContext = { key: objectKey, logger };
    const cached = this.primary?.store.get(key);
    const labels = { controller: this.name };
    const started = process.hrtime.bigint();
    activeWorkers.inc(labels);
    try {
      if (!cached) {
        this.revisits?.forget(key);
        await this.onGone(objectKey, ctx);
        queue.forget(key);
        reconcileTotal.inc({ ...labels, result: "success" });
        return;
      }
      const result = await this.reconcile(structuredClone(cached), ctx);
      queue.forget(key);
      // The latest reconcile decides when the key is looked at again: a requeue or the resync.
      if (result?.retry) queue.addAfter(key, result.requeueAfterMs, { retry: true });
      this.revisits?.reconciled(key, result?.retry ? undefined : result?.requeueAfterMs);
      if (result && result.requeueAfterMs > 0) {
        reconcileTotal.inc({ ...labels, result: "requeue_after" });
      } else {
        reconcileTotal.inc({ ...labels, result: "success" });
      }
    } catch (err) {
      reconcileErrorsTotal.inc(labels);
      reconcileTotal.inc({ ...labels, result: "error" });
      if (err instanceof TerminalError) {
        terminalReconcileErrorsTotal.inc(labels);
        queue.forget(key);
        this.revisits?.reconciled(key);
        logger.error("Reconcile failed, not retrying", { error: errorMessage(err) });
      } else {
        queue.addRateLimited(key);
        this.revisits?.reconciled(key);
        logger.error("Reconcile failed, retrying", { error: errorMessage(err), retries: queue.retries(key) });
      }
    } finally {
      activeWorkers.dec(labels);
      reconcileTimeSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}

/**
 * A handler that enqueues the keys `keysOf` finds in every version of an object an informer
 * reports, each key once per event: an update whose old and new versions map to the same key
 * must not add it twice, or a worker could take the first add and run it again for the second.
 * Events `filter` holds back enqueue nothing.
 */
function enqueueFor<O extends KubernetesObject>(
  keysOf: (obj: O) => readonly ObjectKey[],
  enqueue: (key: string) => void,
  filter?: EventFilter<O>,
): InformerHandler<O> {
  const add = (...versions: O[]): void => {
    new Set(versions.flatMap((obj) => keysOf(obj).map(keyString))).forEach(enqueue);
  };
  return {
    onAdd: (obj) => {
      if (passes(filter, { type: "add", obj })) add(obj);
    },
    onUpdate: (oldObj, obj) => {
      if (passes(filter, { type: "update", oldObj, obj })) add(oldObj, obj);
    },
    onDelete: (obj) => {
      if (passes(filter, { type: "delete", obj })) add(obj);
    },
  };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
