/** Runs the dev session out of the terminal's reach, so that Ctrl-C stops its parts in order. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { constants } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "./paths.js";

/** How long the session's process group may take to empty after the session exited. */
const LEFTOVER_GRACE_MS = 3000;

const SESSION_SCRIPT = path.join(REPO_ROOT, "hack", "dev", "run-session.ts");

/**
 * Starts hack/dev/run-session.ts in a new process group with this terminal's output, passes the
 * first SIGINT/SIGTERM/SIGHUP on to it (a terminal's Ctrl-C would otherwise hit the API server,
 * etcd and the operator at once), kills whatever of that group outlives the session, and
 * returns the exit code to exit with.
 */
export async function superviseSession(args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", SESSION_SCRIPT, ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let signalled = false;
  const forward = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write("[dev] Still stopping: the operator finishes its work first, then the servers stop.\n");
      return;
    }
    signalled = true;
    child.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);

  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  if (child.pid !== undefined) await killLeftovers(child.pid);
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

/**
 * The session's children share its process group; any still there shortly after it exited are
 * stray. (Helpers such as tsx's esbuild service end on their own a moment after their parent.)
 */
async function killLeftovers(groupId: number): Promise<void> {
  for (let waited = 0; waited < LEFTOVER_GRACE_MS && groupAlive(groupId); waited += 100) await sleep(100);
  if (!groupAlive(groupId)) return;
  const members = await groupMembers(groupId);
  process.kill(-groupId, "SIGKILL");
  process.stderr.write(`[dev] Killed what the session left behind:\n${members.map((m) => `  ${m}`).join("\n")}\n`);
}

/** "pid command line" of every process in the group, from /proc (empty where there is none). */
async function groupMembers(groupId: number): Promise<string[]> {
  const pids = await readdir("/proc").catch(() => []);
  const members: string[] = [];
  for (const pid of pids.filter((name) => /^\d+$/.test(name))) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // The command name in parentheses may hold spaces; the process group is the 3rd field after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== groupId) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    members.push(`${pid} ${cmdline.split("\0").join(" ").trim()}`);
  }
  return members;
}

function groupAlive(groupId: number): boolean {
  try {
    process.kill(-groupId, 0);
    return true;
  } catch {
    return false; // ESRCH: the group is empty.
  }
}
