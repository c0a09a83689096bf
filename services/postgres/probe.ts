import type pg from "pg";
import { withSingleClient } from "./client-lifecycle.js";
import { connectionError } from "./connection-failures.js";
import type { ConnectionFailureReason } from "./connection-failures.js";
import { DEFAULT_CONNECTION_SETTINGS, MAINTENANCE_DATABASE, pgClientConfig } from "./connection-spec.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";

/** Whether a fresh connection to an instance works, and if not, in the server's or network's own words. */
export type ProbeResult =
  | { readonly connected: true; readonly serverVersion: string }
  | { readonly connected: false; readonly reason: ConnectionFailureReason; readonly message: string };

/**
 * Opens one new connection (never a pooled one, which could hide a broken
 * spec), asks for the server version and closes it; bounded by the connect
 * and statement timeouts.
 */
export async function probeInstance(
  spec: InstanceConnectionSpec,
  settings: ConnectionSettings = DEFAULT_CONNECTION_SETTINGS,
): Promise<ProbeResult> {
  try {
    const config = pgClientConfig(spec, MAINTENANCE_DATABASE, settings);
    const serverVersion = await withSingleClient(config, showServerVersion, {
      closeTimeoutMillis: settings.connectionTimeoutMillis,
    });
    return { connected: true, serverVersion };
  } catch (err) {
    const { reason, message } = connectionError(err, spec, settings);
    return { connected: false, reason, message };
  }
}

async function showServerVersion(client: pg.ClientBase): Promise<string> {
  const result = await client.query<{ server_version: string }>("SHOW server_version");
  return result.rows[0]?.server_version ?? "unknown";
}
