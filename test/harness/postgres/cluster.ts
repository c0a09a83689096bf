import { appendFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PgBinaries } from "./binaries.js";
import { type ClusterConfig, renderHba, renderSettings } from "./config.js";
import { type ServerUser, runAsServer } from "./server-user.js";

/** A throw-away PostgreSQL cluster in one directory, driven by initdb and pg_ctl. */
export class LocalCluster {
  /** The data directory initdb creates. */
  readonly dataDir: string;
  /** Where pg_ctl sends the server's stderr, which carries the whole log. */
  readonly logPath: string;
  private running = false;

  constructor(
    private readonly binaries: PgBinaries,
    private readonly user: ServerUser,
    /** A directory the server user owns; holds the data directory, the log and the socket. */
    readonly root: string,
  ) {
    this.dataDir = path.join(root, "data");
    this.logPath = path.join(root, "postgres.log");
  }

  /** Creates the data directory and writes the harness's settings and pg_hba.conf into it. */
  async init(config: ClusterConfig): Promise<void> {
    await this.run("creating the test PostgreSQL cluster with initdb", this.binaries.initdb, [
      "--pgdata",
      this.dataDir,
      "--username",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    await appendFile(path.join(this.dataDir, "postgresql.conf"), renderSettings(config));
    await writeFile(path.join(this.dataDir, "pg_hba.conf"), renderHba(config));
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    await this.pgCtl("starting the test PostgreSQL server", ["start", "--wait", "--timeout=60", "-l", this.logPath]);
    this.running = true;
  }

  /** Stops the server; `fast` rolls back open transactions and closes sessions, `immediate` just quits. */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    await this.pgCtl("stopping the test PostgreSQL server", ["stop", "--wait", "--timeout=60", "-m", mode]);
    this.running = false;
  }

  /** Stops the server if it runs, falling back to an immediate shutdown so no process outlives the run. */
  async shutdown(): Promise<void> {
    if (!this.running) return;
    try {
      await this.stop("fast");
    } catch {
      await this.stop("immediate");
    }
  }

  private async pgCtl(what: string, args: readonly string[]): Promise<void> {
    await this.run(what, this.binaries.pgCtl, [...args, "--pgdata", this.dataDir, "--silent"]);
  }

  private async run(what: string, file: string, args: readonly string[]): Promise<void> {
    await runAsServer(this.user, what, file, args, this.root);
  }
}
