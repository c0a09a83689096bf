/**
 * When a role's password is replaced by a new one: when the rotate-password token of its
 * resource differs from the one its Secret's password was made for, or when the password is
 * older than the rotation period. Pure decisions on the values passed in; the clock is the caller's.
 */

/** Why a new password is due; undefined when the current one stays. */
export type RotationCause = "token" | "schedule";

/** What the rotation decision looks at for one role. */
export interface RotationInput {
  /** The resource's rotate-password annotation (undefined when not set). */
  readonly requestedToken: string | undefined;
  /** The token the Secret's current password was made for (undefined when none). */
  readonly appliedToken: string | undefined;
  /** The rotation period in milliseconds; undefined for no schedule. */
  readonly periodMs: number | undefined;
  /** When the current password was set (ms since the epoch); undefined when unknown. */
  readonly setAtMs: number | undefined;
  readonly nowMs: number;
}

/** What the decision says: why to rotate now (if at all), and when the schedule falls due next. */
export interface RotationDecision {
  readonly cause?: RotationCause;
  /** When the schedule next falls due (ms since the epoch), counted from now after a rotation. */
  readonly nextDueMs?: number;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a rotation period such as "90d", "12h" or "30m"; throws for anything else, saying what to write. */
export function rotationPeriodMs(text: string): number {
  const match = /^([1-9][0-9]{0,5})([mhd])$/.exec(text);
  if (!match) {
    throw new Error(`passwordRotation.every "${text}" is not a period: write a number and m, h or d, e.g. 90d`);
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Decides whether the role gets a new password now, and when the schedule falls due next. */
export function decideRotation(input: RotationInput): RotationDecision {
  const { requestedToken, appliedToken, periodMs, setAtMs, nowMs } = input;
  const cause: RotationCause | undefined =
    requestedToken !== undefined && requestedToken !== appliedToken
      ? "token"
      : periodMs !== undefined && setAtMs !== undefined && setAtMs + periodMs <= nowMs
        ? "schedule"
        : undefined;
  if (periodMs === undefined) return cause ? { cause } : {};
  const from = cause !== undefined ? nowMs : (setAtMs ?? nowMs);
  return { ...(cause ? { cause } : {}), nextDueMs: from + periodMs };
}
