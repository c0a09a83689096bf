/**
 * The extensions step of a reconcile: spec.extensions against the instance's
 * spec.allowedExtensions, applied in the tenant database, reported as the
 * ExtensionsReady condition (not part of Ready), status.extensions and Events.
 */
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { errorMessage } from "../../runtime/errors.js";
import { ConnectionError } from "../../services/postgres/connection-failures.js";
import { parseExtensionRequests, type ExtensionProblem } from "../../services/postgres/objects/extensions.js";
import { DatabaseCondition, DatabaseReason } from "../constants.js";
import type { Report } from "./report.js";
import type { TenantServer } from "./server.js";

/** Creates, updates or drops what spec.extensions asks for; nothing at all when it lists none and status shows none. */
export async function extensionsStep(
  db: PostgresDatabase,
  server: TenantServer,
  allowed: readonly string[],
  report: Report,
): Promise<void> {
  const listed = db.spec.extensions as readonly unknown[] | undefined;
  const type = DatabaseCondition.ExtensionsReady;
  const reported = db.status?.conditions?.some((condition) => condition.type === type) === true;
  if (!listed?.length && !reported && !db.status?.extensions?.length) return;
  const { requests, problems: invalid } = parseExtensionRequests(listed);
  // An emptied list needs no session: only the status and condition go back to "nothing requested".
  const none = { installed: [], problems: [], changes: [] };
  const ensuring = requests.length === 0 ? Promise.resolve(none) : server.ensureExtensions(requests, allowed);
  const outcome = await ensuring.catch((err: unknown) => {
    if (!(err instanceof ConnectionError))
      report.condition(type, "False", DatabaseReason.ReconcileFailed, errorMessage(err));
    throw err;
  });
  report.extensions = outcome.installed;
  for (const { reason, message } of outcome.changes) report.normal(reason, message);
  const problems: readonly ExtensionProblem[] = [...invalid, ...outcome.problems];
  for (const { reason, message } of problems) report.warning(reason, message);
  const first = problems[0];
  if (first) {
    report.condition(type, "False", first.reason, problems.map((problem) => problem.message).join("; "));
    return;
  }
  report.condition(type, "True", DatabaseReason.ExtensionsInstalled, installedMessage(outcome.installed));
}

function installedMessage(installed: readonly { name: string; version: string; schema: string }[]): string {
  if (installed.length === 0) return "No extensions are requested.";
  const list = installed.map(({ name, version, schema }) => `${name} ${version} (schema ${schema})`).join(", ");
  return `Installed: ${list}.`;
}
