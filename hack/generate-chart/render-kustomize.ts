import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { controlPlaneBinDir } from "../../test/harness/control-plane/binaries.js";

const run = promisify(execFile);

/** A Kubernetes object as kustomize renders it, mutable so the chart generator can put placeholders in. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string | null>;
    annotations?: Record<string, string | null>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** What config/default renders to, plus the ServiceMonitor of config/prometheus under the same transformers. */
export interface RenderedInstall {
  /** The objects of config/default, in kustomize's order. */
  readonly objects: KubeObject[];
  /** config/prometheus's ServiceMonitor, with config/default's namespace, name prefix and labels. */
  readonly serviceMonitor: KubeObject;
  /** The namespace config/default puts every namespaced object in. */
  readonly namespace: string;
}

/**
 * Renders config/default with the control plane's pinned kubectl (the one `make build-installer` uses),
 * through a throw-away overlay that lists config/default's own resources plus config/prometheus, so the
 * ServiceMonitor gets exactly the namespace, prefix and labels the other objects get.
 */
export async function renderInstall(repoRoot: string): Promise<RenderedInstall> {
  const defaultDir = path.join(repoRoot, "config", "default");
  const kustomization = parse(await readFile(path.join(defaultDir, "kustomization.yaml"), "utf8")) as {
    namespace: string;
    resources: string[];
  };
  const overlay = await mkdtemp(path.join(os.tmpdir(), "kompost-chart-"));
  try {
    const relative = (dir: string) => path.relative(overlay, dir);
    const resources = [
      ...kustomization.resources.map((resource) => relative(path.resolve(defaultDir, resource))),
      relative(path.join(repoRoot, "config", "prometheus")),
    ];
    // Only resources change: the transformers (namespace, prefix, labels) are config/default's own.
    await writeFile(path.join(overlay, "kustomization.yaml"), JSON.stringify({ ...kustomization, resources }, null, 2));
    const rendered = await kustomize(overlay, defaultDir);
    const all = parseAllDocuments(rendered)
      .map((document) => document.toJS() as KubeObject | null)
      .filter((object): object is KubeObject => object !== null);
    const serviceMonitor = all.find((object) => object.kind === "ServiceMonitor");
    if (!serviceMonitor) throw new Error("config/prometheus rendered no ServiceMonitor; the chart needs one");
    return {
      objects: all.filter((object) => object !== serviceMonitor),
      serviceMonitor,
      namespace: kustomization.namespace,
    };
  } finally {
    await rm(overlay, { recursive: true, force: true });
  }
}

async function kustomize(dir: string, source: string): Promise<string> {
  const kubectl = path.join(await controlPlaneBinDir(), "kubectl");
  try {
    // config/default's own files (metrics_service.yaml) sit outside the throw-away overlay.
    const args = ["kustomize", "--load-restrictor=LoadRestrictionsNone", dir];
    const { stdout } = await run(kubectl, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`while rendering ${source} with kubectl kustomize: ${stderr.trim() || String(err)}`, {
      cause: err,
    });
  }
}
