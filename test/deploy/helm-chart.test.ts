import { expect } from "chai";
import { cp as copy, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { staleChartFiles } from "../../hack/generate-chart.js";
import { CHART, objectKey, startHelm, type Helm } from "./helm.js";
import { findManifest, parseManifests, repoPath, type Manifest } from "./manifests.js";

/** Labels Helm's convention puts on every object; install.yaml has kustomize's managed-by instead. */
const HELM_LABELS = [
  "helm.sh/chart",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
];

/** An object without what only a Helm release adds (its labels and the CRDs' keep policy), empty maps dropped. */
function withoutHelmMetadata(object: Manifest): Manifest {
  const labels = Object.fromEntries(
    Object.entries(object.metadata.labels ?? {}).filter(([key]) => !HELM_LABELS.includes(key)),
  );
  const annotations = Object.fromEntries(
    Object.entries(object.metadata.annotations ?? {}).filter(([key]) => key !== "helm.sh/resource-policy"),
  );
  const { labels: _labels, annotations: _annotations, ...metadata } = object.metadata;
  return {
    ...object,
    metadata: {
      ...metadata,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
  };
}

/** install.yaml's objects as a release in `namespace` would have them: namespace and ServiceAccount subjects moved. */
function movedTo(objects: readonly Manifest[], from: string, namespace: string): Manifest[] {
  return objects.map((object) => {
    const moved = structuredClone(object) as Manifest & { subjects?: { namespace?: string }[] };
    if (moved.metadata.namespace === from) (moved.metadata as { namespace?: string }).namespace = namespace;
    for (const subject of moved.subjects ?? []) if (subject.namespace === from) subject.namespace = namespace;
    return moved;
  });
}

type Container = { args: string[]; env: unknown[]; image: string; imagePullPolicy?: string; resources: unknown };
type PodSpec = {
  containers: Container[];
  securityContext: unknown;
  nodeSelector?: unknown;
  tolerations?: unknown;
  affinity?: unknown;
  imagePullSecrets?: unknown;
};
type Deployment = Manifest & {
  spec: { replicas: number; template: { metadata: { labels: object; annotations: object }; spec: PodSpec } };
};

describe("the Helm chart charts/kompost", function () {
  let helm: Helm;
  let install: Manifest[];

  before(async function () {
    this.timeout(600_000);
    helm = await startHelm();
    install = parseManifests(await readFile(repoPath("dist", "install.yaml"), "utf8"));
  });

  after(async () => {
    await helm?.close();
  });

  it("is what hack/generate-chart.ts renders from config/default today (make chart)", async () => {
    expect(await staleChartFiles()).to.deep.equal([]);
  });

  it("is reported stale when config/default changes, or when a template no longer has an object", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "kompost-chart-stale-"));
    try {
      for (const entry of ["config", "charts", "package.json"])
        await copy(repoPath(entry), path.join(root, entry), { recursive: true });
      const manager = path.join(root, "config", "manager", "manager.yaml");
      await writeFile(manager, (await readFile(manager, "utf8")).replace("memory: 512Mi", "memory: 1Gi"));
      await writeFile(path.join(root, "charts", "kompost", "templates", "configmap-gone.yaml"), "kind: ConfigMap\n");
      expect(await staleChartFiles(root)).to.have.members([
        "charts/kompost/values.yaml",
        "charts/kompost/templates/configmap-gone.yaml",
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("passes helm lint --strict, with the default values and with every value set", async () => {
    const lint = await helm.run(["lint", "--strict", CHART]);
    expect(lint.code, lint.stdout + lint.stderr).to.equal(0);
    const valuesFile = path.join(os.tmpdir(), `kompost-helm-lint-${process.pid}.yaml`);
    await writeFile(valuesFile, JSON.stringify(EVERY_VALUE));
    try {
      const lintAll = await helm.run(["lint", "--strict", CHART, "-f", valuesFile]);
      expect(lintAll.code, lintAll.stdout + lintAll.stderr).to.equal(0);
    } finally {
      await rm(valuesFile, { force: true });
    }
  });

  it("renders with its default values exactly what make build-installer wrote, in the release namespace, plus Helm's labels", async () => {
    const rendered = await helm.template("platform-db");
    const installNamespace = findManifest(install, "Namespace", "kompost").metadata.name;
    // A chart does not own its release namespace: `helm install --create-namespace` makes it.
    const expected = movedTo(
      install.filter((object) => object.kind !== "Namespace"),
      installNamespace,
      "platform-db",
    );
    const byKey = (objects: readonly Manifest[]) =>
      new Map(objects.map((object) => [objectKey(object), withoutHelmMetadata(object)]));
    const [chart, installer] = [byKey(rendered), byKey(expected)];
    expect([...chart.keys()].sort()).to.deep.equal([...installer.keys()].sort());
    for (const [key, object] of chart) {
      expect(object, `${key} differs from dist/install.yaml (run make build-installer)`).to.deep.equal(
        installer.get(key),
      );
    }
    for (const object of rendered) {
      expect(object.metadata.labels, objectKey(object)).to.include({
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": "kompost",
      });
      if (object.kind === "CustomResourceDefinition") {
        expect(object.metadata.annotations, objectKey(object)).to.deep.equal({ "helm.sh/resource-policy": "keep" });
      }
    }
  });

  it("puts every value where it belongs", async () => {
    const rendered = await helm.template("platform-db", EVERY_VALUE);
    const deployment = findManifest(rendered, "Deployment", "kompost-controller-manager") as Deployment;
    const pod = deployment.spec.template.spec;
    const manager = pod.containers[0]!;
    expect(deployment.spec.replicas).to.equal(3);
    expect(manager.image).to.equal("registry.example.com/kompost:dev");
    expect(manager.imagePullPolicy).to.equal("Always");
    expect(manager.args).to.deep.equal([
      "--leader-elect",
      "--health-probe-bind-address=:8081",
      "--metrics-bind-address=:8080",
      "--shutdown-timeout=30s",
      "--log-level=debug",
      "--resync-period=10m",
      "--database-verify-period=30m",
      "--max-concurrent-reconciles=8",
      "--cluster-instance-default-access=none",
      "--status-heartbeat-interval=10m",
    ]);
    expect(manager.env).to.deep.include({ name: "EXTRA", value: "yes" });
    expect(manager.resources).to.deep.equal(EVERY_VALUE.resources);
    expect(pod.securityContext).to.deep.equal(EVERY_VALUE.podSecurityContext);
    expect(pod.nodeSelector).to.deep.equal(EVERY_VALUE.nodeSelector);
    expect(pod.tolerations).to.deep.equal(EVERY_VALUE.tolerations);
    expect(pod.affinity).to.deep.equal(EVERY_VALUE.affinity);
    expect(pod.imagePullSecrets).to.deep.equal(EVERY_VALUE.imagePullSecrets);
    expect(deployment.spec.template.metadata.labels).to.include({ tier: "operators" });
    expect(deployment.spec.template.metadata.annotations).to.include({ "example.com/scrape": "yes" });
    const monitor = findManifest(rendered, "ServiceMonitor", "kompost-controller-manager-metrics-monitor");
    expect(monitor.metadata.namespace).to.equal("platform-db");
    expect(monitor.metadata.labels).to.include({ release: "prometheus" });
    expect((monitor.spec as { endpoints: { interval: string }[] }).endpoints[0]!.interval).to.equal("30s");
    expect(rendered.filter((object) => object.kind === "CustomResourceDefinition")).to.deep.equal([]);
    for (const object of rendered) {
      expect(object.metadata.labels, objectKey(object)).to.include({ team: "platform" });
      expect(object.metadata.annotations, objectKey(object)).to.include({ "example.com/owner": "db-team" });
    }
    const withoutKeep = await helm.template("platform-db", { crds: { keep: false } });
    const crd = findManifest(withoutKeep, "CustomResourceDefinition", "postgresdatabases.kompost.chuge.li");
    expect(crd.metadata.annotations).to.equal(undefined);
    const single = findManifest(
      await helm.template("x", { leaderElection: { enabled: false } }),
      "Deployment",
      "kompost-controller-manager",
    ) as Deployment;
    expect(single.spec.template.spec.containers[0]!.args).not.to.include("--leader-elect");
  });

  it("refuses values the operator would refuse, naming the value", async () => {
    const refused = async (values: unknown) => {
      const error = await helm.template("x", values).then(
        () => undefined,
        (err: Error) => err.message,
      );
      expect(error, JSON.stringify(values)).to.be.a("string");
      return error!;
    };
    expect(await refused({ logLevel: "loud" })).to.include("/logLevel");
    expect(await refused({ resyncPeriod: "5 minutes" })).to.include("/resyncPeriod");
    expect(await refused({ databaseVerifyPeriod: "hourly" })).to.include("/databaseVerifyPeriod");
    expect(await refused({ maxConcurrentReconciles: 0 })).to.include("/maxConcurrentReconciles");
    expect(await refused({ clusterInstanceDefaultAccess: "some" })).to.include("/clusterInstanceDefaultAccess");
    // A misspelt value would otherwise be ignored without a word.
    expect(await refused({ replicas: 2 })).to.include("replicas");
    expect(await refused({ replicaCount: 2, leaderElection: { enabled: false } })).to.include(
      "replicaCount above 1 needs leaderElection.enabled=true",
    );
  });

  it("has each of its values in the table of docs/operating.md", async () => {
    const operating = await readFile(repoPath("docs", "operating.md"), "utf8");
    expect(operating).to.include("## Install with Helm");
    const section = operating.slice(operating.indexOf("## Install with Helm"));
    type Schema = { properties?: Record<string, Schema> };
    const schema = JSON.parse(await readFile(path.join(CHART, "values.schema.json"), "utf8")) as Schema;
    const leaves = (node: Schema, prefix: string): string[] =>
      Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
        child.properties ? leaves(child, `${prefix}${key}.`) : [prefix + key],
      );
    const values = leaves(schema, "");
    expect(values).to.include.members(["image.repository", "replicaCount", "serviceMonitor.enabled", "crds.keep"]);
    for (const value of values)
      expect(section, value).to.match(new RegExp(`\\| \`${value.replace(/\./g, "\\.")}\` +\\|`));
  });
});

/** A value for every value of the chart, none of them its default. */
const EVERY_VALUE = {
  image: { repository: "registry.example.com/kompost", tag: "dev", pullPolicy: "Always" },
  imagePullSecrets: [{ name: "registry" }],
  replicaCount: 3,
  leaderElection: { enabled: true },
  logLevel: "debug",
  resyncPeriod: "10m",
  databaseVerifyPeriod: "30m",
  maxConcurrentReconciles: 8,
  clusterInstanceDefaultAccess: "none",
  extraArgs: ["--status-heartbeat-interval=10m"],
  extraEnv: [{ name: "EXTRA", value: "yes" }],
  // Helm merges a map into the default one, key by key: these set every key the defaults have.
  resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
  podSecurityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "Localhost" } },
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: false,
    capabilities: { drop: ["NET_RAW"] },
  },
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "operators", effect: "NoSchedule" }],
  affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
  podLabels: { tier: "operators" },
  podAnnotations: { "example.com/scrape": "yes" },
  commonLabels: { team: "platform" },
  commonAnnotations: { "example.com/owner": "db-team" },
  serviceMonitor: { enabled: true, labels: { release: "prometheus" }, interval: "30s" },
  crds: { install: false, keep: true },
};
