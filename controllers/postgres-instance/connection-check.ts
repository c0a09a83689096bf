import type { PostgresInstanceSpec } from "../../api/v1alpha1/index.js";
import type { ConditionInput } from "../../runtime/conditions.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "../../services/postgres/connection-spec.js";
import { DEFAULT_CONNECTION_SETTINGS } from "../../services/postgres/connection-spec.js";
import { probeInstance } from "../../services/postgres/probe.js";
import { CONNECTED_MESSAGE, InstanceCondition, InstanceReason } from "../constants.js";

/** The `Connected` condition of an instance, from one fresh connection bounded by the connect timeout. */
export async function checkConnection(
  spec: InstanceConnectionSpec,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): Promise<ConditionInput> {
  // A fresh connection, not a pooled one: an idle pooled client could hide a spec that no longer works.
  const probe = await probeInstance(spec, settings);
  if (probe.connected) {
    return {
      type: InstanceCondition.Connected,
      status: "True",
      reason: InstanceReason.Connected,
      message: CONNECTED_MESSAGE,
    };
  }
  return { type: InstanceCondition.Connected, status: "False", reason: probe.reason, message: probe.message };
}

/** A condition left `Unknown` because an earlier step failed; `why` completes "Not checked: ...". */
export function notChecked(type: string, why: string): ConditionInput {
  return { type, status: "Unknown", reason: InstanceReason.NotChecked, message: `Not checked: ${why}` };
}

/** The port PostgreSQL listens on when the spec gives none. */
export const DEFAULT_PORT = 5432;

/** How to reach the instance: its spec with the resolved password and the TLS settings normalised. */
export function connectionSpecOf(spec: PostgresInstanceSpec, password: string): InstanceConnectionSpec {
  const ssl = spec.ssl;
  return {
    hostname: spec.hostname,
    port: spec.port ?? DEFAULT_PORT,
    username: spec.username,
    password,
    ...(spec.allowInsecurePasswordAuth !== undefined
      ? { allowInsecurePasswordAuth: spec.allowInsecurePasswordAuth }
      : {}),
    ...(ssl
      ? {
          ssl: {
            enabled: ssl.enabled ?? false,
            ...(ssl.verify !== undefined ? { verify: ssl.verify } : {}),
            ...(ssl.ca !== undefined ? { ca: ssl.ca } : {}),
          },
        }
      : {}),
  };
}
