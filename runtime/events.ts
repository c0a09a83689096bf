import os from "node:os";
import type { CoreV1Event, KubernetesObject } from "@kubernetes/client-node";
import { formatTime } from "./conditions.js";
import { errorMessage, isNotFound } from "./errors.js";
import type { KubeClient } from "./kube-client.js";
import type { Logger } from "./logger.js";
import { eventKind } from "./resource-kind.js";

/** The type of an Event: "Warning" for failures, "Normal" for everything else. */
export type EventType = "Normal" | "Warning";

/** Options of an event recorder. */
export interface EventRecorderOptions {
  readonly logger: Logger;
  /** `source.component` and `reportingComponent`; default "kompost". */
  readonly component?: string;
  /** `reportingInstance`; default the host name (the pod name in a cluster). */
  readonly instance?: string;
  /** Repeats of the same event within this window bump `count` on one Event; default 10 min. */
  readonly aggregationWindowMs?: number;
  /** Events waiting to be written at most; past this, new ones are dropped and logged. Default 1000. */
  readonly maxQueued?: number;
}

/** One Event waiting to be written. */
interface Queued {
  readonly key: string;
  readonly obj: KubernetesObject;
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

/** A core/v1 Event as sent: times as RFC 3339 strings, like the server stores them. */
type EventBody = Omit<CoreV1Event, "firstTimestamp" | "lastTimestamp"> & {
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
};

interface Recorded {
  readonly namespace: string;
  readonly name: string;
  count: number;
  lastSeen: number;
}

/** The longest message Kubernetes keeps in an Event (events.k8s.io limit), in characters. */
const MAX_MESSAGE_LENGTH = 1024;
/** Past this many remembered events, those outside the window are forgotten. */
const MAX_REMEMBERED = 4096;

/**
 * Records core/v1 Events about objects, so they show in `kubectl describe`. A repeat of the
 * same (object, type, reason, message) within the aggregation window increments `count` and
 * `lastTimestamp` of the earlier Event instead of creating another. Recording never blocks and
 * never throws: `event` queues the Event (a bounded queue, written one at a time in the
 * background) and returns; a failure or a full queue is logged, since an Event must never
 * delay or fail a reconcile.
 */
export class EventRecorder {
  private readonly component: string;
  private readonly instance: string;
  private readonly windowMs: number;
  private readonly maxQueued: number;
  private readonly recorded = new Map<string, Recorded>();
  private readonly queue: Queued[] = [];
  /** The background writer while it runs; it ends when the queue is empty. */
  private writing: Promise<void> | undefined;
  private dropped = 0;
  private sequence = 0n;

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.component = options.component ?? "kompost";
    this.instance = options.instance ?? os.hostname();
    this.windowMs = options.aggregationWindowMs ?? 10 * 60 * 1000;
    this.maxQueued = options.maxQueued ?? 1000;
  }

  /** Queues an Event about `obj` and returns at once; it is written in the background (see `flush`). */
  event(obj: KubernetesObject, type: EventType, reason: string, message: string): void {
    const text = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message;
    if (this.queue.length >= this.maxQueued) {
      // Logged once per run of drops, so a flood of Events does not become a flood of log lines.
      if (this.dropped++ === 0) {
        this.options.logger.warn("Dropped events: too many waiting to be written", {
          maxQueued: this.maxQueued,
          kind: obj.kind,
          namespace: obj.metadata?.namespace,
          name: obj.metadata?.name,
          reason,
        });
      }
      return;
    }
    const key = JSON.stringify([
      obj.metadata?.uid,
      obj.kind,
      obj.metadata?.namespace,
      obj.metadata?.name,
      type,
      reason,
      text,
    ]);
    this.queue.push({ key, obj, type, reason, message: text });
    this.writing ??= this.writeQueued();
  }

  /**
   * Resolves once every Event queued so far is written (or failed and was logged), or after
   * `timeoutMs` when given (at shutdown, an unreachable API server must not hold the exit).
   */
  async flush(timeoutMs?: number): Promise<void> {
    const drained = (async () => {
      while (this.writing) await this.writing;
    })();
    if (timeoutMs === undefined) return drained;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([drained, timedOut]);
    clearTimeout(timer);
  }

  /** Writes queued Events one at a time (so two quick repeats aggregate into one Event) until none is left. */
  private async writeQueued(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      await this.record(next.key, next.obj, next.type, next.reason, next.message);
    }
    if (this.dropped > 0) this.options.logger.warn("Dropped events", { count: this.dropped });
    this.dropped = 0;
    this.writing = undefined;
  }

  private async record(
    key: string,
    obj: KubernetesObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = Date.now();
    try {
      const seen = this.recorded.get(key);
      if (seen && now - seen.lastSeen < this.windowMs && (await this.bump(seen, now))) return;
      const created = await this.client.create<EventBody>(eventKind, this.newEvent(obj, type, reason, message, now));
      this.remember(key, {
        namespace: created.metadata.namespace ?? "",
        name: created.metadata.name ?? "",
        count: 1,
        lastSeen: now,
      });
    } catch (err) {
      this.options.logger.warn("Failed to record event", {
        namespace: obj.metadata?.namespace,
        name: obj.metadata?.name,
        kind: obj.kind,
        reason,
        error: errorMessage(err),
      });
    }
  }

  /** Increments the count of an earlier Event; false when it no longer exists. */
  private async bump(seen: Recorded, now: number): Promise<boolean> {
    try {
      await this.client.patch(
        eventKind,
        { namespace: seen.namespace, name: seen.name },
        { count: seen.count + 1, lastTimestamp: formatTime(new Date(now)) },
      );
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    seen.count++;
    seen.lastSeen = now;
    return true;
  }

  private newEvent(obj: KubernetesObject, type: EventType, reason: string, message: string, now: number): EventBody {
    const { name = "", namespace, uid, resourceVersion } = obj.metadata ?? {};
    const stamp = formatTime(new Date(now));
    return {
      apiVersion: "v1",
      kind: "Event",
      // Like client-go: the object's name and a unique hex suffix from the clock.
      metadata: { name: `${name}.${this.uniqueSuffix(now)}`, namespace: namespace ?? "default" },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name, namespace, uid, resourceVersion },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
    };
  }

  private uniqueSuffix(now: number): string {
    this.sequence = (this.sequence + 1n) % 1_000_000n;
    return (BigInt(now) * 1_000_000n + this.sequence).toString(16);
  }

  private remember(key: string, entry: Recorded): void {
    this.recorded.set(key, entry);
    if (this.recorded.size <= MAX_REMEMBERED) return;
    for (const [old, seen] of this.recorded) {
      if (entry.lastSeen - seen.lastSeen >= this.windowMs) this.recorded.delete(old);
    }
  }
}
