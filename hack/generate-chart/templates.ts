import { stringify } from "yaml";
import type { KubeObject, RenderedInstall } from "./render-kustomize.js";

/** One file of the chart's templates/ folder. */
export interface TemplateFile {
  readonly name: string;
  readonly content: string;
}

/**
 * Placeholders put into the rendered objects before they are written as YAML, each replaced
 * afterwards by the template text that gives the value (see substitute).
 */
const SCALARS: Readonly<Record<string, string>> = {
  NAMESPACE: "{{ .Release.Namespace }}",
  REPLICAS: "{{ .Values.replicaCount }}",
  IMAGE: '"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"',
};

/** Placeholders that stand for a whole field: `<key>: CHART_X` becomes that key with a value from values. */
const FIELDS: Readonly<Record<string, string>> = {
  RESOURCES: ".Values.resources",
  POD_SECURITY_CONTEXT: ".Values.podSecurityContext",
  SECURITY_CONTEXT: ".Values.securityContext",
};

/** Placeholders that stand for map entries or list items (`CHART_X: null` or `- CHART_X`), by indentation. */
const BLOCKS: Readonly<Record<string, (indent: number) => string[]>> = {
  LABELS: (n) => [`{{- include "kompost.labels" . | nindent ${n} }}`],
  ANNOTATIONS: (n) => [
    `{{- with include "kompost.annotations" . }}`,
    `annotations:`,
    `  {{- . | trim | nindent ${n + 2} }}`,
    `{{- end }}`,
  ],
  CRD_ANNOTATIONS: (n) => [
    `{{- with include "kompost.crdAnnotations" . }}`,
    `annotations:`,
    `  {{- . | trim | nindent ${n + 2} }}`,
    `{{- end }}`,
  ],
  ANNOTATIONS_ENTRIES: (n) => [`{{- include "kompost.annotations" . | trim | nindent ${n} }}`],
  CRD_ANNOTATIONS_ENTRIES: (n) => [`{{- include "kompost.crdAnnotations" . | trim | nindent ${n} }}`],
  POD_LABELS: (n) => withYaml(".Values.podLabels", n),
  POD_ANNOTATIONS: (n) => withYaml(".Values.podAnnotations", n),
  MONITOR_LABELS: (n) => withYaml(".Values.serviceMonitor.labels", n),
  MONITOR_INTERVAL: () => [`{{- with .Values.serviceMonitor.interval }}`, `interval: {{ . | quote }}`, `{{- end }}`],
  IMAGE_PULL_POLICY: () => [`{{- with .Values.image.pullPolicy }}`, `imagePullPolicy: {{ . }}`, `{{- end }}`],
  EXTRA_ENV: (n) => withYaml(".Values.extraEnv", n),
  ARG_LEADER_ELECT: () => [`{{- if .Values.leaderElection.enabled }}`, `- --leader-elect`, `{{- end }}`],
  ARGS_FROM_VALUES: () => [
    ...flagFromValue("logLevel", "--log-level"),
    ...flagFromValue("resyncPeriod", "--resync-period"),
    ...flagFromValue("databaseVerifyPeriod", "--database-verify-period"),
    ...flagFromValue("maxConcurrentReconciles", "--max-concurrent-reconciles"),
    ...flagFromValue("clusterInstanceDefaultAccess", "--cluster-instance-default-access"),
    `{{- range .Values.extraArgs }}`,
    `- {{ . | quote }}`,
    `{{- end }}`,
  ],
  POD_SCHEDULING: (n) => [
    ...withField("imagePullSecrets", n),
    ...withField("nodeSelector", n),
    ...withField("tolerations", n),
    ...withField("affinity", n),
  ],
};

const REPLICAS_NEED_LEADER_ELECTION =
  "{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}\n" +
  '{{- fail "replicaCount above 1 needs leaderElection.enabled=true: without a leader every replica would reconcile" }}\n' +
  "{{- end }}\n";

/** The chart's templates, one file per object of config/default (its Namespace excepted) plus the ServiceMonitor. */
export function templateFiles(install: RenderedInstall, header: string): TemplateFile[] {
  const files = install.objects
    // The release namespace is the operator's namespace; Helm creates it (--create-namespace), not the chart.
    .filter((object) => object.kind !== "Namespace")
    .map((object) => {
      const templated = templateObject(structuredClone(object), install.namespace);
      const body = substitute(stringify(templated, { lineWidth: 0 }));
      return { name: fileName(object), content: header + wrap(object, body) };
    });
  const monitor = templateObject(structuredClone(install.serviceMonitor), install.namespace);
  files.push({
    name: fileName(install.serviceMonitor),
    content: header + wrap(install.serviceMonitor, substitute(stringify(monitor, { lineWidth: 0 }))),
  });
  return files;
}

