/**
 * Which Events one reconcile of a PostgresDatabase records: one per outcome, worded for what
 * happened. Creation says Provisioned, a repair says what it repaired. (A failure the status
 * already shows is dropped before, by the ConditionChanges both controllers use.)
 */
import { DatabaseReason } from "../constants.js";
import type { EventNote } from "../shared/condition-events.js";

/** What the Events depend on besides the notes of the reconcile. */
export interface EventContext {
  /** Ready has just turned True. */
  readonly becameReady: boolean;
  /** The database's name on the server. */
  readonly database: string;
}

/** Reasons of notes that say an object was created in this reconcile. */
const CREATED: readonly string[] = [DatabaseReason.DatabaseCreated, DatabaseReason.UserCreated];

/**
 * The Events to record for the notes of one reconcile:
 * - a database created and Ready in one go is one Normal "Provisioned" Event, not one per object;
 * - grants "missing" right after a database or role was created are not reported as a repair;
 * - notes with one reason are one Event (two Secrets created: one SecretCreated);
 * - otherwise Ready turning True is a "Ready" Event.
 */
export function eventsToRecord(notes: readonly EventNote[], context: EventContext): EventNote[] {
  const warnings = notes.filter((note) => note.type === "Warning");
  const created = notes.some((note) => CREATED.includes(note.reason));
  const normals = notes.filter(
    (note) => note.type === "Normal" && !(created && note.reason === DatabaseReason.GrantsRepaired),
  );
  if (context.becameReady && normals.some((note) => note.reason === DatabaseReason.DatabaseCreated)) {
    const done = normals.map((note) => lowerFirst(note.message)).join(", ");
    const message = `Provisioned database "${context.database}" and its roles, ready for use: ${done}`;
    return [...warnings, { type: "Normal", reason: DatabaseReason.Provisioned, message }];
  }
  const events = [...warnings, ...onePerReason(normals)];
  if (context.becameReady) {
    events.push({
      type: "Normal",
      reason: DatabaseReason.Ready,
      message: `Database "${context.database}" and its roles are ready`,
    });
  }
  return events;
}

function onePerReason(notes: readonly EventNote[]): EventNote[] {
  const byReason = new Map<string, EventNote>();
  for (const note of notes) {
    const earlier = byReason.get(note.reason);
    byReason.set(note.reason, earlier ? { ...earlier, message: `${earlier.message}; ${note.message}` } : note);
  }
  return [...byReason.values()];
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
