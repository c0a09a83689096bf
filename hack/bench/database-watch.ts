/** Follows every PostgresDatabase of a namespace through one watch: which are Ready, since when, and Ready flaps. */
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { isConditionTrue, READY } from "../../runtime/conditions.js";

/** What the watch has seen. */
export class DatabaseWatch {
  /** Name → whether Ready is True right now. */
  readonly ready = new Map<string, boolean>();
  /** Name → when (ms since the epoch) the watch first saw it Ready. */
  readonly firstReady = new Map<string, number>();
  /** How often a database went from Ready True to anything else. */
  flaps = 0;
  private waiters: (() => void)[] = [];
  private abort: AbortController | undefined;
  private stopped = false;

  private constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {}

  /** Opens the watch (it starts with every existing PostgresDatabase) and keeps it open until stop(). */
  static async start(kubeConfig: KubeConfig, namespace: string): Promise<DatabaseWatch> {
    const watch = new DatabaseWatch(kubeConfig, namespace);
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

  /** How many databases are Ready right now. */
  get readyCount(): number {
    return [...this.ready.values()].filter(Boolean).length;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async open(): Promise<void> {
    const apiPath = `/apis/kompost.chuge.li/v1alpha1/namespaces/${this.namespace}/postgresdatabases`;
    this.abort = await new Watch(this.kubeConfig).watch(
      apiPath,
      { allowWatchBookmarks: false },
      (type, object: PostgresDatabase) => this.onEvent(type, object),
      () => {
        // The API server ends watches after a while: open a new one (it lists every object again as ADDED).
        if (!this.stopped) void this.open();
      },
    );
  }

  private onEvent(type: string, db: PostgresDatabase): void {
    const name = db.metadata?.name ?? "";
    const wasReady = this.ready.get(name) ?? false;
    if (type === "DELETED") this.ready.delete(name);
    else {
      const isReady = isConditionTrue(db.status?.conditions, READY);
      if (wasReady && !isReady) this.flaps++;
      if (isReady && !this.firstReady.has(name)) this.firstReady.set(name, Date.now());
      this.ready.set(name, isReady);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
