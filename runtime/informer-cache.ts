import type { KubernetesObject } from "@kubernetes/client-node";
import type { IndexFunc } from "./cache.js";
import { Informer } from "./informer.js";
import type { KubeClient, Selectors } from "./kube-client.js";
import type { Logger } from "./logger.js";
import type { ResourceKind } from "./resource-kind.js";

/** What a controller asks the cache for: one kind, narrowed and projected, and the indexes it reads. */
export interface InformerSource extends Selectors {
  readonly kind: ResourceKind;
  /** List and watch only metadata (see Projection). */
  readonly metadataOnly?: boolean;
  /** What the cache keeps of each object (see InformerOptions.retain); part of the informer's identity. */
  readonly retain?: (obj: KubernetesObject) => KubernetesObject | undefined;
  /** LIST page size; an informer several sources share lists with the smallest one asked for. Default 500. */
  readonly pageSize?: number;
  /** Indexes the source reads with `store.byIndex`, by name; one name means one function on one informer. */
  readonly indexes?: Readonly<Record<string, IndexFunc>>;
}

/** Settings of every informer of a cache. */
export interface InformerCacheOptions {
  readonly logger: Logger;
  /** Base of the server-side watch timeout (see InformerOptions); default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /** Longest delay between watch retries; default 30 s. */
  readonly watchBackoffMaxMs?: number;
}

/**
 * The informers of a process, one per (kind, namespace, selectors, projection, retain), shared by
 * every controller that asks for the same, like controller-runtime's manager cache: a kind three
 * controllers read is listed and watched once. Each user adds its own handlers to the shared
 * informer. An informer starts when the first user starts it and runs until `stop`, which the
 * owner of the cache calls once no controller uses it any more (the Manager, after every controller).
 */
export class InformerCache {
  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerCacheOptions,
  ) {}

  /**
   * The informer for `source`, made on first request, with the source's indexes added. Two
   * sources that differ in `retain` get informers of their own: a union would keep for one
   * controller what the other must not hold (e.g. Secrets it does not own), so share a retain
   * by defining it once (one function object), not by writing it twice.
   */
  informer<T extends KubernetesObject>(source: InformerSource): Informer<T> {
    if (this.stopped) throw new Error(`while watching ${source.kind.kind}: the informer cache was stopped`);
    const key = informerKey(source);
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<KubernetesObject>(this.client, source.kind, {
        logger: this.options.logger,
        namespace: source.kind.namespaced ? source.namespace : undefined,
        labelSelector: source.labelSelector,
        fieldSelector: source.fieldSelector,
        metadataOnly: source.metadataOnly,
        retain: source.retain,
        pageSize: source.pageSize,
        watchTimeoutSeconds: this.options.watchTimeoutSeconds,
        backoffMaxMs: this.options.watchBackoffMaxMs,
      });
      this.informers.set(key, informer);
    } else if (source.pageSize !== undefined) {
      informer.limitPageSize(source.pageSize);
    }
    for (const [name, indexFunc] of Object.entries(source.indexes ?? {})) informer.addIndex(name, indexFunc);
    return informer as unknown as Informer<T>;
  }

  /** How many informers (list+watch loops) the cache holds. */
  get size(): number {
    return this.informers.size;
  }

  /** The keys ("namespace/name") of the objects of `kind` that any informer of the cache holds now. */
  cachedKeys(kind: ResourceKind): string[] {
    return [...new Set(this.informersOf(kind).flatMap((informer) => informer.store.keys()))];
  }

  /** Every object of `kind` that the informers of the cache hold now, once per informer holding it, as cached. */
  cachedObjects(kind: ResourceKind): KubernetesObject[] {
    return this.informersOf(kind).flatMap((informer) => informer.store.list());
  }

  private informersOf(kind: ResourceKind): Informer<KubernetesObject>[] {
    return [...this.informers.values()].filter(
      (informer) => informer.kind.group === kind.group && informer.kind.plural === kind.plural,
    );
  }

  /** Stops every informer and waits for their loops to end; the cache makes no new ones after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }
}

/** One id per retain function, so that sources differing only in what they retain get informers of their own. */
const retainIds = new WeakMap<NonNullable<InformerSource["retain"]>, number>();
let lastRetainId = 0;

function retainId(retain: InformerSource["retain"]): number {
  if (!retain) return 0;
  let id = retainIds.get(retain);
  if (id === undefined) retainIds.set(retain, (id = ++lastRetainId));
  return id;
}

/** The identity of the informer a source needs. */
export function informerKey(source: InformerSource): string {
  const { group, version, plural, namespaced } = source.kind;
  const namespace = namespaced ? (source.namespace ?? "") : "";
  const projection = source.metadataOnly ? "metadata" : "object";
  const selectors = [source.labelSelector ?? "", source.fieldSelector ?? ""];
  return JSON.stringify([group, version, plural, namespace, ...selectors, projection, retainId(source.retain)]);
}
