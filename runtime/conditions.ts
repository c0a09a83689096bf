import type { KubernetesObject } from "@kubernetes/client-node";
import type { StatusMutator } from "./status.js";

/** The status of a condition, as Kubernetes spells it. */
export type ConditionStatus = "True" | "False" | "Unknown";

/** One entry of `status.conditions`, with the original Kompost's `lastHeartbeatTime`. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  /** When `status` last flipped (RFC 3339, seconds). */
  readonly lastTransitionTime: string;
  /** When the condition was last confirmed: on any change, and at most once per heartbeat interval otherwise. */
  readonly lastHeartbeatTime: string;
  readonly observedGeneration?: number;
}

/**
 * A condition as a status may hold it: `setCondition` always writes a whole `Condition`, but a
 * status type generated from a CRD schema (where only type and status are required) is read
 * through this shape, so that no cast is needed between the two.
 */
export interface ConditionRecord {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
  readonly lastHeartbeatTime?: string;
  readonly observedGeneration?: number;
}

/** What a controller says about one condition; the times are filled in by `setCondition`. */
export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** The type of the summary condition computed by `readyCondition`. */
export const READY = "Ready";

/**
 * kstatus's condition (sigs.k8s.io/cli-utils, read by Flux and cli-utils' pollers): True while
 * the controller is still working towards Ready (waiting, retrying); absent otherwise.
 */
export const RECONCILING = "Reconciling";

/** kstatus's condition: True when the object will not become Ready without a change by someone; absent otherwise. */
export const STALLED = "Stalled";

/** How often an unchanged condition's heartbeat is refreshed (and so written) by default. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5 * 60 * 1000;

/** Options of `setCondition` and `setConditions`. */
export interface ConditionOptions {
  /** The clock; defaults to now. */
  readonly now?: Date;
  /** Refresh an unchanged condition's `lastHeartbeatTime` only after this long; default 5 min. */
  readonly heartbeatIntervalMs?: number;
  /** The `metadata.generation` the controller acted on. */
  readonly observedGeneration?: number;
}

/** Formats a time like metav1.Time: RFC 3339 in UTC, whole seconds. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/** The condition of `type`, if present. */
export function findCondition<C extends ConditionRecord>(
  conditions: readonly C[] | undefined,
  type: string,
): C | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/** True when the condition of `type` is present and "True" (any list of conditions, such as a generated status's). */
export function isConditionTrue(
  conditions: readonly Pick<Condition, "type" | "status">[] | undefined,
  type: string,
): boolean {
  return conditions?.find((condition) => condition.type === type)?.status === "True";
}

/**
 * Returns `conditions` with `input` applied. `lastTransitionTime` moves only when the status
 * flips; when nothing changed and the heartbeat interval has not passed, the very same
 * entry is kept, so the status stays deep-equal and nothing is written.
 */
export function setCondition<C extends ConditionRecord = Condition>(
  conditions: readonly C[] | undefined,
  input: ConditionInput,
  options: ConditionOptions = {},
): (C | Condition)[] {
  const now = options.now ?? new Date();
  const stamp = formatTime(now);
  const list: (C | Condition)[] = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === input.type);
  const existing = index < 0 ? undefined : list[index];
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime:
      existing?.status === input.status && existing.lastTransitionTime ? existing.lastTransitionTime : stamp,
    lastHeartbeatTime: stamp,
    ...(options.observedGeneration !== undefined ? { observedGeneration: options.observedGeneration } : {}),
  };
  if (!existing) return [...list, next];
  if (sameContent(existing, next) && !heartbeatDue(existing, now, options.heartbeatIntervalMs)) return list;
  list[index] = next;
  return list;
}

/**
 * The `Ready` condition for `types`: "True" when every one of them is "True", else "False"
 * with the reason and message of the first that is not.
 */
