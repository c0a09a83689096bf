import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Deployment,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { access, readFile } from "node:fs/promises";
import { parseConfig } from "../../cmd/config.js";
import {
  findManifest,
  installerHeader,
  kustomize,
  type Manifest,
  packageVersion,
  parseManifests,
  repoPath,
} from "./manifests.js";

const as = <T>(object: Manifest): T => object as unknown as T;

/** A rule as a sortable string per (group, resource), so rule sets compare regardless of grouping. */
function grants(rules: readonly V1PolicyRule[]): string[] {
  return rules
    .flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).map((resource) => `${group}/${resource}: ${[...rule.verbs].sort().join(" ")}`),
      ),
    )
    .sort();
}

describe("the deploy manifests (config/default)", function () {
  let objects: Manifest[];
  let rendered: string;

  before(async function () {
    this.timeout(600_000);
    rendered = await kustomize("config/default");
    objects = parseManifests(rendered);
  });

  it("puts every namespaced object into the kompost namespace and prefixes the names", () => {
    findManifest(objects, "Namespace", "kompost");
    for (const object of objects) {
      if (["Namespace", "CustomResourceDefinition"].includes(object.kind)) continue;
      expect(object.metadata.name, object.kind).to.match(/^kompost-/);
      if (!["ClusterRole", "ClusterRoleBinding"].includes(object.kind)) {
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal("kompost");
      }
    }
  });

  it("contains the three CRDs, the RBAC, the Deployment and the metrics Service", () => {
    const kinds = objects.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(kinds).to.include.members([
      "CustomResourceDefinition/postgresinstances.kompost.chuge.li",
      "CustomResourceDefinition/postgresclusterinstances.kompost.chuge.li",
      "CustomResourceDefinition/postgresdatabases.kompost.chuge.li",
      "ServiceAccount/kompost-controller-manager",
      "ClusterRole/kompost-manager-role",
      "ClusterRoleBinding/kompost-manager-rolebinding",
      "Role/kompost-leader-election-role",
      "RoleBinding/kompost-leader-election-rolebinding",
      "Deployment/kompost-controller-manager",
      "Service/kompost-controller-manager-metrics-service",
    ]);
  });

  it("keeps dist/install.yaml equal to the kustomize output for the released image (run `make build-installer`)", async () => {
    const installer = await readFile(repoPath("dist", "install.yaml"), "utf8");
    expect(installer === installerHeader(await packageVersion()) + rendered, "dist/install.yaml is stale").to.equal(
      true,
    );
  });

  it("runs the released image, tagged with the version in package.json", async () => {
    const deployment = as<V1Deployment>(findManifest(objects, "Deployment", "kompost-controller-manager"));
    const [container] = deployment.spec!.template.spec!.containers;
    expect(container!.image).to.equal(`ghcr.io/kompost/kompost:${await packageVersion()}`);
  });

  it("hardens the manager pod as Kubebuilder does", () => {
    const deployment = as<V1Deployment>(findManifest(objects, "Deployment", "kompost-controller-manager"));
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.securityContext!.seccompProfile).to.deep.equal({ type: "RuntimeDefault" });
    expect(pod.automountServiceAccountToken).not.to.equal(false);
    expect(pod.containers).to.have.length(1);
    const security = pod.containers[0]!.securityContext!;
    expect(security.allowPrivilegeEscalation).to.equal(false);
    expect(security.readOnlyRootFilesystem).to.equal(true);
    expect(security.capabilities).to.deep.equal({ drop: ["ALL"] });
    expect(security.privileged ?? false).to.equal(false);
  });

  it("runs one replica with leader election, probes on 8081, resources and the pod's namespace", () => {
    const deployment = as<V1Deployment>(findManifest(objects, "Deployment", "kompost-controller-manager"));
    expect(deployment.spec!.replicas).to.equal(1);
    const pod = deployment.spec!.template.spec!;
    expect(pod.serviceAccountName).to.equal("kompost-controller-manager");
    const container = pod.containers[0]!;
    expect(container.args).to.include("--leader-elect");
    const probePort = container.ports!.find((port) => port.containerPort === 8081)!.name;
    expect(container.livenessProbe!.httpGet).to.deep.include({ path: "/healthz", port: probePort });
    expect(container.readinessProbe!.httpGet).to.deep.include({ path: "/readyz", port: probePort });
    expect(container.resources!.requests).to.deep.equal({ cpu: "10m", memory: "128Mi" });
    expect(container.resources!.limits).to.deep.equal({ cpu: "500m", memory: "512Mi" });
    expect(container.env).to.deep.include({
      name: "POD_NAMESPACE",
      valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
    });
  });

  it("passes the manager flags it accepts, and gives it longer than its shutdown timeout to stop", () => {
    const deployment = as<V1Deployment>(findManifest(objects, "Deployment", "kompost-controller-manager"));
    const pod = deployment.spec!.template.spec!;
    const config = parseConfig(pod.containers[0]!.args!, {
      env: { POD_NAMESPACE: "kompost" },
      serviceAccountNamespaceFile: "/nonexistent",
    });
    expect(config.leaderElect).to.equal(true);
    expect(config.leaderElectionNamespace).to.equal("kompost");
    expect(pod.terminationGracePeriodSeconds! * 1000).to.be.greaterThan(config.shutdownTimeoutMs);
  });

  it("selects the manager pod with the metrics Service, on the metrics port", () => {
    const deployment = as<V1Deployment>(findManifest(objects, "Deployment", "kompost-controller-manager"));
    const service = as<V1Service>(findManifest(objects, "Service", "kompost-controller-manager-metrics-service"));
    const podLabels = deployment.spec!.template.metadata!.labels!;
    expect(podLabels).to.deep.include(service.spec!.selector!);
    const metricsPort = deployment.spec!.template.spec!.containers[0]!.ports!.find(
      (port) => port.containerPort === 8080,
    );
    expect(service.spec!.ports![0]!.targetPort).to.equal(metricsPort!.name);
  });

  it("has no wildcard in the verbs, resources or API groups of any role", () => {
    const roles = objects.filter((object) => object.kind === "ClusterRole" || object.kind === "Role");
    expect(roles.length).to.be.greaterThan(2);
    for (const role of roles) {
      for (const rule of as<V1ClusterRole>(role).rules ?? []) {
        const where = `${role.kind}/${role.metadata.name}: ${JSON.stringify(rule)}`;
        expect(rule.verbs, where).not.to.include("*");
        expect(rule.resources ?? [], where).not.to.include("*");
        expect(rule.apiGroups ?? [], where).not.to.include("*");
        expect(rule.nonResourceURLs ?? [], where).to.be.empty;
      }
    }
  });

  it("grants the manager exactly what the controllers call, and no more", () => {
    const role = as<V1ClusterRole>(findManifest(objects, "ClusterRole", "kompost-manager-role"));
    const kinds = ["postgresinstances", "postgresclusterinstances", "postgresdatabases"];
    const expected = [
      ...kinds.map((plural) => `kompost.chuge.li/${plural}: get list patch watch`),
      ...kinds.map((plural) => `kompost.chuge.li/${plural}/status: patch`),
      ...kinds.map((plural) => `kompost.chuge.li/${plural}/finalizers: update`),
      "/secrets: create get list patch watch",
      "/events: create patch",
    ];
    expect(grants(role.rules ?? [])).to.have.members(expected);
    expect(role.aggregationRule).to.equal(undefined);
  });

  it("confines leader election to Leases in the operator's namespace", () => {
    const role = as<V1Role>(findManifest(objects, "Role", "kompost-leader-election-role"));
    expect(role.metadata!.namespace).to.equal("kompost");
    expect(grants(role.rules ?? [])).to.deep.equal(["coordination.k8s.io/leases: create get update"]);
  });

  it("binds the manager's roles to the ServiceAccount the Deployment runs as", () => {
    const subject = { kind: "ServiceAccount", name: "kompost-controller-manager", namespace: "kompost" };
    const clusterBinding = as<V1ClusterRoleBinding>(
      findManifest(objects, "ClusterRoleBinding", "kompost-manager-rolebinding"),
    );
    expect(clusterBinding.roleRef).to.deep.include({ kind: "ClusterRole", name: "kompost-manager-role" });
    expect(clusterBinding.subjects).to.deep.equal([subject]);
    const binding = as<V1RoleBinding>(findManifest(objects, "RoleBinding", "kompost-leader-election-rolebinding"));
    expect(binding.roleRef).to.deep.include({ kind: "Role", name: "kompost-leader-election-role" });
    expect(binding.subjects).to.deep.equal([subject]);
    findManifest(objects, "ServiceAccount", "kompost-controller-manager");
  });

  const AGGREGATE_LABELS = [
    "rbac.authorization.k8s.io/aggregate-to-admin",
    "rbac.authorization.k8s.io/aggregate-to-edit",
    "rbac.authorization.k8s.io/aggregate-to-view",
  ];

  function userRoles(kind: string): { editor: V1ClusterRole; viewer: V1ClusterRole } {
    const editor = as<V1ClusterRole>(findManifest(objects, "ClusterRole", `kompost-${kind}-editor-role`));
    const viewer = as<V1ClusterRole>(findManifest(objects, "ClusterRole", `kompost-${kind}-viewer-role`));
    expect(grants(editor.rules ?? [])).to.have.members([
      `kompost.chuge.li/${kind}s: create delete get list patch update watch`,
      `kompost.chuge.li/${kind}s/status: get`,
    ]);
    expect(grants(viewer.rules ?? [])).to.have.members([
      `kompost.chuge.li/${kind}s: get list watch`,
      `kompost.chuge.li/${kind}s/status: get`,
    ]);
    return { editor, viewer };
  }

  it("aggregates the postgresdatabase editor role into admin and edit, and the viewer role into view", () => {
    const { editor, viewer } = userRoles("postgresdatabase");
    expect(editor.metadata!.labels).to.deep.include({
      "rbac.authorization.k8s.io/aggregate-to-admin": "true",
      "rbac.authorization.k8s.io/aggregate-to-edit": "true",
    });
    expect(viewer.metadata!.labels).to.deep.include({ "rbac.authorization.k8s.io/aggregate-to-view": "true" });
    expect(viewer.metadata!.labels).not.to.have.property("rbac.authorization.k8s.io/aggregate-to-edit");
  });

  for (const kind of ["postgresinstance", "postgresclusterinstance"]) {
    it(`keeps the ${kind} roles out of admin, edit and view: an instance may hold an admin password`, () => {
      const { editor, viewer } = userRoles(kind);
      for (const role of [editor, viewer]) {
        for (const label of AGGREGATE_LABELS) expect(role.metadata!.labels ?? {}).not.to.have.property(label);
      }
    });
  }
});

