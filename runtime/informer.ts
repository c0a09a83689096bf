import type { KubernetesObject } from "@kubernetes/client-node";
import { Backoff, sleep } from "./backoff.js";
import { ObjectStore, type IndexFunc, type ReadonlyStore } from "./cache.js";
import { ApiError, errorMessage, isGone } from "./errors.js";
import type { KubeClient, Projection, Selectors, WatchEvent } from "./kube-client.js";
import type { Logger } from "./logger.js";
import { apiVersionOf, keyOf, keyString, type ResourceKind } from "./resource-kind.js";

/** Callbacks of an informer; they run synchronously, must not throw (a throw is logged) and must not mutate objects. */
export interface InformerHandler<T extends KubernetesObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  /** Gets the last known state of the deleted object. */
  onDelete?(obj: T): void;
}

/** Options of an informer. */
export interface InformerOptions extends Selectors, Projection {
  readonly logger: Logger;
  /** Base of the server-side watch timeout; each watch uses between 1× and 2× this (jitter). Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /** Retry delays after a failure: from `backoffInitialMs` (1 s) doubling to `backoffMaxMs` (30 s). */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** A watch with no byte (not even a bookmark) for its timeout plus this margin is restarted; default 30 s. */
  readonly idleMarginSeconds?: number;
  /** LIST page size; default 500. */
  readonly pageSize?: number;
  /**
   * What to cache of each listed or watched object: the object (or a slimmer copy) to keep,
   * or undefined to drop it before it is stored, as if it did not exist. Handlers only ever
   * see kept objects; one that stops being kept is reported as deleted. Default: keep all.
   */
  readonly retain?: (obj: KubernetesObject) => KubernetesObject | undefined;
}

/** A watch that ends normally sooner than this without any event counts as a failure, to avoid a hot loop. */
const MIN_HEALTHY_WATCH_MS = 1000;

/**
 * Keeps a local cache of one kind in step with the API server and tells handlers what
 * changed: LIST, then WATCH from the list's resourceVersion with bookmarks; re-watch from
 * the last seen resourceVersion when a watch ends; relist on 410 Gone (synthesising deletes
 * for objects that vanished meanwhile); back off and retry on any other failure, forever.
 */
export class Informer<T extends KubernetesObject> {
  private readonly objects = new ObjectStore<T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private readonly logger: Logger;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private pageSize: number;

  constructor(
    private readonly client: KubeClient,
    /** The kind this informer watches. */
    readonly kind: ResourceKind,
    private readonly options: InformerOptions,
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.backoff = new Backoff(options.backoffInitialMs ?? 1000, options.backoffMaxMs ?? 30_000);
    this.logger = options.logger.child({
      informer: kind.kind,
      ...(options.namespace ? { watchNamespace: options.namespace } : {}),
    });
  }

  /** The local cache. */
  get store(): ReadonlyStore<T> {
    return this.objects;
  }

  /**
   * Registers callbacks and returns the function that removes them. A handler added after the
   * cache filled first gets every cached object as an add (as client-go's shared informers do),
   * so that it sees the same adds whether it came first or last.
   */
  addHandler(handler: InformerHandler<T>): () => void {
    this.handlers.push(handler);
    for (const obj of this.objects.list()) this.call(handler, (h) => h.onAdd?.(obj));
    return () => {
      const at = this.handlers.indexOf(handler);
      if (at >= 0) this.handlers.splice(at, 1);
    };
  }

  /** Adds an index to the cache (see ObjectStore.addIndex); read it with `store.byIndex`. */
  addIndex(name: string, indexFunc: IndexFunc): void {
    this.objects.addIndex(name, indexFunc);
  }

  /** Lists in pages of at most `size` from the next LIST on (the smallest page any user of a shared informer asked for). */
  limitPageSize(size: number): void {
    this.pageSize = Math.min(this.pageSize, size);
  }

  /** True once the first LIST has filled the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Starts listing and watching in the background; resolves once the cache has synced (or the informer was stopped). */
  start(): Promise<void> {
    if (!this.loop) this.loop = this.run();
    return this.waitForSync();
  }

