import type { ConditionInput } from "../../runtime/conditions.js";
import { errorMessage } from "../../runtime/errors.js";
import type { ConnectionRegistry } from "../../services/postgres/connection-registry.js";
import type { InstanceConnectionSpec } from "../../services/postgres/connection-spec.js";
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

/**
 * Checks, through the instance's pool and without changing anything on the server, that the
 * admin may create databases and roles; the same one statement tells whether it is a superuser
 * and the server's major version.
 */
export async function checkAdminPrivileges(
  registry: ConnectionRegistry,
  key: InstanceKey,
  spec: InstanceConnectionSpec,
): Promise<PrivilegeResult> {
  try {
    return await registry.withClient(key, spec, async (client) => {
      const check = await checkPrivileges(client);
      const facts: AdminFacts = {
        superuser: check.admin.superuser,
        serverMajorVersion: check.admin.serverMajorVersion,
      };
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

function privileged(status: ConditionInput["status"], reason: string, message: string): ConditionInput {
  return { type: InstanceCondition.Privileged, status, reason, message };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
