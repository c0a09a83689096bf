import { expect } from "chai";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { TestCA } from "./pki.js";
import { type PostgresServer, postgres } from "./postgres.js";
import { findPgBinaries } from "./postgres/binaries.js";

const run = promisify(execFile);

/** The error a connection attempt fails with; fails the test (and closes the client) if it connects. */
async function connectionError(client: pg.Client): Promise<Error & { code?: string }> {
  try {
    await client.connect();
  } catch (err) {
    return err as Error & { code?: string };
  }
  await client.end();
  throw new Error("expected the connection to be refused, but it succeeded");
}

async function queryOne<T>(client: pg.Client, sql: string): Promise<T> {
  const { rows } = await client.query(sql);
  return rows[0] as T;
}

describe("test PostgreSQL server", () => {
  let server: PostgresServer;
  let dir: string;

  before(async () => {
    server = await postgres();
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-pg-test-"));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("returns the same server on every call", async () => {
    expect(await postgres()).to.equal(server);
  });

  it("accepts the superuser over TLS with its password and reports it as superuser", async () => {
    const client = await server.connect();
    try {
      const session = await queryOne<{ ssl: boolean; rolsuper: boolean; user: string }>(
        client,
        `SELECT s.ssl, r.rolsuper, current_user AS user
           FROM pg_catalog.pg_stat_ssl s, pg_catalog.pg_roles r
          WHERE s.pid = pg_catalog.pg_backend_pid() AND r.rolname = current_user`,
      );
      expect(session).to.deep.equal({ ssl: true, rolsuper: true, user: server.superuser.user });
      expect(server.superuser.user).to.not.equal("postgres");
    } finally {
      await client.end();
    }
  });

  it("accepts the limited admin over TLS as a non-superuser that may create databases and roles", async () => {
    const { user, password } = server.limitedAdmin;
    const client = await server.connect({ user, password });
    try {
      const session = await queryOne<Record<string, boolean>>(
        client,
        `SELECT s.ssl, r.rolsuper, r.rolcreatedb, r.rolcreaterole
           FROM pg_catalog.pg_stat_ssl s, pg_catalog.pg_roles r
          WHERE s.pid = pg_catalog.pg_backend_pid() AND r.rolname = current_user`,
      );
      expect(session).to.deep.equal({ ssl: true, rolsuper: false, rolcreatedb: true, rolcreaterole: true });
    } finally {
      await client.end();
    }
  });

  it("reports its major version as the server does, which is that of the binaries found (PG_BIN when set)", async () => {
    const client = await server.connect();
    try {
      const { version } = await queryOne<{ version: string }>(client, "SELECT pg_catalog.version() AS version");
      expect(version).to.match(new RegExp(`^PostgreSQL ${server.majorVersion}\\.`));
    } finally {
      await client.end();
    }
    const { binDir } = await findPgBinaries();
    const { stdout } = await run(path.join(binDir, "postgres"), ["--version"]);
    expect(stdout).to.match(new RegExp(`\\(PostgreSQL\\) ${server.majorVersion}\\.`));
  });

  it("rejects a wrong password with SQLSTATE 28P01", async () => {
    const err = await server.connect({ user: server.limitedAdmin.user, password: "not-the-password" }).then(
      async (client) => {
        await client.end();
        throw new Error("expected the wrong password to be rejected");
      },
      (e: unknown) => e as { code?: string },
    );
    expect(err.code).to.equal("28P01");
  });

  it("rejects a connection without TLS", async () => {
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      ...server.superuser,
      database: "postgres",
      ssl: false,
    });
    const err = await connectionError(client);
    expect(err.code).to.equal("28000");
    expect(err.message).to.include("no encryption");
  });

  it("fails verify-peer against 127.0.0.1 because the certificate names only localhost", async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: server.port,
      ...server.superuser,
      database: "postgres",
      ssl: { ca: server.caPem, rejectUnauthorized: true },
    });
    const err = await connectionError(client);
    expect(err.code).to.equal("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("verifies the server when dialled as localhost with the harness CA", async () => {
    const client = new pg.Client({
      host: server.tlsServerName,
      port: server.port,
      ...server.superuser,
      database: "postgres",
      ssl: { ca: server.caPem, rejectUnauthorized: true },
    });
    await client.connect();
    try {
      const { ssl } = await queryOne<{ ssl: boolean }>(
        client,
        "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()",
      );
      expect(ssl).to.equal(true);
    } finally {
      await client.end();
    }
  });

  it("fails verification against a different CA", async () => {
    const otherCa = await TestCA.create(dir, "some-other-ca", "other-ca");
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      ...server.superuser,
      database: "postgres",
      ssl: { ca: otherCa.ca.certPem, servername: server.tlsServerName, rejectUnauthorized: true },
    });
    const err = await connectionError(client);
    expect(err.code).to.equal("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("writes every statement, with the user and database, to the log file", async () => {
    const marker = `harness-marker-${randomUUID()}`;
    const client = await server.connect();
    try {
      await client.query(`SELECT '${marker}' AS marker`);
    } finally {
      await client.end();
    }
    const line = (await server.readLog()).split("\n").find((l) => l.includes(marker));
    expect(line, "log line with the marker").to.be.a("string");
    expect(line).to.include(`${server.superuser.user}@postgres`).and.to.include("statement:");
  });

  it("refuses connections while stopped and accepts them again, data kept, after start", async () => {
    const table = `harness_restart_${randomUUID().replaceAll("-", "")}`;
    const beforeStop = await server.connect();
    await beforeStop.query(`CREATE TABLE ${table} (id int)`);
    await beforeStop.end();

    await server.stop();
    try {
      const err = await server.connect().then(
        async (client) => {
          await client.end();
          throw new Error("expected the stopped server to refuse the connection");
        },
        (e: unknown) => e as { code?: string },
      );
      expect(err.code).to.equal("ECONNREFUSED");
    } finally {
      await server.start();
    }

    const restarted = await server.connect();
    try {
      const { found } = await queryOne<{ found: string | null }>(
        restarted,
        `SELECT pg_catalog.to_regclass('${table}')::text AS found`,
      );
      expect(found).to.equal(table);
    } finally {
      await restarted.query(`DROP TABLE IF EXISTS ${table}`);
      await restarted.end();
    }
  });
});
