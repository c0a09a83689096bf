/**
 * The one way both controllers write their conditions: the inputs, `Ready` from the kind's
 * ready types, kstatus's `Stalled`/`Reconciling` from STALLED_REASONS, and heartbeats.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { setConditions, type ConditionInput, type StatusWithConditions } from "../../runtime/conditions.js";
import type { StatusMutator } from "../../runtime/status.js";
import { STALLED_REASONS } from "../stalled-reasons.js";

/**
 * A status mutator that applies `conditions`, then `Ready` from `readyFrom` (left as it is
 * without them) and the kstatus condition that goes with it; an unchanged condition gets a
 * new heartbeat every `heartbeatIntervalMs` (default: the runtime's).
 */
export function conditionsMutator<T extends KubernetesObject>(
  conditions: readonly ConditionInput[],
  readyFrom: readonly string[] | undefined,
  heartbeatIntervalMs: number | undefined,
): StatusMutator<StatusWithConditions, T> {
  return setConditions<T>(conditions, {
    ...(readyFrom ? { readyFrom } : {}),
    stalledReasons: STALLED_REASONS,
    ...(heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs } : {}),
  });
}
