import { Document, isMap, isScalar, type Pair } from "yaml";
import type { KubeObject } from "./render-kustomize.js";

/** One value of the chart: its dotted path, its default, its JSON schema and what it does. */
export interface ChartValue {
  readonly path: string;
  readonly default: unknown;
  readonly schema: Readonly<Record<string, unknown>>;
  readonly doc: string;
}

/** What the rendered Deployment fixes and the chart turns into defaults of values. */
interface DeploymentDefaults {
  readonly repository: string;
  readonly replicas: number;
  readonly leaderElect: boolean;
  readonly resources: unknown;
  readonly podSecurityContext: unknown;
  readonly securityContext: unknown;
}

const OBJECT = { type: "object" } as const;
const STRING_MAP = { type: "object", additionalProperties: { type: "string" } } as const;
const GO_DURATION = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/** The values a platform team sets, in values.yaml's order; defaults that config/default fixes come from it. */
export function chartValues(deployment: KubeObject): ChartValue[] {
  const d = deploymentDefaults(deployment);
  return [
    {
      path: "image.repository",
      default: d.repository,
      schema: { type: "string", minLength: 1 },
      doc: "Image of the operator.",
    },
    {
      path: "image.tag",
      default: "",
      schema: { type: "string" },
      doc: "Image tag; empty means the chart's appVersion.",
    },
    {
      path: "image.pullPolicy",
      default: "",
      schema: { enum: ["", "Always", "IfNotPresent", "Never"] },
      doc: "imagePullPolicy; empty leaves Kubernetes' default.",
    },
    {
      path: "imagePullSecrets",
      default: [],
      schema: { type: "array", items: OBJECT },
      doc: "Pull secrets of the pod, as `[{name: ...}]`.",
    },
    {
      path: "replicaCount",
      default: d.replicas,
      schema: { type: "integer", minimum: 0 },
      doc: "Replicas of the Deployment; more than 1 needs `leaderElection.enabled` (only the leader reconciles).",
    },
    {
      path: "leaderElection.enabled",
      default: d.leaderElect,
      schema: { type: "boolean" },
      doc: "`--leader-elect`: elect a leader through a Lease in the release namespace.",
    },
    {
      path: "logLevel",
      default: "",
      schema: { enum: ["", "error", "warn", "info", "http", "verbose", "debug", "silly"] },
      doc: "`--log-level`; empty means the operator's default (info).",
    },
    {
      path: "resyncPeriod",
      default: "",
      schema: { anyOf: [{ const: "" }, { type: "string", pattern: GO_DURATION }] },
      doc: "`--resync-period`, a duration such as 10m; empty means the operator's default (5m).",
    },
    {
      path: "databaseVerifyPeriod",
      default: "",
      schema: { anyOf: [{ enum: ["", "0"] }, { type: "string", pattern: GO_DURATION }] },
      doc: "`--database-verify-period`, a duration such as 30m (0: at every resync); empty means the operator's default (1h).",
    },
    {
      path: "maxConcurrentReconciles",
      default: null,
      schema: { anyOf: [{ type: "null" }, { type: "integer", minimum: 1, maximum: 1000 }] },
      doc: "`--max-concurrent-reconciles` (1-1000); null means the operator's default (4).",
    },
    {
      path: "clusterInstanceDefaultAccess",
      default: "",
      schema: { enum: ["", "all", "none"] },
      doc: "`--cluster-instance-default-access`: who may use a PostgresClusterInstance without the allowed-namespaces annotation; empty means the operator's default (all).",
    },
    {
      path: "extraArgs",
      default: [],
      schema: { type: "array", items: { type: "string" } },
      doc: "More operator flags, such as `--status-heartbeat-interval=10m`.",
    },
    {
      path: "extraEnv",
      default: [],
      schema: { type: "array", items: OBJECT },
      doc: "More environment variables of the manager container.",
    },
    { path: "resources", default: d.resources, schema: OBJECT, doc: "Resources of the manager container." },
    {
      path: "podSecurityContext",
      default: d.podSecurityContext,
      schema: OBJECT,
      doc: "securityContext of the pod (the default passes the restricted Pod Security Standard).",
    },
    {
      path: "securityContext",
      default: d.securityContext,
      schema: OBJECT,
      doc: "securityContext of the manager container.",
    },
    { path: "nodeSelector", default: {}, schema: STRING_MAP, doc: "nodeSelector of the pod." },
    { path: "tolerations", default: [], schema: { type: "array", items: OBJECT }, doc: "tolerations of the pod." },
    { path: "affinity", default: {}, schema: OBJECT, doc: "affinity of the pod." },
    { path: "podLabels", default: {}, schema: STRING_MAP, doc: "Extra labels of the pod." },
    { path: "podAnnotations", default: {}, schema: STRING_MAP, doc: "Extra annotations of the pod." },
    { path: "commonLabels", default: {}, schema: STRING_MAP, doc: "Extra labels of every object of the chart." },
    {
      path: "commonAnnotations",
      default: {},
      schema: STRING_MAP,
      doc: "Extra annotations of every object of the chart.",
    },
    {
      path: "serviceMonitor.enabled",
      default: false,
      schema: { type: "boolean" },
      doc: "Add a ServiceMonitor for the metrics Service (needs the Prometheus Operator's CRDs).",
    },
    {
      path: "serviceMonitor.labels",
      default: {},
      schema: STRING_MAP,
      doc: "Extra labels of the ServiceMonitor, such as the release label your Prometheus selects.",
    },
    {
      path: "serviceMonitor.interval",
      default: "",
      schema: { anyOf: [{ const: "" }, { type: "string", pattern: GO_DURATION }] },
      doc: "Scrape interval; empty means Prometheus' default.",
    },
    {
      path: "crds.install",
      default: true,
      schema: { type: "boolean" },
      doc: "Install and upgrade the three CRDs with the release (false: manage them yourself, e.g. from `dist/install.yaml`).",
    },
    {
      path: "crds.keep",
      default: true,
      schema: { type: "boolean" },
      doc: "Keep the CRDs (and so every Kompost resource) on helm uninstall (`helm.sh/resource-policy: keep`).",
    },
  ];
}

