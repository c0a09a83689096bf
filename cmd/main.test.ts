import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, CoreV1Api, V1MicroTime } from "@kubernetes/client-node";
import type { V1Lease } from "@kubernetes/client-node";
import { expect } from "chai";
import { controlPlane } from "../test/harness/control-plane.js";
import type { ControlPlane } from "../test/harness/control-plane.js";
import { spawnOperator, type SpawnedOperator } from "../test/harness/operator-process.js";
import { eventually } from "../test/support/eventually.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const LEASE = "kompost.chuge.li";
/** The entrypoint with a slow test controller on ConfigMaps instead of the product's controllers. */
const SLOW_OPERATOR = "cmd/testdata/slow-operator.ts";
/** What the slow operator sets once a reconcile finished (importing the fixture would run it). */
const RECONCILED_ANNOTATION = "kompost.test/reconciled";

/** The real entrypoint as a child process, with what it wrote and how it ended. */
interface Operator extends SpawnedOperator {
  stdout: string;
  stderr: string;
}

async function startOperator(
  args: readonly string[],
  { script = "cmd/main.ts", env = {} }: { script?: string; env?: Record<string, string> } = {},
): Promise<Operator> {
  const spawned = await spawnOperator({
    entrypoint: ["--import", "tsx", script],
    args,
    cwd: REPO,
    env: { ...process.env, POD_NAMESPACE: "", ...env },
  });
  const op: Operator = { ...spawned, stdout: "", stderr: "" };
  spawned.child.stdout!.on("data", (chunk: Buffer) => (op.stdout += chunk.toString()));
  spawned.child.stderr!.on("data", (chunk: Buffer) => (op.stderr += chunk.toString()));
  return op;
}

/** The JSON log lines the operator wrote; fails on any line that is not JSON. */
function logLines(op: Operator): Array<{ level: string; message: string } & Record<string, unknown>> {
  return op.stderr
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { level: string; message: string });
}

/** The messages of the operator's log lines, in order. */
function messages(op: Operator): string[] {
  return logLines(op).map((line) => line.message);
}

