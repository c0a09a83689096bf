import type { V1Deployment } from "@kubernetes/client-node";
import type { ControlPlane } from "../harness/control-plane.js";
import { spawnOperator, type SpawnedOperator } from "../harness/operator-process.js";
import { eventually } from "../support/eventually.js";
import { findManifest, kustomize, type Manifest, parseManifests, repoPath } from "../deploy/manifests.js";
import { kubectl } from "./kubectl.js";

/** The kinds of config/default that give the operator its identity and permissions (the Deployment and CRDs aside). */
const IDENTITY_KINDS = new Set([
  "Namespace",
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
]);

/** The Lease name when the Deployment does not pass --leader-election-id (the flag's default). */
const DEFAULT_LEASE = "kompost.chuge.li";

/** The Deployment's name in config/default, after the name prefix. */
const DEPLOYMENT = "kompost-controller-manager";

/** The operator as config/default deploys it: where it runs, as whom, with which arguments. */
export interface OperatorDeployment {
  /** The operator's namespace (POD_NAMESPACE): the Lease and cluster-instance password Secrets live here. */
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The container's arguments, as in the rendered Deployment. */
  readonly args: readonly string[];
  /** Name of the leader election Lease in `namespace`. */
  readonly leaseName: string;
  /** A kubeconfig that authenticates as the ServiceAccount (not admin). */
  readonly kubeconfigPath: string;
}

let rendered: Promise<readonly Manifest[]> | undefined;

/**
 * Applies config/default's Namespace and RBAC objects (as a user's `make deploy` would) and returns
 * the operator's Deployment settings with a kubeconfig for its ServiceAccount. Applied again on every
 * call (config/default is rendered once per run): another test may have removed them (the Helm
 * test's `helm uninstall` deletes the ClusterRoles and the ServiceAccount, and a token of a deleted
 * ServiceAccount no longer authenticates), so each caller gets them whatever ran before it.
 */
export async function installOperator(cp: ControlPlane): Promise<OperatorDeployment> {
  rendered ??= kustomize("config/default").then(parseManifests);
  const objects = await rendered;
  const identity = objects.filter((object) => IDENTITY_KINDS.has(object.kind));
  await kubectl(cp, ["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: toJsonList(identity) });

  const deployment = findManifest(objects, "Deployment", DEPLOYMENT) as Manifest & V1Deployment;
  const namespace = deployment.metadata.namespace!;
  const pod = deployment.spec!.template.spec!;
  const serviceAccount = pod.serviceAccountName!;
  const args = pod.containers[0]!.args ?? [];
  const { path: kubeconfigPath } = await cp.serviceAccountKubeconfig(namespace, serviceAccount);
  return {
    namespace,
    serviceAccount,
    args,
    leaseName: flagValue(args, "leader-election-id") ?? DEFAULT_LEASE,
    kubeconfigPath,
  };
}

function toJsonList(objects: readonly Manifest[]): string {
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: objects });
}

