import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubectlResult } from "./kubectl.js";
import { waitFor } from "./process.js";

/** The parts of a running control plane that installing CRDs needs. */
export interface CrdInstallTarget {
  kubectl(args: readonly string[]): Promise<KubectlResult>;
  /** A GET as admin; any status resolves. */
  get(apiPath: string): Promise<{ status: number; body: string }>;
}

/** The names a CRD's resources are served under, once it is installed. */
interface CrdNames {
  readonly name: string;
  readonly group: string;
  readonly plural: string;
  readonly versions: readonly string[];
}

/**
 * Applies (server-side) every CRD in the `*.yaml` files of `dir` and waits
 * until each is Established and listed in discovery. Fails when there are none.
 */
export async function installCRDsFrom(target: CrdInstallTarget, dir: string): Promise<void> {
  const files = await crdFiles(dir);
  const crds = (await Promise.all(files.map(readCrdNames))).flat();
  if (crds.length === 0) throw new Error(`no CRDs in ${dir}: run \`make manifests\``);

  const fileArgs = files.flatMap((file) => ["-f", file]);
  await kubectlOrThrow(target, "while applying the CRDs", [
    "apply",
    "--server-side",
    "--force-conflicts",
    "--field-manager=kompost-test-harness",
    ...fileArgs,
  ]);
  await kubectlOrThrow(target, "while waiting for the CRDs to be Established", [
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    ...crds.map((crd) => `customresourcedefinition/${crd.name}`),
  ]);
  for (const crd of crds) await waitForDiscovery(target, crd);
}

async function crdFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw new Error(`while listing the CRDs in ${dir}: ${err.message}`, { cause: err });
  });
  const files = entries.filter((entry) => entry.endsWith(".yaml")).sort();
  if (files.length === 0) throw new Error(`no CRDs in ${dir}: run \`make manifests\``);
  return files.map((file) => path.join(dir, file));
}

async function readCrdNames(file: string): Promise<CrdNames[]> {
  const documents = parseAllDocuments(await readFile(file, "utf8"));
  const crds: CrdNames[] = [];
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`while reading ${file}: ${document.errors[0]!.message}`);
    const object = document.toJS() as CrdObject | null;
    if (object?.kind !== "CustomResourceDefinition") continue;
    crds.push({
      name: object.metadata.name,
      group: object.spec.group,
      plural: object.spec.names.plural,
      versions: object.spec.versions.filter((v) => v.served).map((v) => v.name),
    });
  }
  return crds;
}

interface CrdObject {
  readonly kind?: string;
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly group: string;
    readonly names: { readonly plural: string };
    readonly versions: readonly { readonly name: string; readonly served: boolean }[];
  };
}

async function kubectlOrThrow(target: CrdInstallTarget, what: string, args: readonly string[]): Promise<void> {
  const result = await target.kubectl(args);
  if (result.code !== 0) {
    throw new Error(`${what}: kubectl ${args.join(" ")} exited with ${result.code}: ${result.stderr.trim()}`);
  }
}

// Established can come a moment before discovery lists the resource, and
// clients that resolve kinds through discovery would then fail.
async function waitForDiscovery(target: CrdInstallTarget, crd: CrdNames): Promise<void> {
  for (const version of crd.versions) {
    await waitFor(`${crd.plural}.${crd.group}/${version} in discovery`, 30_000, [], async () => {
      const { status, body } = await target.get(`/apis/${crd.group}/${version}`);
      if (status !== 200) return undefined;
      const list = JSON.parse(body) as { resources?: readonly { name: string }[] };
      return list.resources?.some((r) => r.name === crd.plural) ? true : undefined;
    });
  }
}
