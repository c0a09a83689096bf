/**
 * `make dev` end to end: it comes up from a clean state, the psql line it prints works, and a
 * Ctrl-C (SIGINT to its whole process group, as a terminal sends it) stops everything it
 * started; then the same again, since a second `make dev` must work too.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { DEV_CA, DEV_DIR, DEV_KUBECONFIG, REPO_ROOT } from "../../hack/dev/paths.js";
import { controlPlaneBinDir } from "../harness/control-plane/binaries.js";
import { onStop } from "../harness/lifecycle.js";
import { eventually } from "../support/eventually.js";

const run = promisify(execFile);

/** The app role of the sample database awesome-application/staging (prefix_namespace naming). */
const APP_USER = "awesome_application_staging_app";

/** A `make dev` in a process group of its own, and everything it printed so far. */
interface DevRun {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
/** Session processes seen in the output; they outlive make when it is killed. */
const sessions = new Set<number>();
onStop(async () => {
  // Only after a failed test: stop what is still up the way a user would, then make sure.
  for (const child of running) killGroup(child, "SIGINT");
  for (const pid of sessions) signal(pid, "SIGTERM");
  await eventually(() => expect([...sessions].filter(isAlive)).to.deep.equal([]), 90_000, 500).catch(() => undefined);
  for (const child of running) killGroup(child, "SIGKILL");
  for (const pid of [...sessions].filter(isAlive)) signal(-pid, "SIGKILL");
});

function startMakeDev(): DevRun {
  const child = spawn("make", ["--no-print-directory", "dev", "ARGS=--ready-timeout 240"], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const dev: DevRun = {
    child,
    output: "",
    exited: new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      }),
    ),
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      dev.output += chunk.toString();
      const session = dev.output.match(/\(session pid (\d+)\)$/m);
      if (session) sessions.add(Number(session[1]));
    });
  }
  return dev;
}

function killGroup(child: ChildProcess, signalName: NodeJS.Signals): void {
  signal(-child.pid!, signalName);
}

/** Sends a signal to a process (or, for a negative pid, a process group) that may be gone already. */
function signal(pid: number, signalName: NodeJS.Signals): void {
  try {
    process.kill(pid, signalName);
  } catch {
    // Gone already.
  }
}