  /** Ends the watch and waits for the background loop to exit. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.releaseSyncWaiters();
    await this.loop;
  }

  private waitForSync(): Promise<void> {
    if (this.synced || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private releaseSyncWaiters(): void {
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // undefined: the cache must be (re)filled by a LIST before watching.
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.relist();
          this.backoff.reset();
          if (!this.synced) {
            this.synced = true;
            this.releaseSyncWaiters();
            this.logger.debug("Synced cache", { objects: this.objects.size });
          }
        }
        const started = Date.now();
        let events = 0;
        const timeoutSeconds = this.watchTimeoutSeconds();
        const idleTimeoutMs = (timeoutSeconds + (this.options.idleMarginSeconds ?? 30)) * 1000;
        await this.client.watch(
          this.kind,
          {
            ...this.selectors(),
            metadataOnly: this.options.metadataOnly,
            resourceVersion,
            timeoutSeconds,
            idleTimeoutMs,
            signal,
          },
          (event) => {
            events++;
            resourceVersion = this.apply(event) ?? resourceVersion;
          },
        );
        if (events === 0 && Date.now() - started < MIN_HEALTHY_WATCH_MS && !signal.aborted) {
          throw new Error("watch ended at once without any event");
        }
        this.backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.logger.info("Watch expired, relisting", { resourceVersion, error: errorMessage(err) });
          resourceVersion = undefined;
        } else {
          const delayMs = this.backoff.next();
          this.logger.warn("Watch failed, retrying", { error: errorMessage(err), retryInMs: delayMs });
          await sleep(delayMs, signal);
        }
      }
    }
  }

  /** Lists every page and replaces the cache, telling handlers what changed; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    // Only kept objects stay in memory, page by page: dropped ones never pile up while listing.
    const items: T[] = [];
    let page: string | undefined;
    let resourceVersion: string;
    do {
      const result = await this.client.list<T>(this.kind, {
        ...this.selectors(),
        metadataOnly: this.options.metadataOnly,
        limit: this.pageSize,
        signal: this.abort.signal,
        ...(page ? { continue: page } : {}),
      });
      for (const item of result.items) {
        const kept = this.retained(item);
        if (kept) items.push(kept);
      }
      resourceVersion = result.resourceVersion;
      page = result.continue;
    } while (page);
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyString(keyOf(obj));
      seen.add(key);
      const previous = this.objects.set(obj);
      if (!previous) this.emit((h) => h.onAdd?.(obj));
      else if (previous.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.emit((h) => h.onUpdate?.(previous, obj));
      }
    }
    for (const key of this.objects.keys()) {
      if (seen.has(key)) continue;
      const gone = this.objects.delete(key)!;
      this.emit((h) => h.onDelete?.(gone));
    }
    return resourceVersion;
  }

  /** Applies one watch event to the cache; returns the resourceVersion it carries. Throws on an ERROR event. */
  private apply(event: WatchEvent): string | undefined {
    if (event.type === "ERROR") {
      const status = event.object;
      throw new ApiError(
        `watch of ${this.kind.kind}: ${status.code ?? 0} ${status.reason ?? "error"}: ${status.message ?? ""}`,
        status.code ?? 500,
        status.reason ?? "",
      );
    }
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (event.type === "BOOKMARK") return resourceVersion;
    const key = keyString(keyOf(event.object));
    const obj = this.retained(event.object as T);
    if (event.type === "DELETED" || !obj) {
      // Also an object that is no longer kept: for the cache and the handlers, it is gone.
      const previous = this.objects.delete(key);
      const last = obj?.metadata ? obj : previous;
      if (last) this.emit((h) => h.onDelete?.(last));
    } else {
      const previous = this.objects.set(obj);
      if (previous) this.emit((h) => h.onUpdate?.(previous, obj));
      else this.emit((h) => h.onAdd?.(obj));
    }
    return resourceVersion;
  }

  /** The stamped object as the cache keeps it (see `retain`); undefined when it is not kept. */
  private retained(item: T): T | undefined {
    const obj = this.stamp(item);
    return this.options.retain ? (this.options.retain(obj) as T | undefined) : obj;
  }

  private emit(call: (handler: InformerHandler<T>) => void): void {
    // A copy: a handler may remove itself (or another) while being called.
    for (const handler of [...this.handlers]) this.call(handler, call);
  }

  private call(handler: InformerHandler<T>, call: (handler: InformerHandler<T>) => void): void {
    try {
      call(handler);
    } catch (err) {
      this.logger.error("Informer handler failed", { error: errorMessage(err) });
    }
  }

  /**
   * LIST items come without apiVersion and kind; set them so every cached object is self-describing.
   * With metadataOnly, the object is the watched kind's, but holds nothing besides its metadata.
   */
  private stamp(obj: T): T {
    obj.apiVersion = apiVersionOf(this.kind);
    obj.kind = this.kind.kind;
    return obj;
  }

  private selectors(): Selectors {
    const { namespace, labelSelector, fieldSelector } = this.options;
    return { namespace, labelSelector, fieldSelector };
  }

  private watchTimeoutSeconds(): number {
    const base = this.options.watchTimeoutSeconds ?? 300;
    return Math.round(base * (1 + Math.random()));
  }
}
