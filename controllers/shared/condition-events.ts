/**
 * The one Events path of both controllers: which conditions changed (and so are worth an
 * Event), which Warnings the status already shows (and so are not repeated), and recording.
 * A condition is news only when it differs both from the status stored before the reconcile
 * and from what this process last saw for the object, so neither a resync, nor a retry, nor a
 * stale cache, nor a restart repeats an Event.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ConditionInput, ConditionRecord } from "../../runtime/conditions.js";
import type { EventRecorder, EventType } from "../../runtime/events.js";
import { InstanceReason } from "../constants.js";

/** An Event to record once the status is written. */
export interface EventNote {
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

/** Remembers, per object, the conditions this process last saw, to tell which ones changed. */
export class ConditionChanges {
  private readonly seen = new Map<string, Map<string, string>>();

  /**
   * The conditions of `after` (the last of each type) that differ from the stored `before` and
   * from what this process saw last for the object `id`; `after` is remembered as seen.
   */
  changed(
    id: string,
    before: readonly ConditionRecord[] | undefined,
    after: readonly ConditionInput[],
  ): ConditionInput[] {
    const memory = this.seen.get(id) ?? new Map<string, string>();
    this.seen.set(id, memory);
    const changed: ConditionInput[] = [];
    for (const condition of lastOfEachType(after)) {
      const now = signature(condition);
      const stored = before?.find((entry) => entry.type === condition.type);
      const last = memory.get(condition.type);
      memory.set(condition.type, now);
      if (now !== last && !(stored && now === signature(stored))) changed.push(condition);
    }
    return changed;
  }

  /**
   * The notes without the Warnings the status already shows: a Warning whose reason and message
   * a condition of `after` carries, when that condition did not change (is not in `changed`).
   */
  withoutShownWarnings(
    notes: readonly EventNote[],
    after: readonly ConditionInput[],
    changed: readonly ConditionInput[],
  ): EventNote[] {
    const shown = lastOfEachType(after).filter((condition) => !changed.includes(condition));
    return notes.filter(
      (note) =>
        note.type !== "Warning" ||
        !shown.some((condition) => condition.reason === note.reason && condition.message === note.message),
    );
  }

  /** Forgets an object that is gone. */
  forget(id: string): void {
    this.seen.delete(id);
  }
}

/**
 * Turns condition changes into Events: a Warning for each new failure, a Normal Event when a
 * condition of `normalTypes` becomes True (for kinds whose Events are their conditions).
 */
export class ConditionAnnouncer {
  readonly changes = new ConditionChanges();

  constructor(
    private readonly recorder: EventRecorder,
    private readonly normalTypes: readonly string[],
  ) {}

  /** Queues Events for the conditions of `obj` that changed from `before` to `after`; returns those that changed. */
  announce(
    obj: KubernetesObject,
    id: string,
    before: readonly ConditionRecord[] | undefined,
    after: readonly ConditionInput[],
  ): ConditionInput[] {
    const changed = this.changes.changed(id, before, after);
    for (const condition of changed) this.record(obj, condition);
    return changed;
  }

  /** Forgets what was announced about an object that is gone. */
  forget(id: string): void {
    this.changes.forget(id);
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

/** The conditions with a later entry of the same type dropped in favour of it, in their order. */
function lastOfEachType(conditions: readonly ConditionInput[]): ConditionInput[] {
  return conditions.filter((condition, index) => !conditions.slice(index + 1).some((c) => c.type === condition.type));
}

function signature(condition: ConditionRecord): string {
  return JSON.stringify([condition.status, condition.reason ?? "", condition.message ?? ""]);
}