/** values.yaml: the defaults, nested, each key with its doc as a comment. */
export function valuesYaml(values: readonly ChartValue[], header: string): string {
  const doc = new Document(nest(values));
  for (const value of values) {
    const pair = pairAt(doc, value.path.split("."));
    (pair.key as { commentBefore?: string }).commentBefore = ` ${value.doc}`;
  }
  return header + doc.toString({ lineWidth: 0 });
}

/** values.schema.json: Helm checks every install, upgrade, template and lint against it. */
export function valuesSchema(values: readonly ChartValue[], comment: string): string {
  const root: SchemaNode = { type: "object", additionalProperties: false, properties: {} };
  for (const value of values) {
    const keys = value.path.split(".");
    let node = root;
    for (const key of keys.slice(0, -1)) {
      node.properties![key] ??= { type: "object", additionalProperties: false, properties: {} };
      node = node.properties![key]!;
    }
    node.properties![keys.at(-1)!] = { description: value.doc, ...value.schema };
  }
  return (
    JSON.stringify({ $schema: "https://json-schema.org/draft-07/schema#", $comment: comment, ...root }, null, 2) + "\n"
  );
}

interface SchemaNode {
  type?: string;
  additionalProperties?: boolean;
  properties?: Record<string, SchemaNode>;
  [keyword: string]: unknown;
}

function nest(values: readonly ChartValue[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const value of values) {
    const keys = value.path.split(".");
    let node = root;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys.at(-1)!] = value.default;
  }
  return root;
}

function pairAt(doc: Document, keys: readonly string[]): Pair {
  let node: unknown = doc.contents;
  let found: Pair | undefined;
  for (const key of keys) {
    if (!isMap(node)) throw new Error(`values.yaml has no map at ${keys.join(".")}`);
    found = node.items.find((pair) => isScalar(pair.key) && pair.key.value === key);
    if (!found) throw new Error(`values.yaml has no key ${keys.join(".")}`);
    node = found.value;
  }
  return found!;
}

function deploymentDefaults(deployment: KubeObject): DeploymentDefaults {
  const spec = deployment.spec as {
    replicas: number;
    template: {
      spec: {
        securityContext: unknown;
        containers: { image: string; args?: string[]; resources: unknown; securityContext: unknown }[];
      };
    };
  };
  const pod = spec.template.spec;
  const manager = pod.containers[0]!;
  return {
    repository: manager.image.replace(/:[^:/]+$/, ""),
    replicas: spec.replicas,
    leaderElect: (manager.args ?? []).includes("--leader-elect"),
    resources: manager.resources,
    podSecurityContext: pod.securityContext,
    securityContext: manager.securityContext,
  };
}
