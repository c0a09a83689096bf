/**
 * The apply part of a reconcile: database, then each role with its Secret, then
 * the grant set. Each step sets its condition and notes an Event for what it
 * changed; a failure the user can fix becomes a False condition and a Warning
 * Event, and stops the steps that depend on it. Other errors propagate.
 */
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { errorMessage } from "../../runtime/errors.js";
import { faultPoint } from "../../runtime/fault-points.js";
import type { KubeClient } from "../../runtime/kube-client.js";
import type { RoleKind } from "../../services/postgres/naming.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import { isLockTimeout, UserFixableError } from "../../services/postgres/errors.js";
import {
  ForeignSecretError,
  SecretConflictError,
  type SecretReader,
} from "../../services/secrets/connection-secret.js";
import {
  APP_USER_MESSAGE,
  DatabaseCondition,
  DatabaseReason,
  INSPECTOR_READ_ONLY_MESSAGE,
  INSPECTOR_USER_MESSAGE,
  ROTATE_PASSWORD_ANNOTATION,
  databaseCreatedMessage,
} from "../constants.js";
import { InvalidSecretSpecError } from "../../services/secrets/secret-spec.js";
import { reconcileCredentials, type Credentials } from "./credentials.js";
import { extensionsStep } from "./extensions-step.js";
import type { Report } from "./report.js";
import type { RoleOutcome, TenantServer } from "./server.js";

/** What the steps work with. */
export interface ProvisionContext {
  readonly client: KubeClient;
  readonly readSecret: SecretReader;
  readonly db: PostgresDatabase;
  readonly server: TenantServer;
  readonly report: Report;
  /** The instance's spec.allowedExtensions. */
  readonly allowedExtensions?: readonly string[];
  /** The rotation period of both passwords (the resource's, else its instance's); undefined for none. */
  readonly rotateEvery?: string;
  /** The clock (rotation schedule, status.users[].passwordSetAt). */
  readonly now: Date;
}

const ROLE_CONDITIONS = {
  app: { type: DatabaseCondition.AppUser, message: APP_USER_MESSAGE },
  inspector: { type: DatabaseCondition.InspectorUser, message: INSPECTOR_USER_MESSAGE },
} as const;

/** Runs the steps in order: database, app role, inspector role, grants. */
export async function provision(ctx: ProvisionContext): Promise<void> {
  if (!(await databaseStep(ctx))) return;
  const app = await roleStep(ctx, "app");
  const inspector = await roleStep(ctx, "inspector");
  if (!app || !inspector) return;
  await grantsStep(ctx);
  // Not due and nothing drifted: status.extensions and ExtensionsReady stay as they are.
  if (ctx.server.inDatabaseChecks) await extensionsStep(ctx.db, ctx.server, ctx.allowedExtensions ?? [], ctx.report);
}

async function databaseStep({ db, server, report }: ProvisionContext): Promise<boolean> {
  const database = server.names.database;
  const result = await userFixable(report, [DatabaseCondition.Database], () =>
    server.ensureDatabase({ ...db.spec.params }),
  );
  if (result === undefined) return false;
  if (result === "created") report.normal(DatabaseReason.DatabaseCreated, `Created database "${database}"`);
  report.condition(
    DatabaseCondition.Database,
    "True",
    DatabaseReason.DatabaseCreated,
    databaseCreatedMessage(database),
  );
  return true;
}

async function roleStep(ctx: ProvisionContext, role: RoleKind): Promise<boolean> {
  const { client, readSecret, db, server, report, now } = ctx;
  const { type, message } = ROLE_CONDITIONS[role];
  const username = server.names[role];
  const done = await userFixable(report, [type], async () => {
    // Before the Secret: a role someone else owns gets no Secret with a password that is not its own.
    await server.requireRoleNotForeign(username);
    const passwordSetAt = db.status?.users?.find((user) => user.username === username)?.passwordSetAt;
    const target = {
      role,
      username,
      database: server.names.database,
      now,
      passwordSetAt,
      rotateEvery: ctx.rotateEvery,
    };
    const credentials = await reconcileCredentials(client, readSecret, db, server.instance, target);
    noteCredentials(report, credentials);
    if (credentials.write !== "unchanged") await faultPoint("secret-written");
    // Written now, or a rotation the status does not show finished (a crash between the Secret and
    // ALTER ROLE): the password may be new to the server, so it is checked even between verify checks.
    const stored = db.status?.users?.find((user) => user.username === username);
    const fresh = credentials.write !== "unchanged" || credentials.rotationToken !== stored?.rotationToken;
    const outcome = await server.ensureRoleWithPassword(username, credentials.password, fresh);
    if (outcome.role === "created") await faultPoint("role-created");
    noteRole(report, username, credentials.secretName, outcome);
    report.passwordOf(role, {
      ...(outcome.role === "created" || outcome.passwordReset ? { passwordSetAt: statusTime(now) } : {}),
      rotationToken: credentials.rotationToken,
      nextRotationMs: credentials.nextRotationMs,
    });
    return true;
  });
  if (done === undefined) return false;
  report.condition(type, "True", DatabaseReason.UserCreated, message);
  return true;
}

