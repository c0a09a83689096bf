import { execFile } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../ports.js";
import { retryOnPortClash, ServerProcess, waitFor } from "./process.js";

const run = promisify(execFile);

/** A single-member etcd on loopback, storing its data in a temp dir. */
export class Etcd {
  private constructor(
    readonly url: string,
    private readonly process: ServerProcess,
  ) {}

  /** Starts etcd from `binDir` with its data and log in `dir`, and waits until it is healthy. */
  static async start(binDir: string, dir: string): Promise<Etcd> {
    return retryOnPortClash(() => Etcd.startOnce(binDir, dir));
  }

  private static async startOnce(binDir: string, dir: string): Promise<Etcd> {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    // A fresh data dir each attempt: a failed one may have recorded other peer URLs.
    const dataDir = path.join(dir, "etcd-data");
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const binary = path.join(binDir, "etcd");
    const args = [
      "--name=default",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      "--log-level=warn",
      ...((await supportsNoFsync(binary)) ? ["--unsafe-no-fsync"] : []),
    ];
    const process = await ServerProcess.start("etcd", binary, args, path.join(dir, "etcd.log"));
    const etcd = new Etcd(url, process);
    try {
      await waitFor("etcd to become healthy", 30_000, [process], async () =>
        (await etcd.healthy()) ? true : undefined,
      );
    } catch (err) {
      await process.stop();
      throw err;
    }
    return etcd;
  }

  /** The operating system's process id. */
  get pid(): number {
    return this.process.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.process.running;
  }

  /** The store's current revision, read through etcd's JSON gateway. */
  async revision(): Promise<number> {
    // Any key will do: every response header carries the store's revision.
    const response = await this.post("/v3/kv/range", { key: Buffer.from("\0").toString("base64") });
    const revision = Number((response as { header?: { revision?: string } }).header?.revision);
    if (!Number.isSafeInteger(revision)) {
      throw new Error(`while reading the etcd revision: unexpected response ${JSON.stringify(response)}`);
    }
    return revision;
  }

  /** Compacts the store at its current revision, so older revisions are gone. */
  async compact(): Promise<void> {
    const revision = await this.revision();
    try {
      await this.post("/v3/kv/compaction", { revision: String(revision), physical: true });
    } catch (err) {
      // The API server compacts too; if it got there first the goal is met.
      if (!String(err).includes("required revision has been compacted")) throw err;
    }
  }

  /** The last lines of etcd's log, for error messages. */
  async logTail(): Promise<string> {
    return this.process.logTail();
  }

  /** Stops etcd (SIGTERM, SIGKILL after a grace period). */
  async stop(): Promise<void> {
    await this.process.stop();
  }

  private async healthy(): Promise<boolean> {
    const response = await fetch(`${this.url}/health`);
    const body = (await response.json()) as { health?: string };
    return body.health === "true";
  }

  private async post(endpoint: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.url}${endpoint}`, { method: "POST", body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`while calling etcd ${endpoint}: HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as unknown;
  }
}

async function supportsNoFsync(binary: string): Promise<boolean> {
  const { stdout, stderr } = await run(binary, ["--help"]).catch((err: { stdout?: string; stderr?: string }) => ({
    stdout: err.stdout ?? "",
    stderr: err.stderr ?? "",
  }));
  return `${stdout}${stderr}`.includes("--unsafe-no-fsync");
}