function flagValue(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

/** One JSON log line of the operator. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

/** Options for one operator replica. */
export interface StartOptions {
  /** Shown in failure dumps, e.g. "replica-2". */
  readonly name?: string;
  /** Flags added after the Deployment's (a later flag wins). */
  readonly extraArgs?: readonly string[];
  /** The entrypoint as node's arguments; default the TypeScript sources through tsx. */
  readonly entrypoint?: readonly string[];
  /** Extra environment variables, e.g. KOMPOST_FAULT_POINT for the fault-injection tests. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * One replica of the operator, run as users run it: `node --import tsx cmd/main.ts` with the
 * Deployment's arguments, POD_NAMESPACE set, authenticated as its ServiceAccount, and probes and
 * metrics on free loopback ports instead of the pod's :8081 and :8080.
 */
export class OperatorProcess {
  private output = "";

  private constructor(
    readonly name: string,
    private readonly spawned: SpawnedOperator,
  ) {
    spawned.child.stdout!.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    spawned.child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Starts a replica of the deployment; it is SIGKILLed at the end of the run if still running. */
  static async start(deployment: OperatorDeployment, opts: StartOptions = {}): Promise<OperatorProcess> {
    const spawned = await spawnOperator({
      ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
      args: [...deployment.args, ...(opts.extraArgs ?? []), `--kubeconfig=${deployment.kubeconfigPath}`],
      cwd: repoPath(),
      // Only what a container would have: no KUBECONFIG of the test run, no admin credentials.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAMESPACE: deployment.namespace, ...opts.env },
    });
    return new OperatorProcess(opts.name ?? `pid ${spawned.child.pid}`, spawned);
  }

  /** "http://127.0.0.1:<port>" serving /healthz and /readyz. */
  get probesUrl(): string {
    return this.spawned.healthProbeUrl;
  }

  /** "http://127.0.0.1:<port>" serving /metrics. */
  get metricsUrl(): string {
    return this.spawned.metricsUrl;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get logs(): string {
    return this.output;
  }

  /** The JSON log lines so far (other lines, such as a crash trace, are left out). */
  logLines(): LogLine[] {
    return this.output.split("\n").flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as unknown;
        return isLogLine(parsed) ? [parsed] : [];
      } catch {
        return [];
      }
    });
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.spawned.child.exitCode === null && this.spawned.child.signalCode === null;
  }

  /** The holderIdentity this replica writes into the Lease, from its first leader election log line. */
  async identity(): Promise<string> {
    return eventually(() => {
      const line = this.logLines().find((entry) => typeof entry.identity === "string");
      if (!line) throw new Error(`${this.name} has not logged its leader election identity yet:\n${this.output}`);
      return line.identity as string;
    }, 30_000);
  }

  /** Polls /readyz until it answers 200; fails at once, with the logs, if the process exits. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await eventually(async () => {
      if (!this.running) throw new Error(`${this.name} exited before it was ready:\n${this.output}`);
      const response = await fetch(`${this.probesUrl}/readyz`);
      if (response.status !== 200) throw new Error(`${this.name}: /readyz answered ${response.status}`);
    }, timeoutMs);
  }

  /** Sends SIGTERM and resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.running) this.spawned.child.kill("SIGTERM");
    return (await this.spawned.exited).code;
  }

  /** Sends SIGKILL, as a crashed node or an OOM kill would, and waits until the process is gone. */
  async kill(): Promise<void> {
    if (this.running) this.spawned.child.kill("SIGKILL");
    await this.spawned.exited;
  }
}

function isLogLine(value: unknown): value is LogLine {
  return typeof value === "object" && value !== null && "message" in value && "level" in value;
}

/** The holderIdentity of the operator's Lease, or "" when nobody holds it. */
export async function leaseHolder(cp: ControlPlane, deployment: OperatorDeployment): Promise<string> {
  return kubectl(cp, [
    "get",
    "lease",
    "-n",
    deployment.namespace,
    deployment.leaseName,
    "-o",
    "jsonpath={.spec.holderIdentity}",
  ]);
}

/**
 * The log lines where RBAC refused a request ("... is forbidden: User ... cannot list resource ..."):
 * a rule missing from config/rbac. Other 403s, such as writing into a namespace being deleted, are not.
 */
export function forbiddenLines(operator: OperatorProcess): string[] {
  return operator.logs.split("\n").filter((line) => /forbidden\b.*\bcannot \w+ resource\b/i.test(line));
}

/** For a failed test only: dumps the cluster (see dumpCluster) under the test's title. */
export async function dumpOnFailure(
  test: Mocha.Test | undefined,
  cp: ControlPlane,
  operators: Iterable<OperatorProcess>,
): Promise<void> {
  if (test?.state === "failed") await dumpCluster(`"${test.fullTitle()}" failed`, cp, operators);
}

/**
 * Prints the operators' logs, every Event and every Kompost resource as YAML, so that a failure
 * can be understood from the test output alone; `what` says what happened.
 */
export async function dumpCluster(what: string, cp: ControlPlane, operators: Iterable<OperatorProcess>): Promise<void> {
  const sections: string[] = [];
  for (const operator of operators) sections.push(`--- operator ${operator.name} logs ---\n${operator.logs}`);
  for (const args of [
    ["get", "events", "-A", "--sort-by=.lastTimestamp"],
    ["get", "kompost", "-A", "-o", "yaml"],
  ]) {
    const result = await cp.kubectl(args);
    sections.push(`--- kubectl ${args.join(" ")} ---\n${result.stdout}${result.stderr}`);
  }
  console.error(`\nWhat the cluster looked like when ${what}:\n${sections.join("\n")}`);
}
