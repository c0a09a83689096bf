/**
 * What one reconcile found and did, collected as it goes: condition inputs for the
 * status, and Events to record afterwards. Status goes out through one function.
 */
import type { DatabaseUser, PostgresDatabase, PostgresDatabaseStatus } from "../../api/v1alpha1/index.js";
import { type ConditionInput, isConditionTrue, READY } from "../../runtime/conditions.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import type { Logger } from "../../runtime/logger.js";
import { updateStatus, type StatusMutator } from "../../runtime/status.js";
import type { RoleKind, SqlNames } from "../../services/postgres/naming.js";
import type { InstalledExtension } from "../../services/postgres/objects/extensions.js";
import { connectionSecretName } from "../../services/secrets/connection-details.js";
import { DATABASE_READY_CONDITIONS } from "../constants.js";
import { keyOf, keyString } from "../../runtime/resource-kind.js";
import type { ConditionChanges, EventNote } from "../shared/condition-events.js";
import { eventsToRecord } from "./event-notes.js";
import { conditionsMutator } from "../shared/status-conditions.js";
import { PostgresDatabaseKind } from "../../api/v1alpha1/index.js";

/** What one reconcile learned about a role's password, for status.users. */
export interface PasswordNote {
  /** Set when the password was set on the server in this reconcile. */
  readonly passwordSetAt?: string;
  /** The rotate-password token the Secret's password was made for; undefined when none. */
  readonly rotationToken: string | undefined;
  /** When the rotation schedule falls due next (ms since the epoch). */
  readonly nextRotationMs: number | undefined;
}

/** The conditions and Events of one reconcile, and the names to publish in status. */
export class Report {
  readonly conditions: ConditionInput[] = [];
  readonly events: EventNote[] = [];
  names?: SqlNames;
  /** status.extensions, when the extensions step ran. */
  extensions?: readonly InstalledExtension[];
  /** What each role's credentials step learned; absent for a role whose step did not get that far. */
  readonly passwords: Partial<Record<RoleKind, PasswordNote>> = {};

  /** Notes what the credentials step of `role` learned. */
  passwordOf(role: RoleKind, note: PasswordNote): void {
    this.passwords[role] = note;
  }

  /** When the earliest rotation schedule falls due (ms since the epoch); undefined without one. */
  get nextRotationMs(): number | undefined {
    const due = Object.values(this.passwords).flatMap((note) =>
      note.nextRotationMs === undefined ? [] : [note.nextRotationMs],
    );
    return due.length === 0 ? undefined : Math.min(...due);
  }

  /** Sets a condition (a later call for the same type wins). */
  condition(type: string, status: ConditionInput["status"], reason: string, message: string): void {
    this.conditions.push({ type, status, reason, message });
  }

  /** Adds conditions computed elsewhere. */
  add(conditions: readonly ConditionInput[]): void {
    this.conditions.push(...conditions);
  }

  /** A failure: the condition False with the error's reason and message, and a Warning Event saying the same. */
  fail(type: string, reason: string, message: string): void {
    this.condition(type, "False", reason, message);
    this.warning(reason, message);
  }

  /** A Normal Event (a state change). */
  normal(reason: string, message: string): void {
    this.events.push({ type: "Normal", reason, message });
  }

  /** A Warning Event (a failure). */
  warning(reason: string, message: string): void {
    this.events.push({ type: "Warning", reason, message });
  }
}

/** How the status is written. */
export interface StatusWriter {
  readonly client: KubeClient;
  readonly recorder: EventRecorder;
  /** Each Event is logged too (Normal as info, Warning as warn). */
  readonly logger: Logger;
  /** What this process last saw of each resource's conditions: a Warning the status already shows is not repeated. */
  readonly changes: ConditionChanges;
  readonly heartbeatIntervalMs?: number;
}

/**
 * Writes the report's conditions (and Ready from DATABASE_READY_CONDITIONS) and names
 * through `updateStatus`, which writes nothing when nothing changed; then queues the
 * report's Events, one per outcome (see eventsToRecord), with Ready turning True among them,
 * but no Warning that a condition which did not change already shows (ConditionChanges).
 */
export async function publishReport(
  writer: StatusWriter,
  db: PostgresDatabase,
  report: Report,
): Promise<PostgresDatabase> {
  const wasReady = isConditionTrue(db.status?.conditions, READY);
  const mutators: StatusMutator<PostgresDatabaseStatus, PostgresDatabase>[] = [
    conditionsMutator(report.conditions, DATABASE_READY_CONDITIONS, writer.heartbeatIntervalMs),
  ];
  const names = report.names;
  if (names) mutators.push(namesMutator(db.metadata.name ?? "", names, report.passwords));
  const extensions = report.extensions;
  if (extensions) mutators.push(extensionsMutator(extensions));
  const stored = await updateStatus(writer.client, PostgresDatabaseKind, db, mutators);
  const becameReady = !wasReady && isConditionTrue(stored.status?.conditions, READY);
  const changed = writer.changes.changed(keyString(keyOf(db)), db.status?.conditions, report.conditions);
  const news = writer.changes.withoutShownWarnings(report.events, report.conditions, changed);
  const events = eventsToRecord(news, {
    becameReady,
    database: names?.database ?? "",
  });
  recordEvents(writer, stored, events);
  return stored;
}

/** Queues the Events about `db` (written in the background: never a wait in the reconcile) and logs each of them. */
export function recordEvents(writer: StatusWriter, db: PostgresDatabase, events: readonly EventNote[]): void {
  for (const { type, reason, message } of events) {
    if (type === "Warning") writer.logger.warn(message, { reason });
    else writer.logger.info(message, { reason });
    writer.recorder.event(db, type, reason, message);
  }
}

function namesMutator(
  resourceName: string,
  names: SqlNames,
  passwords: Report["passwords"],
): StatusMutator<PostgresDatabaseStatus, PostgresDatabase> {
  return (status) => {
    status.sql_db_name = names.database;
    const user = (role: RoleKind): DatabaseUser => {
      const before = status.users?.find((u) => u.username === names[role]);
      const note = passwords[role];
      const passwordSetAt = note?.passwordSetAt ?? before?.passwordSetAt;
      const rotationToken = note ? note.rotationToken : before?.rotationToken;
      return {
        username: names[role],
        secret: connectionSecretName(resourceName, role),
        ...(passwordSetAt !== undefined ? { passwordSetAt } : {}),
        ...(rotationToken !== undefined ? { rotationToken: rotationToken.slice(0, 253) } : {}),
      };
    };
    status.users = [user("app"), user("inspector")];
  };
}

function extensionsMutator(
  extensions: readonly InstalledExtension[],
): StatusMutator<PostgresDatabaseStatus, PostgresDatabase> {
  return (status) => {
    if (extensions.length > 0) status.extensions = extensions.map((extension) => ({ ...extension }));
    else delete status.extensions;
  };
}
