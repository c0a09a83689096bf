import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Condition } from "../../api/v1alpha1/index.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { type Health, type HealthChecks, runHealthCheck, writeHealthChecks } from "../deploy/argocd-health.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { freePort } from "../harness/ports.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";
import { renderFixture, serverValues } from "./fixtures.js";
import { kstatus, kstatusBinary, type KstatusVerdict } from "./kstatus.js";
import { getJson, kubectl } from "./kubectl.js";
import { dumpOnFailure, installOperator, type OperatorDeployment, OperatorProcess } from "./operator-process.js";

const NAMESPACE = "e2e-kstatus";
/** A namespace that no instance of NAMESPACE admits. */
const OTHER_NAMESPACE = "e2e-kstatus-other";
const CLUSTER_INSTANCE = "e2e-kstatus";

/** The parts of a Kompost object that kstatus and the Argo CD health check read. */
interface KompostObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly generation?: number; readonly deletionTimestamp?: string };
  readonly status?: { readonly observedGeneration?: number; readonly conditions?: readonly Condition[] };
}

/** What both GitOps readers say about one object. */
interface Verdicts {
  readonly object: KompostObject;
  readonly kstatus: KstatusVerdict;
  readonly argocd: Health;
}

function conditionOf(object: KompostObject, type: string): Condition | undefined {
  return object.status?.conditions?.find((condition) => condition.type === type);
}

/**
 * Issue 13 item 5: the status the operator really writes (run as its ServiceAccount, on the real
 * API server and PostgreSQL) read by the real kstatus library (hack/kstatus: what Flux and
 * cli-utils' pollers compute) next to the Argo CD health check, for all three kinds: Ready is
 * Current, work underway (waiting for an instance, an unreachable server, a held deletion) is
 * InProgress with Reconciling True, and what only a user's change fixes is Failed with Stalled True.
 */