async function grantsStep({ server, report }: ProvisionContext): Promise<void> {
  const roleTypes = [DatabaseCondition.AppUser, DatabaseCondition.InspectorUser];
  const readOnly = DatabaseCondition.InspectorReadOnly;
  const outcome = await userFixable(report, [...roleTypes, readOnly], () => server.ensureGrants());
  // Not checked (not due, nothing drifted): InspectorReadOnly stays as the status says.
  if (outcome === undefined || !outcome.checked) return;
  const { missing, limitations } = outcome;
  if (limitations.length === 0) {
    report.condition(readOnly, "True", DatabaseReason.ReadOnly, INSPECTOR_READ_ONLY_MESSAGE);
  } else {
    report.condition(readOnly, "False", DatabaseReason.InspectorNotReadOnly, limitations.join("; "));
  }
  if (!outcome.applied) return;
  await faultPoint("grants-applied");
  if (missing.length === 0) return;
  report.normal(
    DatabaseReason.GrantsRepaired,
    `Granted privileges in database "${server.names.database}" that were missing: ${missing.join("; ")}`,
  );
}

function noteCredentials(report: Report, credentials: Credentials): void {
  const { secretName, write, regenerated, rotated } = credentials;
  if (rotated !== undefined) {
    const why =
      rotated === "token"
        ? `the annotation ${ROTATE_PASSWORD_ANNOTATION} asked for it`
        : "spec.passwordRotation.every has passed since the password was set";
    report.normal(DatabaseReason.PasswordRotated, `Wrote a new password into Secret "${secretName}": ${why}`);
  }
  if (regenerated !== undefined) {
    report.warning(
      DatabaseReason.PasswordRegenerated,
      `DB_PASS of Secret "${secretName}" could not be used (${regenerated}); a new password was generated`,
    );
  }
  if (write === "created") report.normal(DatabaseReason.SecretCreated, `Created Secret "${secretName}"`);
  if (write === "updated") report.normal(DatabaseReason.SecretUpdated, `Put Secret "${secretName}" back in shape`);
}

function noteRole(report: Report, username: string, secretName: string, outcome: RoleOutcome): void {
  if (outcome.role === "created") report.normal(DatabaseReason.UserCreated, `Created role "${username}"`);
  if (outcome.role === "repaired") {
    report.normal(DatabaseReason.RoleRepaired, `Put the attributes of role "${username}" back to LOGIN only`);
  }
  if (outcome.passwordReset) {
    report.normal(
      DatabaseReason.PasswordReset,
      `Set the password of role "${username}" to DB_PASS of Secret "${secretName}"`,
    );
  }
}

/** A status timestamp (RFC 3339, whole seconds) as Kubernetes writes them. */
function statusTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * Runs `fn`; a failure the user can fix sets `types` False with its reason and message (once as
 * an Event) and yields undefined. Any other failure but a lost connection (which the flow reports
 * as Connection False) sets `types` False with ReconcileFailed and its message, and propagates: the
 * flow records it as an Event and the reconcile is retried, so Ready never stays True meanwhile.
 */
async function userFixable<T>(report: Report, types: readonly string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const reason =
      err instanceof UserFixableError
        ? err.reason
        : err instanceof ForeignSecretError
          ? DatabaseReason.ForeignSecret
          : err instanceof SecretConflictError
            ? DatabaseReason.SecretConflict
            : err instanceof InvalidSecretSpecError
              ? DatabaseReason.InvalidSecretSpec
              : undefined;
    if (reason === undefined) {
      if (!(err instanceof ConnectionError)) {
        const failed = isLockTimeout(err) ? DatabaseReason.LockTimeout : DatabaseReason.ReconcileFailed;
        for (const type of types) report.condition(type, "False", failed, errorMessage(err));
      }
      throw err;
    }
    const message = (err as Error).message;
    for (const type of types) report.condition(type, "False", reason, message);
    report.warning(reason, message);
    return undefined;
  }
}
