/** The fresh servers of one bench process: an API server with its audit log and a PostgreSQL logging every statement and session. */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { controlPlane, type ControlPlane } from "../../test/harness/control-plane.js";
import { postgres, type PostgresServer } from "../../test/harness/postgres.js";
import { BenchLogs } from "./logs.js";

/** Both servers and their logs. */
export interface BenchServers {
  readonly cp: ControlPlane;
  readonly srv: PostgresServer;
  readonly logs: BenchLogs;
}

/** Empties `dir`, then starts both servers with their logs in it (the audit log) and in PostgreSQL's data dir. */
export async function startServers(dir: string): Promise<BenchServers> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [cp, srv] = await Promise.all([controlPlane({ auditLogPath: path.join(dir, "audit.log") }), postgres()]);
  await logConnections(srv);
  return { cp, srv, logs: new BenchLogs(path.join(dir, "audit.log"), srv.logPath) };
}

/** The harness's server logs every statement; the bench also wants every session that logs in. */
async function logConnections(srv: PostgresServer): Promise<void> {
  const client = await srv.connect();
  try {
    await client.query("ALTER SYSTEM SET log_connections = 'on'");
    await client.query("SELECT pg_catalog.pg_reload_conf()");
  } finally {
    await client.end();
  }
}

/** PostgreSQL's server_version, e.g. "15.14 (Debian 15.14-0+deb12u1)". */
export async function serverVersion(srv: PostgresServer): Promise<string> {
  const client = await srv.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SELECT pg_catalog.current_setting('server_version') AS v");
    return rows[0]!.v;
  } finally {
    await client.end();
  }
}
