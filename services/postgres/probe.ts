import type pg from "pg";
import { connectionError, DEFAULT_CONNECTION_SETTINGS, MAINTENANCE_DATABASE, pgClientConfig } from "./connections.js";
import { PasswordGuardedClient } from "./password-guard.js";
import type { ConnectionFailureReason, ConnectionSettings, InstanceConnectionSpec } from "./connections.js";

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
  let client: pg.Client;
  try {
    client = new PasswordGuardedClient(pgClientConfig(spec, MAINTENANCE_DATABASE, settings));
    // A socket error after the probe settled must not become an unhandled 'error' event.
    client.on("error", () => undefined);
    await client.connect();
  } catch (err) {
    return failed(err, spec, settings);
  }
  try {
    const result = await client.query<{ server_version: string }>("SHOW server_version");
    return { connected: true, serverVersion: result.rows[0]?.server_version ?? "unknown" };
  } catch (err) {
    return failed(err, spec, settings);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function failed(err: unknown, spec: InstanceConnectionSpec, settings: ConnectionSettings): ProbeResult {
  const { reason, message } = connectionError(err, spec, settings);
  return { connected: false, reason, message };
}
