import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Condition } from "../../api/v1alpha1/index.js";
import { type HealthChecks, runHealthCheck, writeHealthChecks } from "../deploy/argocd-health.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";
import { renderFixture, serverValues } from "./fixtures.js";
import { getJson, kubectl, waitFor } from "./kubectl.js";
import { dumpOnFailure, installOperator, type OperatorDeployment, OperatorProcess } from "./operator-process.js";

const NAMESPACE = "e2e-argocd-health";

/** The parts of a Kompost object the health checks read. */
interface KompostObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly generation?: number; readonly deletionTimestamp?: string };
  readonly status?: { readonly observedGeneration?: number; readonly conditions?: readonly Condition[] };
}

function readyOf(object: KompostObject): Condition {
  const ready = object.status?.conditions?.find((condition) => condition.type === "Ready");
  if (!ready) throw new Error(`${object.kind} ${object.metadata.name} has no Ready condition`);
  return ready;
}

/**
 * The Argo CD health checks of config/argocd fed with objects the operator really produced, as
 * its ServiceAccount: right after create, Ready, failing, and held back while being deleted.
 */
describe("the Argo CD health checks on what the operator really wrote (end to end)", function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let srv: PostgresServer;
  let deployment: OperatorDeployment;
  let operator: OperatorProcess | undefined;
  let dir: string;
  let checks: HealthChecks;

  const get = (resource: string) => getJson<KompostObject>(cp, [resource, "-n", NAMESPACE]);
  const health = (object: KompostObject) => runHealthCheck(checks.get(object.kind)!, object);
  const apply = async (file: string, values: Record<string, string | number>) =>
    kubectl(cp, ["apply", "-f", "-"], { input: await renderFixture(file, { namespace: NAMESPACE, ...values }) });
  const applyInstance = (name: string, password: string) =>
    apply("instance.yaml", {
      ...serverValues(srv, srv.limitedAdmin),
      passwordBase64: Buffer.from(password).toString("base64"),
      name,
      secretName: `${name}-password`,
    });

  before(async function () {
    this.timeout(600_000);
    [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    deployment = await installOperator(cp);
    await cp.createNamespace(NAMESPACE);
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-e2e-argocd-"));
    checks = await writeHealthChecks(dir);
  });

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operator ? [operator] : []);
  });

  after(async () => {
    await operator?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reports Progressing for a resource the operator has not reconciled yet", async () => {
    // No replica runs yet, so the objects are exactly as kubectl created them.
    await applyInstance("healthy", srv.limitedAdmin.password);
    await apply("database-on-instance.yaml", { name: "healthy", instance: "healthy" });
    for (const resource of ["pginst/healthy", "pgdb/healthy"]) {
      const object = await get(resource);
      expect(object.status?.conditions, resource).to.equal(undefined);
      expect(await health(object), resource).to.deep.equal({
        status: "Progressing",
        message: "Waiting for the operator to reconcile generation 1",
      });
    }
  });

  it("reports Healthy once the operator made the instance and the database Ready", async () => {
    operator = await OperatorProcess.start(deployment, { name: "argocd-health" });
    await operator.waitReady();
    for (const resource of ["pginst/healthy", "pgdb/healthy"]) {
      await waitFor(cp, resource, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 90 });
      const object = await get(resource);
      expect(await health(object), resource).to.deep.equal({
        status: "Healthy",
        message: `Ready: ${readyOf(object).message}`,
      });
    }
  });

  it("reports Degraded, with the operator's reason and message, for an instance with a wrong password", async () => {
    await applyInstance("wrong-password", "not-the-password");
    await waitFor(cp, "pginst/wrong-password", "condition=Ready=False", { namespace: NAMESPACE, timeoutSeconds: 90 });
    const object = await get("pginst/wrong-password");
    const ready = readyOf(object);
    expect(await health(object)).to.deep.equal({ status: "Degraded", message: `${ready.reason}: ${ready.message}` });
    expect(ready.message).to.match(/password/i);
  });

  it("reports Progressing, with what holds it back, for an instance deleted while a database uses it", async () => {
    await kubectl(cp, ["delete", "pginst", "healthy", "-n", NAMESPACE, "--wait=false"]);
    const object = await eventually(async () => {
      const deleting = await get("pginst/healthy");
      expect(deleting.metadata.deletionTimestamp).to.be.a("string");
      expect(readyOf(deleting).message).to.include(`${NAMESPACE}/healthy`);
      return deleting;
    }, 60_000);
    expect(await health(object)).to.deep.equal({
      status: "Progressing",
      message: `Being deleted: ${readyOf(object).message}`,
    });

    // Once the database is gone the instance follows.
    await kubectl(cp, ["delete", "pgdb", "healthy", "-n", NAMESPACE, "--timeout=90s"]);
    await kubectl(cp, ["wait", "pginst/healthy", "-n", NAMESPACE, "--for=delete", "--timeout=60s"]);
    await kubectl(cp, ["delete", "pginst", "wrong-password", "-n", NAMESPACE, "--timeout=60s"]);
  });
});