describe("kstatus and Argo CD on the status the operator really wrote (end to end)", function () {
  this.timeout(240_000);
  let cp: ControlPlane;
  let srv: PostgresServer;
  let deployment: OperatorDeployment;
  let operator: OperatorProcess | undefined;
  let dir: string;
  let checks: HealthChecks;
  let unreconciled: Verdicts;
  const foreignDatabase = `${NAMESPACE}_foreign`.replace(/[^a-z0-9_]/g, "_");

  const apply = async (file: string, values: Record<string, string | number>) =>
    kubectl(cp, ["apply", "-f", "-"], { input: await renderFixture(file, { namespace: NAMESPACE, ...values }) });
  const applyInstance = (name: string, overrides: Record<string, string | number> = {}) =>
    apply("instance.yaml", {
      ...serverValues(srv, srv.limitedAdmin),
      name,
      secretName: `${name}-password`,
      ...overrides,
    });
  const applyDatabase = (name: string, instance: string, spec = "") =>
    kubectl(cp, ["apply", "-f", "-"], {
      input: [
        "apiVersion: kompost.chuge.li/v1alpha1",
        "kind: PostgresDatabase",
        `metadata: {name: ${name}, namespace: ${NAMESPACE}}`,
        "spec:",
        `  instanceRef: ${instance}`,
        spec,
      ].join("\n"),
    });

  /** Reads the object and what kstatus and the Argo CD check say about it. */
  const verdicts = async (resource: string, namespace = NAMESPACE): Promise<Verdicts> => {
    const object = await getJson<KompostObject>(cp, [resource, "-n", namespace]);
    const [verdict] = await kstatus([object]);
    return { object, kstatus: verdict!, argocd: await runHealthCheck(checks.get(object.kind)!, object) };
  };
  /** Waits until `type` is `status` (with `reason` when given) and returns the verdicts on that object. */
  const whenCondition = (resource: string, type: string, status: string, reason?: string, namespace = NAMESPACE) =>
    eventually(async () => {
      const found = await verdicts(resource, namespace);
      const condition = conditionOf(found.object, type);
      expect(condition, `${type} of ${resource}: ${JSON.stringify(found.object.status)}`).to.not.equal(undefined);
      expect(condition, `${resource}: ${JSON.stringify(found.object.status)}`).to.include({
        status,
        ...(reason ? { reason } : {}),
      });
      return found;
    }, 90_000);

  /** Every condition was written for the current generation; Reconciling and Stalled are gone once Ready. */
  const expectCurrent = ({ object, kstatus: verdict, argocd }: Verdicts) => {
    const name = `${object.kind} ${object.metadata.name}`;
    expect(verdict, name).to.deep.include({ status: "Current", message: "Resource is Ready" });
    expect(argocd.status, name).to.equal("Healthy");
    expect(object.status?.observedGeneration, name).to.equal(object.metadata.generation);
    for (const condition of object.status?.conditions ?? []) {
      expect(condition.observedGeneration, `${name} ${condition.type}`).to.equal(object.metadata.generation);
    }
    expect(conditionOf(object, "Reconciling"), name).to.equal(undefined);
    expect(conditionOf(object, "Stalled"), name).to.equal(undefined);
  };
  /** kstatus InProgress with Reconciling's reason and message, Argo CD Progressing, nothing Stalled. */
  const expectInProgress = ({ object, kstatus: verdict, argocd }: Verdicts) => {
    const reconciling = conditionOf(object, "Reconciling")!;
    expect(verdict).to.deep.include({ status: "InProgress", message: reconciling.message });
    expect(argocd.status).to.equal("Progressing");
    expect(conditionOf(object, "Stalled")).to.equal(undefined);
    expect(reconciling.observedGeneration).to.equal(object.metadata.generation);
  };
  /** kstatus Failed with Stalled's message, Argo CD Degraded with the same message, nothing Reconciling. */
  const expectFailed = ({ object, kstatus: verdict, argocd }: Verdicts) => {
    const stalled = conditionOf(object, "Stalled")!;
    expect(verdict).to.deep.include({ status: "Failed", message: stalled.message });
    expect(argocd).to.deep.equal({ status: "Degraded", message: `${stalled.reason}: ${stalled.message}` });
    expect(conditionOf(object, "Reconciling")).to.equal(undefined);
    expect(conditionOf(object, "Ready")).to.include({ status: "False" });
    expect(stalled.observedGeneration).to.equal(object.metadata.generation);
  };

  before(async function () {
    this.timeout(600_000);
    [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    [deployment] = await Promise.all([installOperator(cp), kstatusBinary()]);
    await cp.createNamespace(NAMESPACE);
    await cp.createNamespace(OTHER_NAMESPACE);
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-e2e-kstatus-"));
    checks = await writeHealthChecks(dir);
    const superuser = await srv.connect();
    try {
      // Someone else's database under the name a PostgresDatabase below would get.
      await superuser.query(`CREATE DATABASE ${quoteIdent(foreignDatabase)}`);
    } finally {
      await superuser.end();
    }
    // Before any replica runs: the object exactly as the API server keeps it after `kubectl apply`.
    await applyDatabase("early", "{name: late}");
    unreconciled = await verdicts("pgdb/early");
    operator = await OperatorProcess.start(deployment, { name: "kstatus" });
    await operator.waitReady();
  });

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operator ? [operator] : []);
  });

  after(async () => {
    for (const namespace of [NAMESPACE, OTHER_NAMESPACE]) {
      await kubectl(cp, ["delete", "pgdb", "--all", "-n", namespace, "--timeout=90s"]).catch(() => undefined);
      await kubectl(cp, ["delete", "pginst", "--all", "-n", namespace, "--timeout=60s"]).catch(() => undefined);
    }
    await kubectl(cp, ["delete", "pgcinst", CLUSTER_INSTANCE, "--timeout=60s"]).catch(() => undefined);
    await operator?.stop();
    const superuser = await srv.connect();
    await superuser.query(`DROP DATABASE IF EXISTS ${quoteIdent(foreignDatabase)}`).finally(() => superuser.end());
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reports InProgress for a new object before the operator has seen it (observedGeneration defaults to 0)", () => {
    expect(unreconciled.object.status).to.deep.equal({ observedGeneration: 0 });
    expect(unreconciled.kstatus).to.deep.include({
      status: "InProgress",
      message: "PostgresDatabase generation is 1, but latest observed generation is 0",
    });
    expect(unreconciled.argocd).to.deep.equal({
      status: "Progressing",
      message: "Waiting for the operator to reconcile generation 1",
    });
  });

  it("reports InProgress (Reconciling) while a database waits for its instance, then Current for all three kinds once Ready", async () => {
    expectInProgress(await whenCondition("pgdb/early", "Reconciling", "True", "InstanceNotFound"));

    await applyInstance("late");
    await apply("cluster-instance.yaml", {
      ...serverValues(srv, srv.superuser),
      name: CLUSTER_INSTANCE,
      secretName: `${CLUSTER_INSTANCE}-password`,
      operatorNamespace: deployment.namespace,
    });
    await apply("database-on-cluster-instance.yaml", { name: "on-cluster", clusterInstance: CLUSTER_INSTANCE });
    for (const resource of ["pginst/late", `pgcinst/${CLUSTER_INSTANCE}`, "pgdb/early", "pgdb/on-cluster"]) {
      expectCurrent(await whenCondition(resource, "Ready", "True"));
    }
  });

  it("reports InProgress (Reconciling) for an instance whose server does not answer yet", async () => {
    await applyInstance("unreachable", { port: await freePort() });
    const found = await whenCondition("pginst/unreachable", "Reconciling", "True", "Unreachable");
    expectInProgress(found);
    expect(conditionOf(found.object, "Ready")).to.include({ status: "False", reason: "Unreachable" });
  });

  it("reports Failed (Stalled) for what only a user's change fixes: a wrong admin password, a foreign database, invalid params, an instance that does not admit the namespace", async () => {
    await applyInstance("wrong-password", { passwordBase64: Buffer.from("not-the-password").toString("base64") });
    await applyDatabase("foreign", "{name: late}");
    await applyDatabase("bad-params", "{name: late}", "  params: {encoding: NO_SUCH_ENCODING}");
    await kubectl(cp, ["apply", "-f", "-"], {
      input: [
        "apiVersion: kompost.chuge.li/v1alpha1",
        "kind: PostgresDatabase",
        `metadata: {name: not-admitted, namespace: ${OTHER_NAMESPACE}}`,
        `spec: {instanceRef: {name: late, namespace: ${NAMESPACE}}}`,
      ].join("\n"),
    });

    expectFailed(await whenCondition("pginst/wrong-password", "Stalled", "True", "AuthenticationFailed"));
    expectFailed(await whenCondition("pgdb/foreign", "Stalled", "True", "ForeignObject"));
    expectFailed(await whenCondition("pgdb/bad-params", "Stalled", "True", "InvalidParameter"));
    expectFailed(await whenCondition("pgdb/not-admitted", "Stalled", "True", "InstanceNotAllowed", OTHER_NAMESPACE));
  });

  it("reports Terminating (kstatus) and Progressing (Argo CD), with Reconciling saying why, while a deletion waits for databases", async () => {
    await kubectl(cp, ["delete", "pginst", "late", "-n", NAMESPACE, "--wait=false"]);
    const found = await whenCondition("pginst/late", "Reconciling", "True", "DeletionBlocked");
    expect(found.kstatus.status).to.equal("Terminating");
    expect(found.argocd.status).to.equal("Progressing");
    expect(conditionOf(found.object, "Reconciling")!.message).to.include(`${NAMESPACE}/early`);
  });
});
