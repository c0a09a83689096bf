import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseManifests, repoPath, type Manifest } from "./manifests.js";

const run = promisify(execFile);

/** The chart's directory in the repository. */
export const CHART = repoPath("charts", "kompost");

/** What one helm command printed, and how it exited. */
export interface HelmResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** helm (built once by hack/build-helm.sh) with its cache, config and data in a temp dir of its own. */
export interface Helm {
  /** Runs helm with `args`; never throws on a non-zero exit. */
  run(args: readonly string[], opts?: { kubeconfig?: string }): Promise<HelmResult>;
  /** `helm template kompost charts/kompost -n <namespace>` with `values` as a values file, parsed; throws on failure. */
  template(namespace: string, values?: unknown): Promise<Manifest[]>;
  /** Removes the temp dir. */
  close(): Promise<void>;
}

/** Builds helm on first use (minutes, once per machine) and returns a runner with a private HELM_* home. */
export async function startHelm(): Promise<Helm> {
  const binary = await helmBinary();
  const home = await mkdtemp(path.join(os.tmpdir(), "kompost-helm-"));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: path.join(home, "cache"),
    HELM_CONFIG_HOME: path.join(home, "config"),
    HELM_DATA_HOME: path.join(home, "data"),
  };
  let rendered = 0;
  const helm: Helm = {
    async run(args, opts = {}) {
      const kubeconfig = opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : [];
      try {
        const { stdout, stderr } = await run(binary, [...args, ...kubeconfig], {
          env,
          maxBuffer: 64 * 1024 * 1024,
        });
        return { stdout, stderr, code: 0 };
      } catch (err) {
        const failed = err as { stdout?: string; stderr?: string; code?: number };
        return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? String(err), code: failed.code ?? 1 };
      }
    },
    async template(namespace, values = {}) {
      const valuesFile = path.join(home, `values-${++rendered}.json`);
      await writeFile(valuesFile, JSON.stringify(values));
      const result = await helm.run(["template", "kompost", CHART, "-n", namespace, "-f", valuesFile]);
      if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
      return parseManifests(result.stdout);
    },
    close: () => rm(home, { recursive: true, force: true }),
  };
  return helm;
}

async function helmBinary(): Promise<string> {
  try {
    // stderr is inherited: a cold build takes minutes and says so.
    const { stdout } = await run(repoPath("hack", "build-helm.sh"), [], { cwd: repoPath() });
    return stdout.trim().split("\n").pop()!;
  } catch (err) {
    throw new Error(
      `while building helm with hack/build-helm.sh: ${(err as { stderr?: string }).stderr ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * The chart as it was first committed, extracted from git into `dir` (for an upgrade from an older chart);
 * undefined when the history is not there, as in a shallow clone.
 */
export async function firstCommittedChart(dir: string): Promise<string | undefined> {
  const git = (args: string[]) => run("git", args, { cwd: repoPath(), maxBuffer: 64 * 1024 * 1024 });
  try {
    const { stdout } = await git(["log", "--diff-filter=A", "--format=%H", "--", "charts/kompost/Chart.yaml"]);
    const first = stdout.trim().split("\n").pop();
    if (!first) return undefined;
    const { stdout: files } = await git(["ls-tree", "-r", "--name-only", first, "charts/kompost"]);
    for (const file of files.trim().split("\n")) {
      const { stdout: content } = await git(["show", `${first}:${file}`]);
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
    }
    return path.join(dir, "charts", "kompost");
  } catch {
    return undefined;
  }
}

/** A key naming an object across a render: kind/namespace/name. */
export function objectKey(object: Manifest): string {
  return `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}