function templateObject(object: KubeObject, namespace: string): KubeObject {
  const metadata = object.metadata;
  if (metadata.namespace !== undefined) metadata.namespace = "CHART_NAMESPACE";
  const labels = { ...(metadata.labels ?? {}) };
  // Helm's standard labels say who manages the object now.
  delete labels["app.kubernetes.io/managed-by"];
  metadata.labels = { ...labels, CHART_LABELS: null };
  if (object.kind === "ServiceMonitor") metadata.labels.CHART_MONITOR_LABELS = null;
  const helper = object.kind === "CustomResourceDefinition" ? "CRD_ANNOTATIONS" : "ANNOTATIONS";
  // Annotations config/default sets stay; the chart's own go after them, or make the map when there is none.
  if (metadata.annotations) metadata.annotations[`CHART_${helper}_ENTRIES`] = null;
  else metadata[`CHART_${helper}`] = null;
  for (const subject of (object.subjects as { namespace?: string }[] | undefined) ?? []) {
    if (subject.namespace === namespace) subject.namespace = "CHART_NAMESPACE";
  }
  if (object.kind === "Deployment") templateDeployment(object);
  if (object.kind === "ServiceMonitor") {
    for (const endpoint of (object.spec as { endpoints: Record<string, unknown>[] }).endpoints)
      endpoint.CHART_MONITOR_INTERVAL = null;
  }
  return object;
}

function templateDeployment(deployment: KubeObject): void {
  const spec = deployment.spec as {
    replicas: unknown;
    template: {
      metadata: { labels: Record<string, unknown>; annotations?: Record<string, unknown> };
      spec: Record<string, unknown>;
    };
  };
  spec.replicas = "CHART_REPLICAS";
  const podMeta = spec.template.metadata;
  podMeta.labels.CHART_POD_LABELS = null;
  podMeta.annotations = { ...(podMeta.annotations ?? {}), CHART_POD_ANNOTATIONS: null };
  const pod = spec.template.spec;
  pod.securityContext = "CHART_POD_SECURITY_CONTEXT";
  pod.CHART_POD_SCHEDULING = null;
  const [manager, ...others] = pod.containers as Record<string, unknown>[];
  if (!manager || others.length > 0)
    throw new Error("the chart generator expects exactly one container in the Deployment");
  manager.image = "CHART_IMAGE";
  manager.CHART_IMAGE_PULL_POLICY = null;
  manager.args = [
    ...((manager.args as string[] | undefined) ?? []).map((arg) =>
      arg === "--leader-elect" ? "CHART_ARG_LEADER_ELECT" : arg,
    ),
    "CHART_ARGS_FROM_VALUES",
  ];
  manager.env = [...((manager.env as unknown[] | undefined) ?? []), "CHART_EXTRA_ENV"];
  manager.resources = "CHART_RESOURCES";
  manager.securityContext = "CHART_SECURITY_CONTEXT";
}

/** Escapes Go template delimiters that the rendered objects hold as text, then replaces every placeholder. */
function substitute(yaml: string): string {
  const escaped = yaml.replace(/\{\{|\}\}/g, (delimiter) => `{{ "${delimiter}" }}`);
  return escaped
    .split("\n")
    .flatMap((line) => {
      const block = /^( *)(?:- )?CHART_(\w+)(?:: null)?$/.exec(line);
      if (block) {
        const indent = block[1]!.length;
        const make = BLOCKS[block[2]!];
        if (!make) throw new Error(`unknown chart placeholder in: ${line}`);
        return make(indent).map((text) => " ".repeat(indent) + text);
      }
      const field = /^( *)([\w-]+): CHART_(\w+)$/.exec(line);
      if (field && FIELDS[field[3]!]) {
        const [, indent, key, token] = field;
        const n = indent!.length;
        return [`${indent}${key}:`, `${indent}  {{- toYaml ${FIELDS[token!]} | nindent ${n + 2} }}`];
      }
      return [
        line.replace(/CHART_(\w+)/g, (token, name: string) => {
          const value = SCALARS[name];
          if (value === undefined) throw new Error(`unknown chart placeholder ${token} in: ${line}`);
          return value;
        }),
      ];
    })
    .join("\n");
}

function wrap(object: KubeObject, body: string): string {
  switch (object.kind) {
    case "CustomResourceDefinition":
      return `{{- if .Values.crds.install }}\n${body}{{- end }}\n`;
    case "ServiceMonitor":
      return `{{- if .Values.serviceMonitor.enabled }}\n${body}{{- end }}\n`;
    case "Deployment":
      return REPLICAS_NEED_LEADER_ELECTION + body;
    default:
      return body;
  }
}

function fileName(object: KubeObject): string {
  const kind = object.kind.toLowerCase();
  if (object.kind === "CustomResourceDefinition") return `crd-${object.metadata.name.split(".")[0]}.yaml`;
  return `${kind}-${object.metadata.name.replace(/^kompost-/, "")}.yaml`;
}

function withYaml(value: string, indent: number): string[] {
  return [`{{- with ${value} }}`, `  {{- toYaml . | nindent ${indent} }}`, `{{- end }}`];
}

function withField(key: string, indent: number): string[] {
  return [`{{- with .Values.${key} }}`, `${key}:`, `  {{- toYaml . | nindent ${indent + 2} }}`, `{{- end }}`];
}

function flagFromValue(value: string, flag: string): string[] {
  return [`{{- with .Values.${value} }}`, `- {{ printf "${flag}=%v" . | quote }}`, `{{- end }}`];
}
