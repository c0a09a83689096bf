import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import {
  type Health,
  type HealthChecks,
  healthKey,
  KINDS,
  readArgocdCm,
  runHealthCheck,
  writeHealthChecks,
} from "./argocd-health.js";
import { ARGOCD_CM_HEADER, kustomize, type Manifest, repoPath } from "./manifests.js";

/** A fixture of test/deploy/fixtures. */
async function fixture(name: string): Promise<Manifest> {
  return parse(await readFile(repoPath("test", "deploy", "fixtures", name), "utf8")) as Manifest;
}

describe("the Argo CD health checks (config/argocd)", function () {
  let dir: string;
  let argocdCm: Manifest;
  /** The health check of each kind, as written to a file from config/argocd/argocd-cm.yaml. */
  let scripts: HealthChecks;

  before(async function () {
    this.timeout(600_000);
    dir = await mkdtemp(path.join(os.tmpdir(), "kompost-argocd-health-"));
    argocdCm = await readArgocdCm();
    scripts = await writeHealthChecks(dir);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const check = async (name: string): Promise<Health> => {
    const object = await fixture(name);
    return runHealthCheck(scripts.get(object.kind)!, object);
  };

  it("keeps config/argocd/argocd-cm.yaml equal to its rendering from health.lua (run `make build-installer`)", async () => {
    const shipped = await readFile(repoPath("config", "argocd", "argocd-cm.yaml"), "utf8");
    expect(
      shipped === ARGOCD_CM_HEADER + (await kustomize("config/argocd/health")),
      "argocd-cm.yaml is stale",
    ).to.equal(true);
  });

  it("installs the same health check for each of the three kinds in argocd-cm", async () => {
    expect(argocdCm.kind).to.equal("ConfigMap");
    expect(argocdCm.metadata).to.deep.include({ name: "argocd-cm", namespace: "argocd" });
    const source = await readFile(repoPath("config", "argocd", "health", "health.lua"), "utf8");
    const data = argocdCm.data as Record<string, string>;
    expect(Object.keys(data)).to.have.members(KINDS.map(healthKey));
    for (const kind of KINDS) expect(data[healthKey(kind)], kind).to.equal(source);
  });

  it("reports Healthy when Ready is True for the current generation", async () => {
    expect(await check("database-ready.yaml")).to.deep.equal({
      status: "Healthy",
      message: "Ready: All conditions are met",
    });
    expect((await check("cluster-instance-ready.yaml")).status).to.equal("Healthy");
  });

  it("reports Progressing while the operator has not written a status yet", async () => {
    expect(await check("database-new.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Waiting for the operator to reconcile generation 1",
    });
  });

  it("reports Progressing when the spec changed since Ready was reported", async () => {
    expect(await check("database-changed.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Waiting for the operator to reconcile generation 3",
    });
  });

  it("reports Progressing while conditions are still being worked out", async () => {
    expect(await check("database-reconciling.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Reconciling: AppUser is not known yet",
    });
  });

  it("reports Degraded with the reason and message of a failure", async () => {
    expect(await check("instance-failing.yaml")).to.deep.equal({
      status: "Degraded",
      message: 'ConnectionFailed: while connecting to postgres.database.svc:5432: connect ECONNREFUSED "10.0.0.7:5432"',
    });
    expect(await check("database-failing.yaml")).to.deep.equal({
      status: "Degraded",
      message:
        'NameTaken: Database "orders" exists and was not created by Kompost for team-orders/orders; nothing was changed',
    });
  });

  it("follows kstatus's conditions: Degraded for Stalled True, Progressing (a retry, not a failure) for Reconciling True", async () => {
    const failing = await fixture("database-failing.yaml");
    const withCondition = (type: string, reason: string, message: string) => {
      const status = failing.status as { conditions: Record<string, unknown>[] };
      const extra = { type, status: "True", reason, message, lastTransitionTime: "2026-11-24T05:00:00Z" };
      return { ...failing, status: { ...status, conditions: [...status.conditions, extra] } };
    };
    const script = scripts.get("PostgresDatabase")!;
    expect(await runHealthCheck(script, withCondition("Stalled", "ForeignObject", "not ours"))).to.deep.equal({
      status: "Degraded",
      message: "ForeignObject: not ours",
    });
    expect(await runHealthCheck(script, withCondition("Reconciling", "Unreachable", "no answer"))).to.deep.equal({
      status: "Progressing",
      message: "Reconciling: no answer",
    });
  });

  it("reports Progressing while the resource is being deleted, with what holds it back", async () => {
    expect(await check("instance-deleting.yaml")).to.deep.equal({
      status: "Progressing",
      message: "Being deleted: Still used by 2 PostgresDatabases (awesome-application/staging, team-orders/orders)",
    });
  });

  it("reports Progressing, not an error, for an object without metadata.generation or conditions", async () => {
    const bare = {
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      metadata: { name: "x" },
      status: {},
    };
    expect((await runHealthCheck(scripts.get("PostgresDatabase")!, bare)).status).to.equal("Progressing");
    const noConditions = { ...bare, metadata: { name: "x", generation: 1 }, status: { observedGeneration: 1 } };
    expect((await runHealthCheck(scripts.get("PostgresDatabase")!, noConditions)).status).to.equal("Progressing");
  });
});
