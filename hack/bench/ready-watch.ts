/**
 * Follows every object of one resource in a namespace through one watch: which are ready (by the
 * resource's own readiness test), since when, and flaps from ready to not.
 */
import { type KubeConfig, type KubernetesObject, Watch } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { isConditionTrue, READY } from "../../runtime/conditions.js";

/** Whether an object of the watched resource counts as ready. */
export type Readiness = (object: KubernetesObject & { status?: unknown }) => boolean;

/** Kompost's PostgresDatabases: ready when their Ready condition is True. */
export const POSTGRES_DATABASES = {
  path: (namespace: string) => `/apis/kompost.chuge.li/v1alpha1/namespaces/${namespace}/postgresdatabases`,
  isReady: ((db: PostgresDatabase) => isConditionTrue(db.status?.conditions, READY)) as Readiness,
};

/** What the watch has seen. */
export class ReadyWatch {
  /** Name → whether it is ready right now. */
  readonly ready = new Map<string, boolean>();
  /** Name → when (ms since the epoch) the watch first saw it ready. */
  readonly firstReady = new Map<string, number>();
  /** How often an object went from ready to not ready. */
  flaps = 0;
  private waiters: (() => void)[] = [];
  private abort: AbortController | undefined;
  private stopped = false;

  private constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly apiPath: string,
    private readonly isReady: Readiness,
  ) {}

  /** Opens a watch on `apiPath` (it starts with every existing object) and keeps it open until stop(). */
  static async start(kubeConfig: KubeConfig, apiPath: string, isReady: Readiness): Promise<ReadyWatch> {
    const watch = new ReadyWatch(kubeConfig, apiPath, isReady);
    await watch.open();
    return watch;
  }

  /** Resolves once `condition` holds, checked after every event; fails after timeoutMs saying `what`. */
  async until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  }

  /** How many objects are ready right now. */
  get readyCount(): number {
    return [...this.ready.values()].filter(Boolean).length;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async open(): Promise<void> {
    this.abort = await new Watch(this.kubeConfig).watch(
      this.apiPath,
      { allowWatchBookmarks: false },
      (type, object: KubernetesObject) => this.onEvent(type, object),
      () => {
        // The API server ends watches after a while: open a new one (it lists every object again as ADDED).
        if (!this.stopped) void this.open();
      },
    );
  }

  private onEvent(type: string, object: KubernetesObject): void {
    const name = object.metadata?.name ?? "";
    const wasReady = this.ready.get(name) ?? false;
    if (type === "DELETED") this.ready.delete(name);
    else {
      const isReady = this.isReady(object);
      if (wasReady && !isReady) this.flaps++;
      if (isReady && !this.firstReady.has(name)) this.firstReady.set(name, Date.now());
      this.ready.set(name, isReady);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
