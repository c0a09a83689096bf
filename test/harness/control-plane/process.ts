import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** How long a server gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/** A long-running server binary whose output goes to a log file. */
export class ServerProcess {
  private exitCode: number | string | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? signal ?? "unknown";
        resolve();
      });
    });
  }

  /** Starts `command args`, appending stdout and stderr to `logPath`. */
  static async start(name: string, command: string, args: readonly string[], logPath: string): Promise<ServerProcess> {
    const fd = openSync(logPath, "a");
    try {
      const child = spawn(command, args, { stdio: ["ignore", fd, fd] });
      const server = new ServerProcess(name, logPath, child);
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", (err) => reject(new Error(`while starting ${name} (${command}): ${err.message}`)));
      });
      return server;
    } finally {
      closeSync(fd);
    }
  }

  /** The operating system's process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Why the process is no longer running, for error messages. */
  get exitDescription(): string {
    return typeof this.exitCode === "number" ? `exited with code ${this.exitCode}` : `was killed by ${this.exitCode}`;
  }

  /** Sends SIGTERM, then SIGKILL after a grace period, and waits for the exit. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = new AbortController();
    const killed = sleep(graceMs, undefined, { signal: timer.signal }).then(
      () => this.running && this.child.kill("SIGKILL"),
      () => undefined,
    );
    await this.exited;
    timer.abort();
    await killed;
  }

  /** The last lines of the log, to put into an error message. */
  async logTail(lines = 30): Promise<string> {
    const text = await readFile(this.logPath, "utf8").catch(() => "");
    const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
    return `--- last lines of ${this.logPath} ---\n${tail}`;
  }
}

/**
 * Calls `check` until it returns a value other than undefined, failing with
 * the servers' log tails when one of them exits or the time is up.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  servers: readonly ServerProcess[],
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    const dead = servers.find((s) => !s.running);
    if (dead) {
      throw new Error(`while waiting for ${what}: ${dead.name} ${dead.exitDescription}\n${await dead.logTail()}`);
    }
    try {
      const result = await check();
      if (result !== undefined) return result;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const tails = await Promise.all(servers.map((s) => s.logTail()));
      const last = lastError ? ` (last error: ${lastError})` : "";
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last}\n${tails.join("\n")}`);
    }
    await sleep(100);
  }
}

/**
 * Runs `start` again, up to three times in all, when it failed because another
 * process took its port between freePort() and the bind.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !String(err).includes("address already in use")) throw err;
    }
  }
}
