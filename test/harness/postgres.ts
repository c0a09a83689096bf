import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { eventually } from "../support/eventually.js";
import { onStop } from "./lifecycle.js";
import { freePort } from "./ports.js";
import { findPgBinaries } from "./postgres/binaries.js";
import { type Bootstrap, createAdmins } from "./postgres/bootstrap.js";
import { LocalCluster } from "./postgres/cluster.js";
import { loopbackAddresses } from "./postgres/loopback.js";
import { giveToServer, serverUser } from "./postgres/server-user.js";
import { type ServerTls, TLS_SERVER_NAME, issueServerTls } from "./postgres/tls.js";

/** A PostgreSQL role name and its password. */
export interface PgCredentials {
  readonly user: string;
  readonly password: string;
}

/** The throw-away PostgreSQL server of a test run: TLS only, SCRAM passwords, every statement logged. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly majorVersion: number;
  /** A SUPERUSER LOGIN role with a password. */
  readonly superuser: PgCredentials;
  /** LOGIN CREATEDB CREATEROLE but not superuser: the managed-cloud case. */
  readonly limitedAdmin: PgCredentials;
  /** The CA that signed the server certificate. */
  readonly caPem: string;
  readonly caPath: string;
  /** The only name in the server certificate ("localhost"); verifying against 127.0.0.1 fails on purpose. */
  readonly tlsServerName: string;
  readonly logPath: string;
  /** The server log so far (log_statement=all, so every statement is in it). */
  readLog(): Promise<string>;
  /** A connected pg.Client over TLS verified against caPem (servername tlsServerName); defaults: superuser, database "postgres". Caller ends it. */
  connect(opts?: { user?: string; password?: string; database?: string }): Promise<pg.Client>;
  /** Puts pg_hba.conf lines before the harness's own (the first match wins) and reloads the configuration. */
  prependHbaRules(lines: readonly string[]): Promise<void>;
  /** Stops the server (data kept; `fast` by default, `immediate` quits like a crash); start() brings it back on the same port. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
}

let started: Promise<PostgresServer> | undefined;

/** Starts the one PostgreSQL server of this test run on first call (later calls return the same one) and registers its teardown with onStop. */
export async function postgres(): Promise<PostgresServer> {
  started ??= startServer();
  return started;
}

async function startServer(): Promise<PostgresServer> {
  const binaries = await findPgBinaries();
  const user = await serverUser();
  const root = await mkdtemp(path.join(os.tmpdir(), "kompost-pg-"));
  const cluster = new LocalCluster(binaries, user, root);
  let removed = false;
  const teardown = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    try {
      await cluster.shutdown();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  };
  onStop(async () => {
    started = undefined;
    await teardown();
  });
  try {
    await giveToServer(user, root);
    const tls = await issueServerTls(root, user);
    const port = await freePort();
    const listenAddresses = await loopbackAddresses();
    await cluster.init({ listenAddresses, port, socketDir: root, certPath: tls.certPath, keyPath: tls.keyPath });
    await cluster.start();
    const admins = await createAdmins(root, port);
    return new TestPostgres(cluster, port, tls, admins);
  } catch (err) {
    await teardown();
    throw err;
  }
}

class TestPostgres implements PostgresServer {
  readonly host = "127.0.0.1";
  readonly tlsServerName = TLS_SERVER_NAME;
  readonly majorVersion: number;
  readonly superuser: PgCredentials;
  readonly limitedAdmin: PgCredentials;
  readonly caPem: string;
  readonly caPath: string;
  readonly logPath: string;

  constructor(
    private readonly cluster: LocalCluster,
    readonly port: number,
    tls: ServerTls,
    admins: Bootstrap,
  ) {
    this.majorVersion = admins.majorVersion;
    this.superuser = admins.superuser;
    this.limitedAdmin = admins.limitedAdmin;
    this.caPem = tls.caPem;
    this.caPath = tls.caPath;
    this.logPath = cluster.logPath;
  }

  async readLog(): Promise<string> {
    return readFile(this.logPath, "utf8");
  }

  async connect(opts: { user?: string; password?: string; database?: string } = {}): Promise<pg.Client> {
    const user = opts.user ?? this.superuser.user;
    const client = new pg.Client({
      host: this.host,
      port: this.port,
      user,
      password: opts.password ?? this.knownPassword(user),
      database: opts.database ?? "postgres",
      ssl: { ca: this.caPem, servername: this.tlsServerName, rejectUnauthorized: true },
    });
    // pg's own error is passed on untouched so that callers can check its SQLSTATE `code`.
    await client.connect();
    return client;
  }

  async prependHbaRules(lines: readonly string[]): Promise<void> {
    const hbaPath = path.join(this.cluster.dataDir, "pg_hba.conf");
    await writeFile(hbaPath, [...lines, await readFile(hbaPath, "utf8")].join("\n"));
    const loadTime = "SELECT pg_catalog.pg_conf_load_time()::text AS at";
    const client = await this.connect();
    try {
      const before = (await client.query<{ at: string }>(loadTime)).rows[0]!.at;
      await client.query("SELECT pg_catalog.pg_reload_conf()");
      // The postmaster reloads on its own time; a new session shows the new load time once it has.
      await eventually(async () => {
        const probe = await this.connect();
        try {
          const at = (await probe.query<{ at: string }>(loadTime)).rows[0]!.at;
          if (at === before) throw new Error("the server has not reloaded pg_hba.conf yet");
        } finally {
          await probe.end();
        }
      }, 10_000);
      // pg_hba_file_rules re-reads the file: a line the server cannot parse shows up with its error.
      const { rows } = await client.query<{ error: string }>(
        "SELECT error FROM pg_catalog.pg_hba_file_rules WHERE error IS NOT NULL",
      );
      if (rows.length > 0) throw new Error(`pg_hba.conf: ${rows.map((row) => row.error).join("; ")}`);
    } finally {
      await client.end();
    }
  }

  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    await this.cluster.stop(mode);
  }

  async start(): Promise<void> {
    await this.cluster.start();
  }

  /** Lets `connect({ user: limitedAdmin.user })` work without repeating the password. */
  private knownPassword(user: string): string | undefined {
    return [this.superuser, this.limitedAdmin].find((admin) => admin.user === user)?.password;
  }
}