describe("kompost entrypoint", function () {
  let cp: ControlPlane;
  let api: CoordinationV1Api;
  let core: CoreV1Api;
  let namespace: string;
  const operators: Operator[] = [];

  before(async function () {
    this.timeout(180_000);
    cp = await controlPlane();
    api = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
  });

  beforeEach(async () => {
    namespace = `main-${randomBytes(4).toString("hex")}`;
    await cp.createNamespace(namespace);
  });

  afterEach(function () {
    for (const op of operators.splice(0)) {
      if (this.currentTest?.state === "failed")
        console.error(`--- operator logs (pid ${op.child.pid}) ---\n${op.stderr}`);
      op.child.kill("SIGKILL");
    }
  });

  async function start(
    extra: readonly string[] = [],
    options: Parameters<typeof startOperator>[1] = {},
  ): Promise<Operator> {
    const op = await startOperator(
      [`--kubeconfig=${cp.kubeconfigPath}`, "--leader-elect", `--leader-election-namespace=${namespace}`, ...extra],
      options,
    );
    operators.push(op);
    return op;
  }

  const readLease = (): Promise<V1Lease> => api.readNamespacedLease({ name: LEASE, namespace });

  /** Waits until the operator logged "Acquired lease" and the Lease names it; returns its identity. */
  async function waitUntilLeading(op: Operator): Promise<string> {
    await eventually(async () => expect((await fetch(`${op.healthProbeUrl}/readyz`)).status).to.equal(200), 30_000);
    const identity = await eventually(() => {
      const acquired = logLines(op).find((line) => line.message === "Acquired lease");
      expect(acquired, "an Acquired lease log line").to.not.equal(undefined);
      return String(acquired!.identity);
    }, 30_000);
    expect(identity).to.match(/_[0-9a-f-]{36}$/);
    expect((await readLease()).spec?.holderIdentity).to.equal(identity);
    return identity;
  }

  it("becomes ready, and on SIGTERM releases the Lease and exits 0", async () => {
    const op = await start();
    await waitUntilLeading(op);
    expect((await fetch(`${op.healthProbeUrl}/healthz`)).status).to.equal(200);
    const metrics = await (await fetch(`${op.metricsUrl}/metrics`)).text();
    expect(metrics).to.contain(`leader_election_master_status{name="${LEASE}"} 1`);
    op.child.kill("SIGTERM");
    expect(await op.exited).to.deep.equal({ code: 0, signal: null });
    expect((await readLease()).spec?.holderIdentity ?? "").to.equal("");
    const messages = logLines(op).map((line) => line.message);
    expect(messages).to.include.members(["Received signal; shutting down", "Released lease", "Stopped manager"]);
  });

  it("stops on SIGINT as on SIGTERM", async () => {
    const op = await start();
    await waitUntilLeading(op);
    op.child.kill("SIGINT");
    expect(await op.exited).to.deep.equal({ code: 0, signal: null });
    expect((await readLease()).spec?.holderIdentity ?? "").to.equal("");
  });

  it("exits 1 so that it is restarted when it loses the Lease", async () => {
    const op = await start();
    await waitUntilLeading(op);
    const lease = await readLease();
    await api.replaceNamespacedLease({
      name: LEASE,
      namespace,
      body: {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 3600, renewTime: new V1MicroTime() },
      },
    });
    expect(await op.exited).to.deep.equal({ code: 1, signal: null });
    expect(logLines(op).map((line) => line.message)).to.include.members(["Lost lease", "Exiting after a fatal error"]);
    expect((await readLease()).spec?.holderIdentity).to.equal("intruder");
  });

  it("is replaced by a new replica after the lease duration when killed without releasing", async () => {
    const first = await start();
    const firstHolder = await waitUntilLeading(first);
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await start();
    const secondHolder = await waitUntilLeading(second);
    expect(secondHolder).to.not.equal(firstHolder);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).to.equal(0);
  });

  async function reconciledAnnotation(name: string): Promise<string | undefined> {
    const cm = await core.readNamespacedConfigMap({ name, namespace });
    return cm.metadata?.annotations?.[RECONCILED_ANNOTATION];
  }

  async function slowOperatorReconciling(delayMs: number): Promise<Operator> {
    const op = await start([], {
      script: SLOW_OPERATOR,
      env: { TEST_NAMESPACE: namespace, SLOW_RECONCILE_MS: String(delayMs) },
    });
    await waitUntilLeading(op);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "slow" }, data: { a: "b" } } });
    await eventually(() => expect(messages(op)).to.include("Slow reconcile started"), 30_000);
    return op;
  }

  it("finishes a reconcile in flight on SIGTERM, then releases the Lease and exits 0", async () => {
    const op = await slowOperatorReconciling(3_000);
    op.child.kill("SIGTERM");
    expect(await op.exited).to.deep.equal({ code: 0, signal: null });
    expect(await reconciledAnnotation("slow")).to.equal("true");
    expect((await readLease()).spec?.holderIdentity ?? "").to.equal("");
    const log = messages(op);
    const order = ["Received signal; shutting down", "Slow reconcile finished", "Released lease", "Stopped manager"];
    expect(order.map((message) => log.indexOf(message))).to.deep.equal(
      order.map((message) => log.indexOf(message)).sort((a, b) => a - b),
    );
    expect(order.every((message) => log.includes(message))).to.equal(true);
  });

  it("exits at once with 1 on a second signal, without waiting for the reconcile", async () => {
    const op = await slowOperatorReconciling(60_000);
    op.child.kill("SIGTERM");
    await eventually(() => expect(messages(op)).to.include("Received signal; shutting down"), 10_000);
    op.child.kill("SIGTERM");
    expect(await op.exited).to.deep.equal({ code: 1, signal: null });
    expect(await reconciledAnnotation("slow")).to.equal(undefined);
    expect(messages(op)).to.not.include("Slow reconcile finished");
  });

  it("exits 2 with one line naming the flag when a value is bad", async () => {
    const op = await startOperator(["--resync-period=banana"]);
    expect(await op.exited).to.deep.equal({ code: 2, signal: null });
    expect(op.stderr).to.equal(
      'kompost: invalid value "banana" for --resync-period: expected a duration of at least 1s, such as 30s, 5m or 1h\n',
    );
  });

  it("prints the flags for --help and exits 0", async () => {
    const op = await startOperator(["--help"]);
    expect(await op.exited).to.deep.equal({ code: 0, signal: null });
    expect(op.stdout).to.match(/^Usage: kompost \[flags\]/);
    expect(op.stdout).to.contain("--leader-elect");
  });
});
