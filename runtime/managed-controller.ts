/** What the Manager needs from a controller: start, report cache sync, stop gracefully. */
export interface ManagedController {
  /** Controller name, used in metric labels and log lines (e.g. "postgresdatabase"). */
  readonly name: string;
  /** Starts informers and workers; resolves once every cache of this controller has synced. */
  start(): Promise<void>;
  /** True once every informer of this controller has listed at least once. */
  hasSynced(): boolean;
  /** Stops taking new work, waits up to `timeoutMs` for reconciles in flight, then stops the informers. */
  stop(timeoutMs: number): Promise<void>;
}