/** Waits until the output has a line matching `pattern`; fails with the output when make exits first. */
async function waitForLine(dev: DevRun, pattern: RegExp): Promise<RegExpMatchArray> {
  let exited = false;
  void dev.exited.then(() => (exited = true));
  for (;;) {
    const match = dev.output.match(pattern);
    if (match) return match;
    if (exited) throw new Error(`make dev exited before printing ${pattern}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The pids and temp dirs the run reported for its servers and the operator. */
function startedProcesses(output: string): { pids: number[]; dirs: string[] } {
  const pids = [...output.matchAll(/^\[dev\] .*?\bpids? ([\d, ]+)[;,]/gm)].flatMap((m) =>
    m[1]!.split(", ").map(Number),
  );
  const dirs = [...output.matchAll(/; files in (\/\S+)$/gm)].map((m) => m[1]!);
  return { pids, dirs };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Command lines of the running processes that mention one of `dirs`. */
async function processesUsing(dirs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").join(" ");
    if (dirs.some((dir) => cmdline.includes(dir))) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

/** What a run reported once it was up: the psql line, and what must be gone after it stopped. */
interface Started {
  readonly psqlLine: string;
  /** The session process, the servers and the operator. */
  readonly pids: readonly number[];
  /** The temp dirs of the control plane and PostgreSQL. */
  readonly dirs: readonly string[];
}

/** Waits for the psql line and checks what the run printed before it. */
async function waitUntilUp(dev: DevRun): Promise<Started> {
  const [psqlLine] = await waitForLine(dev, /^ {2}PGPASSWORD=\S+ psql .*$/m);
  expect(dev.output).to.match(/^\[dev\] kubectl describe pgdb staging -n awesome-application$/m);
  expect(dev.output).to.match(/^\[dev\] Name:\s+staging$/m);
  expect(dev.output).to.include(`export KUBECONFIG=${DEV_KUBECONFIG}`);
  expect(psqlLine).to.include(`sslmode=verify-full sslrootcert=${DEV_CA}`);

  const { pids, dirs } = startedProcesses(dev.output);
  // No kube-controller-manager when KUBEBUILDER_ASSETS points at envtest's binaries.
  const expected = "the pids of etcd, kube-apiserver, kube-controller-manager, postgres and the operator";
  expect(pids.length, expected).to.be.oneOf([4, 5]);
  expect(dirs, "the temp dirs of the control plane and PostgreSQL").to.have.length(2);
  const session = Number(dev.output.match(/\(session pid (\d+)\)$/m)?.[1]);
  expect(session, "the session's pid").to.be.above(0);
  const all = [session, ...pids];
  expect(
    all.filter((pid) => !isAlive(pid)),
    "pids not running",
  ).to.deep.equal([]);
  return { psqlLine: psqlLine.trim(), pids: all, dirs };
}

/** Checks the kubeconfig and the psql line that the run printed against what it runs. */
async function expectWorkingInstructions(started: Started): Promise<void> {
  const kubectl = path.join(await controlPlaneBinDir(), "kubectl");
  const ready = await run(kubectl, [
    `--kubeconfig=${DEV_KUBECONFIG}`,
    "get",
    "pgdb",
    "staging",
    "-n",
    "awesome-application",
    "-o",
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  ]);
  expect(ready.stdout, "Ready through the printed kubeconfig").to.equal("True");

  const { stdout } = await run("bash", ["-c", `${started.psqlLine} -At -c 'select current_user'`], { cwd: "/" });
  expect(stdout.trim()).to.equal(APP_USER);
}

/** Checks that the run stopped the operator gracefully and left no process and no temp dir. */
async function expectNothingLeft(dev: DevRun, started: Started): Promise<void> {
  expect(dev.output).to.match(/^\[dev\] Operator stopped \(exit code 0\)$/m);
  expect(dev.output).to.include("[dev] Stopped everything; nothing is left running.");
  expect(dev.output).not.to.include("Killed what the session left behind");
  // pg_ctl returns once postgres removed its pid file, a moment before the process is gone.
  await eventually(async () => {
    expect(started.pids.filter(isAlive), "pids still running").to.deep.equal([]);
    expect(await processesUsing(started.dirs)).to.deep.equal([]);
  }, 10_000);
  for (const pid of started.pids) sessions.delete(pid);
  const left = started.dirs.filter((dir) => existsSync(dir));
  expect(left, "temp dirs left").to.deep.equal([]);
}

/** Runs one `make dev` up to the psql line, checks it, presses Ctrl-C and checks nothing is left. */
async function upConnectAndInterrupt(dev: DevRun): Promise<void> {
  const started = await waitUntilUp(dev);
  await expectWorkingInstructions(started);
  killGroup(dev.child, "SIGINT");
  const exit = await dev.exited;
  expect(exit, "make is interrupted too").to.deep.equal({ code: null, signal: "SIGINT" });
  await expectNothingLeft(dev, started);
}

describe("make dev", function () {
  this.timeout(10 * 60_000);
  let dev: DevRun | undefined;

  afterEach(function () {
    if (this.currentTest?.state === "failed" && dev) {
      console.error(`--- output of make dev ---\n${dev.output}\n--- end of make dev's output ---`);
    }
  });

  it("comes up from a clean state, prints a working psql line and stops everything on Ctrl-C", async () => {
    await rm(DEV_DIR, { recursive: true, force: true });
    dev = startMakeDev();
    await upConnectAndInterrupt(dev);
  });

  it("comes up again after Ctrl-C, with fresh servers and the stable paths overwritten", async () => {
    const before = await readFile(DEV_KUBECONFIG, "utf8");
    dev = startMakeDev();
    await upConnectAndInterrupt(dev);
    expect(await readFile(DEV_KUBECONFIG, "utf8")).not.to.equal(before);
  });

  it("stops everything when make and its terminal process are killed outright", async () => {
    const killed = startMakeDev();
    dev = killed;
    const started = await waitUntilUp(killed);
    killGroup(killed.child, "SIGKILL");
    await killed.exited;
    await eventually(() => expect(killed.output).to.include("[dev] Stopped everything"), 120_000, 200);
    await expectNothingLeft(killed, started);
  });
});