describe("the optional ServiceMonitor (config/prometheus)", function () {
  it("scrapes /metrics on the port and labels of the metrics Service", async function () {
    this.timeout(600_000);
    const [monitor] = parseManifests(await kustomize("config/prometheus"));
    const service = as<V1Service>(
      findManifest(
        parseManifests(await kustomize("config/default")),
        "Service",
        "kompost-controller-manager-metrics-service",
      ),
    );
    const spec = monitor!.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; path: string }[];
    };
    expect(monitor!.kind).to.equal("ServiceMonitor");
    expect(service.metadata!.labels).to.deep.include(spec.selector.matchLabels);
    expect(spec.endpoints).to.deep.equal([{ path: "/metrics", port: service.spec!.ports![0]!.name, scheme: "http" }]);
  });
});

describe("the Argo CD app-of-apps example (config/argocd/app-of-apps)", function () {
  it("syncs Kompost from config/default in an earlier wave than every other Application", async function () {
    this.timeout(600_000);
    const apps = parseManifests(await kustomize("config/argocd/app-of-apps/apps"));
    const wave = (app: Manifest) => Number(app.metadata.annotations?.["argocd.argoproj.io/sync-wave"] ?? "0");
    const kompost = findManifest(apps, "Application", "kompost");
    const source = (kompost.spec as { source: { path: string } }).source;
    await access(repoPath(source.path, "kustomization.yaml"));
    const others = apps.filter((app) => app !== kompost);
    expect(others).not.to.be.empty;
    for (const app of others) expect(wave(app), app.metadata.name).to.be.greaterThan(wave(kompost));
    const [root] = parseManifests(await readFile(repoPath("config/argocd/app-of-apps/root.yaml"), "utf8"));
    expect((root!.spec as { source: { path: string } }).source.path).to.equal("config/argocd/app-of-apps/apps");
  });
});
