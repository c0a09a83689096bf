import type { KubernetesObject } from "@kubernetes/client-node";
import type { ConditionInput } from "../../runtime/conditions.js";
import type { EventRecorder } from "../../runtime/events.js";
import { InstanceReason } from "../constants.js";

/** A condition as it was stored before, as far as the announcer cares. */
interface StoredCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/**
 * Turns condition changes into Events: a Warning for each new failure, a Normal Event when a
 * condition of `normalTypes` becomes True. A condition is announced only when it differs both
 * from the stored status the reconcile started from and from what this process last
 * announced, so neither a resync nor a stale cache nor a restart repeats an Event.
 */
export class ConditionAnnouncer {
  private readonly announced = new Map<string, Map<string, string>>();

  constructor(
    private readonly recorder: EventRecorder,
    private readonly normalTypes: readonly string[],
  ) {}

  /** Queues Events for the conditions of `obj` that changed from `before` to `after`; returns those it announced. */
  announce(
    obj: KubernetesObject,
    id: string,
    before: readonly StoredCondition[] | undefined,
    after: readonly ConditionInput[],
  ): ConditionInput[] {
    const changed: ConditionInput[] = [];
    const memory = this.announced.get(id) ?? new Map<string, string>();
    this.announced.set(id, memory);
    for (const condition of after) {
      const now = signature(condition);
      const stored = before?.find((entry) => entry.type === condition.type);
      const seen = memory.get(condition.type);
      memory.set(condition.type, now);
      if (now === seen || (stored && now === signature(stored))) continue;
      changed.push(condition);
      this.record(obj, condition);
    }
    return changed;
  }

  /** Forgets what was announced about an object that is gone. */
  forget(id: string): void {
    this.announced.delete(id);
  }

  /** Queues the Event (the recorder writes it in the background: announcing never delays a reconcile). */
  private record(obj: KubernetesObject, condition: ConditionInput): void {
    const failed =
      condition.status === "False" ||
      (condition.status === "Unknown" && condition.reason !== InstanceReason.NotChecked);
    if (failed) this.recorder.event(obj, "Warning", condition.reason, condition.message);
    else if (condition.status === "True" && this.normalTypes.includes(condition.type)) {
      this.recorder.event(obj, "Normal", condition.reason, condition.message);
    }
  }
}

function signature(condition: StoredCondition): string {
  return JSON.stringify([condition.status, condition.reason ?? "", condition.message ?? ""]);
}
