import type pg from "pg";
import type { ConditionInput } from "../../runtime/conditions.js";
import { errorMessage } from "../../runtime/errors.js";
import type { ConnectionRegistry, InstanceConnectionSpec } from "../../services/postgres/connections.js";
import type { InstanceKey } from "../../services/postgres/instance-key.js";
import { checkPrivileges } from "../../services/postgres/privileges.js";
import { InstanceCondition, InstanceReason, PRIVILEGED_MESSAGE } from "../constants.js";

/** What the database controller needs to know about the admin, besides its credentials. */
export interface AdminFacts {
  /** The admin is a superuser. */
  readonly superuser: boolean;
  /** The server's major version, e.g. 16. */
  readonly serverMajorVersion: number;
}

/** The `Privileged` condition, and the admin's facts when the check could be made. */
export interface PrivilegeResult {
  readonly condition: ConditionInput;
  readonly facts?: AdminFacts;
}

const ADMIN_FACTS = `
  SELECT r.rolsuper, pg_catalog.current_setting('server_version_num')::int / 10000 AS major
  FROM pg_catalog.pg_roles AS r
  WHERE r.rolname = current_user`;

/**
 * Checks, through the instance's pool and without changing anything on the server, that the
 * admin may create databases and roles; reads whether it is a superuser and the server's version.
 */
export async function checkAdminPrivileges(
  registry: ConnectionRegistry,
  key: InstanceKey,
  spec: InstanceConnectionSpec,
): Promise<PrivilegeResult> {
  try {
    return await registry.withClient(key, spec, async (client) => {
      const check = await checkPrivileges(client);
      const facts = await readAdminFacts(client);
      if (!check.ok) {
        const condition = privileged("False", InstanceReason.InsufficientPrivileges, capitalise(check.message));
        return { condition, facts };
      }
      return { condition: privileged("True", InstanceReason.Privileged, PRIVILEGED_MESSAGE), facts };
    });
  } catch (err) {
    return {
      condition: privileged(
        "Unknown",
        InstanceReason.PrivilegeCheckFailed,
        `While checking the privileges of user "${spec.username}": ${errorMessage(err)}`,
      ),
    };
  }
}

async function readAdminFacts(client: pg.ClientBase): Promise<AdminFacts> {
  const { rows } = await client.query<{ rolsuper: boolean; major: number }>(ADMIN_FACTS);
  const row = rows[0];
  if (!row) throw new Error("the current user was not found in pg_catalog.pg_roles");
  return { superuser: row.rolsuper, serverMajorVersion: Number(row.major) };
}

function privileged(status: ConditionInput["status"], reason: string, message: string): ConditionInput {
  return { type: InstanceCondition.Privileged, status, reason, message };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
