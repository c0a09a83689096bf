import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";

import os from "node:os";
import path from "node:path";
import { CHART, firstCommittedChart, objectKey, startHelm, type Helm } from "./helm.js";
import { parseManifests, repoPath, type Manifest } from "./manifests.js";

const NAMESPACE = "kompost-helm";
type Stored = Manifest & { metadata: { uid: string } };
const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:kompost-controller-manager`;

/** Just enough of the Prometheus Operator's CRD for the API server to store a ServiceMonitor. */
const SERVICE_MONITOR_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "servicemonitors.monitoring.coreos.com" },
  spec: {
    group: "monitoring.coreos.com",
    names: {
      kind: "ServiceMonitor",
      listKind: "ServiceMonitorList",
      plural: "servicemonitors",
      singular: "servicemonitor",
    },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};

describe("installing Kompost with Helm into a real API server (charts/kompost)", function () {
  let cp: ControlPlane;
  let helm: Helm;
  let scratch: string;

  /** `helm <args>` against the test control plane; fails the test with helm's output on a non-zero exit. */
  async function helmOk(...args: string[]): Promise<string> {
    const result = await helm.run(args, { kubeconfig: cp.kubeconfigPath });
    expect(result.code, `helm ${args.join(" ")}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  }

  /** The objects of the release as the API server stores them, by kind/namespace/name. */
  async function releaseObjects(namespace = NAMESPACE): Promise<Map<string, Stored>> {
    return storedObjects(await helmOk("get", "manifest", "kompost", "-n", namespace));
  }

  /** The objects of a manifest as the API server stores them, by kind/namespace/name. */
  async function storedObjects(manifest: string): Promise<Map<string, Stored>> {
    const result = await cp.kubectl(["get", "-f", "-", "-o", "json"], { input: manifest });
    expect(result.code, result.stderr).to.equal(0);
    const list = JSON.parse(result.stdout) as { items: Stored[] };
    return new Map(list.items.map((object) => [objectKey(object), object]));
  }

  const can = async (...args: string[]) =>
    (await cp.kubectl(["auth", "can-i", ...args, `--as=${SERVICE_ACCOUNT}`])).stdout.trim();

  before(async function () {
    this.timeout(600_000);
    [cp, helm] = await Promise.all([controlPlane(), startHelm()]);
    scratch = await mkdtemp(path.join(os.tmpdir(), "kompost-helm-install-"));
    const crd = await cp.kubectl(["apply", "--server-side", "-f", "-"], { input: JSON.stringify(SERVICE_MONITOR_CRD) });
    expect(crd.code, crd.stderr).to.equal(0);
    const established = await cp.kubectl([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      `crd/${SERVICE_MONITOR_CRD.metadata.name}`,
    ]);
    expect(established.code, established.stderr).to.equal(0);
  });

  after(async function () {
    this.timeout(120_000);
    if (cp) {
      await helm.run(["uninstall", "kompost", "-n", NAMESPACE, "--ignore-not-found"], {
        kubeconfig: cp.kubeconfigPath,
      });
      await cp.kubectl(["delete", "crd", SERVICE_MONITOR_CRD.metadata.name, "--ignore-not-found"]);
    }
    await helm?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("renders with every value set to what the API server accepts in a server-side dry run", async () => {
    await cp.createNamespace("kompost-helm-dry-run");
    const template = await helmOk(
      "template",
      "kompost",
      CHART,
      "-n",
      "kompost-helm-dry-run",
      "--set",
      "serviceMonitor.enabled=true,replicaCount=2,logLevel=debug,commonLabels.team=platform,nodeSelector.disk=ssd",
    );
    const result = await cp.kubectl(["apply", "--dry-run=server", "--server-side", "-f", "-"], { input: template });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.include("deployment.apps/kompost-controller-manager serverside-applied (server dry run)");
    expect(result.stdout).to.include(
      "servicemonitor.monitoring.coreos.com/kompost-controller-manager-metrics-monitor serverside-applied (server dry run)",
    );
    expect(parseManifests(template).filter((object) => object.kind === "CustomResourceDefinition")).to.have.length(3);
  });

  it("installs into the release namespace, upgrades with changed values keeping every object, and uninstalls keeping the CRDs", async () => {
    // The upgrade starts from the chart as first committed (the current one when git has no history).
    const previous = (await firstCommittedChart(scratch)) ?? CHART;
    console.log(
      `      installing ${previous === CHART ? "the current chart (no git history)" : "the first committed chart"}`,
    );
    // The test control plane already has the CRDs (applied by kubectl, as from dist/install.yaml):
    // --take-ownership is how a cluster moves from install.yaml to the chart.
    await helmOk("install", "kompost", previous, "-n", NAMESPACE, "--create-namespace", "--take-ownership");
    const installed = await releaseObjects();
    expect([...installed.keys()]).to.include.members([
      `Deployment/${NAMESPACE}/kompost-controller-manager`,
      "CustomResourceDefinition//postgresdatabases.kompost.chuge.li",
      "ClusterRoleBinding//kompost-manager-rolebinding",
    ]);
    // The bindings name the ServiceAccount in the release namespace, so the operator there has its rights.
    expect(await can("patch", "postgresdatabases.kompost.chuge.li/status", "-n", "team-orders")).to.equal("yes");
    expect(await can("create", "leases.coordination.k8s.io", "-n", NAMESPACE)).to.equal("yes");
    expect(await can("create", "leases.coordination.k8s.io", "-n", "team-orders")).to.equal("no");
    await cp.createNamespace("team-helm");
    const database = await cp.kubectl(["apply", "-n", "team-helm", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "kompost.chuge.li/v1alpha1",
        kind: "PostgresDatabase",
        metadata: { name: "kept" },
        spec: { instanceRef: { name: "somewhere" } },
      }),
    });
    expect(database.code, database.stderr).to.equal(0);

    await helmOk(
      "upgrade",
      "kompost",
      CHART,
      "-n",
      NAMESPACE,
      "--set",
      "replicaCount=2,logLevel=debug,serviceMonitor.enabled=true,commonLabels.team=platform",
    );
    const upgraded = await releaseObjects();
    for (const [key, object] of installed) {
      expect(upgraded.get(key)?.metadata.uid, `${key} was replaced or removed by the upgrade`).to.equal(
        object.metadata.uid,
      );
      expect(upgraded.get(key)?.metadata.labels, key).to.include({ team: "platform" });
    }
    const deployment = upgraded.get(`Deployment/${NAMESPACE}/kompost-controller-manager`) as unknown as {
      spec: { replicas: number; template: { spec: { containers: { args: string[] }[] } } };
    };
    expect(deployment.spec.replicas).to.equal(2);
    expect(deployment.spec.template.spec.containers[0]!.args).to.include("--log-level=debug");
    expect([...upgraded.keys()]).to.include(`ServiceMonitor/${NAMESPACE}/kompost-controller-manager-metrics-monitor`);

    await helmOk("uninstall", "kompost", "-n", NAMESPACE);
    const gone = await cp.kubectl(["get", "deployment", "-n", NAMESPACE, "kompost-controller-manager"]);
    expect(gone.stderr).to.include("NotFound");
    // The keep policy leaves the CRDs, and so every PostgresDatabase, in place.
    const kept = await cp.kubectl(["get", "postgresdatabase", "-n", "team-helm", "kept", "-o", "name"]);
    expect(kept.code, kept.stderr).to.equal(0);
    await cp.kubectl(["delete", "postgresdatabase", "-n", "team-helm", "kept", "--wait=false"]);
  });

  it("takes over a cluster installed from dist/install.yaml with --take-ownership, keeping every object", async () => {
    const installYaml = await readFile(repoPath("dist", "install.yaml"), "utf8");
    // The harness installed the CRDs already (from config/crd, which dist/install.yaml may trail while
    // a schema change is in progress): apply the rest, the CRDs stay as they are.
    const rest = parseManifests(installYaml).filter((object) => object.kind !== "CustomResourceDefinition");
    const applied = await cp.kubectl(["apply", "--server-side", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items: rest }),
    });
    expect(applied.code, applied.stderr).to.equal(0);
    const before = await storedObjects(installYaml);
    await helmOk("install", "kompost", CHART, "-n", "kompost", "--take-ownership");
    const adopted = await releaseObjects("kompost");
    // Every object of install.yaml but its Namespace is now the release's, the very same object.
    expect([...adopted.keys()].sort()).to.deep.equal(
      [...before.keys()].filter((key) => !key.startsWith("Namespace/")).sort(),
    );
    for (const [key, object] of adopted) {
      expect(object.metadata.uid, `${key} was replaced`).to.equal(before.get(key)!.metadata.uid);
      expect(object.metadata.labels, key).to.include({ "app.kubernetes.io/managed-by": "Helm" });
    }
    await helmOk("uninstall", "kompost", "-n", "kompost");
    // install.test.ts and others apply dist/install.yaml again for themselves.
  });
});