export function readyCondition(
  conditions: readonly ConditionRecord[] | undefined,
  types: readonly string[],
): ConditionInput {
  for (const type of types) {
    const condition = findCondition(conditions, type);
    if (!condition) {
      return { type: READY, status: "False", reason: "Reconciling", message: `${type} is not known yet` };
    }
    if (condition.status !== "True") {
      return { type: READY, status: "False", reason: condition.reason ?? "", message: condition.message ?? "" };
    }
  }
  return { type: READY, status: "True", reason: "Ready", message: "All conditions are met" };
}

/** The part of a status that `setConditions` manages. */
export interface StatusWithConditions {
  conditions?: ConditionRecord[];
}

/**
 * The kstatus conditions that go with the `Ready` condition of `conditions`: none while Ready is
 * True (or absent); else `Stalled` True when Ready's reason (the first failing condition's) is
 * one of `stalledReasons`, else `Reconciling` True; each with Ready's reason and message.
 */
export function kstatusCondition(
  conditions: readonly ConditionRecord[] | undefined,
  stalledReasons: ReadonlySet<string>,
): ConditionInput | undefined {
  const ready = findCondition(conditions, READY);
  if (!ready || ready.status === "True") return undefined;
  const reason = ready.reason ?? "";
  const type = stalledReasons.has(reason) ? STALLED : RECONCILING;
  return { type, status: "True", reason, message: ready.message ?? "" };
}

/** Options of `setConditions`. */
export interface SetConditionsOptions extends Omit<ConditionOptions, "observedGeneration"> {
  /** The types whose conjunction is `Ready`; without it, `Ready` is whatever the inputs say. */
  readonly readyFrom?: readonly string[];
  /**
   * Ready's reasons that only a change by someone fixes (kstatus's `Stalled`); when given, the
   * mutator also keeps `Reconciling` and `Stalled` in line with `Ready` (see `kstatusCondition`).
   */
  readonly stalledReasons?: ReadonlySet<string>;
}

/**
 * A status mutator that applies `inputs` and, when `readyFrom` is given, the `Ready`
 * condition computed from those types, then the kstatus conditions when `stalledReasons` is
 * given; every entry records the object's generation.
 */
export function setConditions<T extends KubernetesObject>(
  inputs: readonly ConditionInput[],
  options: SetConditionsOptions = {},
): StatusMutator<StatusWithConditions, T> {
  return (status, obj) => {
    const now = options.now ?? new Date();
    const conditionOptions = { ...options, now, observedGeneration: obj.metadata?.generation };
    let conditions = status.conditions;
    for (const input of inputs) conditions = setCondition(conditions, input, conditionOptions);
    if (options.readyFrom) {
      conditions = setCondition(conditions, readyCondition(conditions, options.readyFrom), conditionOptions);
    }
    if (options.stalledReasons) {
      conditions = withKstatusCondition(conditions, options.stalledReasons, conditionOptions);
    }
    if (conditions !== undefined) status.conditions = conditions;
  };
}

/** `conditions` with the kstatus condition that applies now, and without the one that does not (or both, once Ready). */
function withKstatusCondition(
  conditions: readonly ConditionRecord[] | undefined,
  stalledReasons: ReadonlySet<string>,
  options: ConditionOptions,
): ConditionRecord[] | undefined {
  const progress = kstatusCondition(conditions, stalledReasons);
  // kstatus reads the first of them that is True, so never both; a False one would only be noise.
  const others = conditions?.filter(
    (condition) => (condition.type !== RECONCILING && condition.type !== STALLED) || condition.type === progress?.type,
  );
  return progress ? setCondition(others, progress, options) : others;
}

function sameContent(a: ConditionRecord, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration
  );
}

function heartbeatDue(condition: ConditionRecord, now: Date, intervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS): boolean {
  const last = Date.parse(condition.lastHeartbeatTime ?? "");
  return Number.isNaN(last) || now.getTime() - last >= intervalMs;
}
