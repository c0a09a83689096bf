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
 * `lastTimestamp` of the earlier Event instead of creating another. Recording never throws:
 * a failure is logged, since an Event must never fail a reconcile.
 */
export class EventRecorder {
  private readonly component: string;
  private readonly instance: string;
  private readonly windowMs: number;
  private readonly recorded = new Map<string, Recorded>();
  private readonly pending = new Map<string, Promise<void>>();
  private sequence = 0n;

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.component = options.component ?? "kompost";
    this.instance = options.instance ?? os.hostname();
    this.windowMs = options.aggregationWindowMs ?? 10 * 60 * 1000;
  }

  /** Records an Event about `obj`; resolves when written (or when writing failed and was logged), never rejects. */
  event(obj: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const text = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message;
    const key = JSON.stringify([
      obj.metadata?.uid,
      obj.kind,
      obj.metadata?.namespace,
      obj.metadata?.name,
      type,
      reason,
      text,
    ]);
    // One at a time per key, so two quick repeats do not both create an Event.
    const previous = this.pending.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.record(key, obj, type, reason, text));
    this.pending.set(key, next);
    void next.finally(() => {
      if (this.pending.get(key) === next) this.pending.delete(key);
    });
    return next;
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
