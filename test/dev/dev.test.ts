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
onStop(() => {
  // Only after a failed test: a run that is still up gets its whole group killed.
  for (const child of running) killGroup(child, "SIGKILL");
  return Promise.resolve();
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
  for (const stream of [child.stdout, child.stderr])
    stream.on("data", (chunk: Buffer) => (dev.output += chunk.toString()));
  return dev;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group is gone already.
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

/** Runs one `make dev` up to the psql line, checks it, presses Ctrl-C and checks nothing is left. */
async function upConnectAndStop(dev: DevRun): Promise<void> {
  const [line] = await waitForLine(dev, /^ {2}PGPASSWORD=\S+ psql .*$/m);
  expect(dev.output).to.match(/^\[dev\] kubectl describe pgdb staging -n awesome-application$/m);
  expect(dev.output).to.match(/^\[dev\] Name:\s+staging$/m);
  expect(dev.output).to.include(`export KUBECONFIG=${DEV_KUBECONFIG}`);
  expect(line).to.include(`sslmode=verify-full sslrootcert=${DEV_CA}`);

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

  const { stdout } = await run("bash", ["-c", `${line.trim()} -At -c 'select current_user'`], { cwd: "/" });
  expect(stdout.trim()).to.equal(APP_USER);

  const { pids, dirs } = startedProcesses(dev.output);
  // No kube-controller-manager when KUBEBUILDER_ASSETS points at envtest's binaries.
  const expected = "the pids of etcd, kube-apiserver, kube-controller-manager, postgres and the operator";
  expect(pids.length, expected).to.be.oneOf([4, 5]);
  expect(dirs, "the temp dirs of the control plane and PostgreSQL").to.have.length(2);
  expect(pids.every(isAlive)).to.equal(true);

  killGroup(dev.child, "SIGINT");
  const exit = await dev.exited;
  expect(exit, "make is interrupted too").to.deep.equal({ code: null, signal: "SIGINT" });
  expect(dev.output).to.match(/^\[dev\] Operator stopped \(exit code 0\)$/m);
  expect(dev.output).to.include("[dev] Stopped everything; nothing is left running.");
  expect(dev.output).not.to.include("Killed what the session left behind");
  // pg_ctl returns once postgres removed its pid file, a moment before the process is gone.
  await eventually(async () => {
    expect(pids.filter(isAlive), "pids still running").to.deep.equal([]);
    expect(await processesUsing(dirs)).to.deep.equal([]);
  }, 10_000);
  expect(
    dirs.filter((dir) => existsSync(dir)),
    "temp dirs left",
  ).to.deep.equal([]);
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
    await upConnectAndStop(dev);
  });

  it("comes up again after Ctrl-C, with fresh servers and the stable paths overwritten", async () => {
    const before = await readFile(DEV_KUBECONFIG, "utf8");
    dev = startMakeDev();
    await upConnectAndStop(dev);
    expect(await readFile(DEV_KUBECONFIG, "utf8")).not.to.equal(before);
  });
});
