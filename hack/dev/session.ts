/**
 * One `make dev` session: the local control plane and PostgreSQL of the test harness, the
 * operator in a child process, and the dev variants of config/samples, up to Ready.
 */
import { access, constants, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { type RunningControlPlane, startControlPlane } from "../../test/harness/control-plane/start.js";
import { onStop } from "../../test/harness/lifecycle.js";
import { describeExit } from "../../test/harness/operator-process.js";
import { type PostgresServer, postgres } from "../../test/harness/postgres.js";
import { OperatorProcess } from "./operator.js";
import { DEV_CA, DEV_DIR, DEV_KUBECONFIG, SAMPLES_DIR } from "./paths.js";
import { type DatabaseSecret, databaseSecret, psqlLine } from "./psql-line.js";
import { type Kubectl, waitUntilReady } from "./ready.js";
import { describeRef, loadSamples, renderDevSamples, type ResourceRef, toYamlStream } from "./samples.js";

/** How a session runs and where it reports. */
export interface SessionOptions {
  /** How long each sample resource may take to become Ready. */
  readonly readyTimeoutMs: number;
  /** The operator's namespace, which holds the PostgresClusterInstance password Secrets. */
  readonly operatorNamespace: string;
  /** Receives the session's own lines and the operator's formatted log lines. */
  readonly write: (text: string) => void;
  /** Aborted when the user stopped the session: no further step starts (stopAll() is under way). */
  readonly signal: AbortSignal;
}

/** A session that reached Ready: what runs, until stopAll() stops it. */
export interface DevSession {
  readonly controlPlane: RunningControlPlane;
  readonly postgres: PostgresServer;
  readonly operator: OperatorProcess;
}

/** How long the operator may take to sync its caches after it started. */
const OPERATOR_READY_TIMEOUT_MS = 120_000;

/**
 * Starts everything and returns once the samples are Ready and the psql line is printed; every
 * part registers its teardown with onStop, the operator last so that stopAll() stops it first.
 */
export async function startDevSession(options: SessionOptions): Promise<DevSession> {
  const say = (text: string): void => options.write(prefixLines("[dev] ", text));
  say(
    `Starting the local control plane (etcd, kube-apiserver, kube-controller-manager) and PostgreSQL (session pid ${process.pid})`,
  );
  const { controlPlane, server } = await startServers();
  options.signal.throwIfAborted();
  onStop(() => Promise.resolve(say("Stopping PostgreSQL and the control plane")));
  await writeDevFiles(controlPlane, server);
  say(`Control plane at ${controlPlane.server}: ${processes(controlPlane.pids, controlPlane.dir)}`);
  say(
    `PostgreSQL ${server.majorVersion} at localhost:${server.port}: ${processes(await postmasterPid(server), serverDir(server))}`,
  );

  options.signal.throwIfAborted();
  const operator = await OperatorProcess.start({
    kubeconfigPath: DEV_KUBECONFIG,
    operatorNamespace: options.operatorNamespace,
    write: (line) => options.write(prefixLines("[operator] ", line)),
  });
  onStop(async () => {
    if (!operator.running) return;
    say("Stopping the operator");
    say(`Operator stopped (${describeExit(await operator.stop())})`);
  });
  await operator.waitUntilReady(OPERATOR_READY_TIMEOUT_MS, options.signal);
  say(`Operator ready: pid ${operator.pid}, probes at ${operator.healthProbeUrl}, metrics at ${operator.metricsUrl}`);

  const kubectl: Kubectl = (args, opts) => controlPlane.kubectl(args, opts);
  const database = await applySamples(kubectl, server, options, say);
  options.signal.throwIfAborted();
  say(`kubectl describe pgdb ${database.name} -n ${database.namespace}\n${await describe(kubectl, database)}`);
  const secret = await readSecret(kubectl, database.namespace!, `psql-${database.name}-app`);
  const kubectlBinary = (await onPath("kubectl")) ? undefined : path.join(controlPlane.binDir, "kubectl");
  options.write(usage(databaseSecret(`psql-${database.name}-app`, secret), kubectlBinary));
  return { controlPlane, postgres: server, operator };
}

/** Starts both servers side by side; waits for both either way, so that stopAll() finds every teardown. */
async function startServers(): Promise<{ controlPlane: RunningControlPlane; server: PostgresServer }> {
  const [controlPlane, server] = await Promise.allSettled([startControlPlane({ installCRDs: true }), postgres()]);
  if (controlPlane.status === "rejected") throw controlPlane.reason;
  if (server.status === "rejected") throw server.reason;
  return { controlPlane: controlPlane.value, server: server.value };
}

/** Writes the admin kubeconfig and PostgreSQL's CA to their stable paths, overwriting an earlier session's. */
async function writeDevFiles(controlPlane: RunningControlPlane, server: PostgresServer): Promise<void> {
  await mkdir(DEV_DIR, { recursive: true });
  await writeFile(DEV_KUBECONFIG, await readFile(controlPlane.kubeconfigPath), { mode: 0o600 });
  await writeFile(DEV_CA, server.caPem);
}

/** Applies the dev samples, waits until each is Ready, and returns the database to show. */
async function applySamples(
  kubectl: Kubectl,
  server: PostgresServer,
  options: SessionOptions,
  say: (text: string) => void,
): Promise<ResourceRef> {
  const devPostgres = {
    host: server.tlsServerName,
    port: server.port,
    user: server.superuser.user,
    password: server.superuser.password,
    caPem: server.caPem,
  };
  const samples = renderDevSamples(await loadSamples(SAMPLES_DIR), devPostgres, options.operatorNamespace);
  const database = samples.databases.find((ref) => ref.namespace !== undefined);
  if (!database) throw new Error(`while rendering the dev samples: ${SAMPLES_DIR} has no PostgresDatabase`);
  const args = ["apply", "--server-side", "--field-manager=kompost-dev", "-f", "-"];
  options.signal.throwIfAborted();
  const applied = await kubectl(args, { input: toYamlStream(samples.manifests) });
  if (applied.code !== 0) throw new Error(`while applying the dev samples: ${applied.stderr.trim()}`);
  say(`Applied the samples of config/samples, pointed at the local PostgreSQL:\n${applied.stdout.trimEnd()}`);
  for (const ref of [...samples.instances, ...samples.databases]) {
    say(`Waiting for ${describeRef(ref)} to become Ready`);
    await waitUntilReady(kubectl, ref, options.readyTimeoutMs, options.signal);
    say(`${describeRef(ref)} is Ready`);
  }
  return database;
}

async function describe(kubectl: Kubectl, ref: ResourceRef): Promise<string> {
  const result = await kubectl(["describe", ref.resource, ref.name, "-n", ref.namespace!]);
  if (result.code !== 0) throw new Error(`while describing ${describeRef(ref)}: ${result.stderr.trim()}`);
  return result.stdout.trimEnd();
}

async function readSecret(kubectl: Kubectl, namespace: string, name: string): Promise<Record<string, string>> {
  const result = await kubectl(["get", "secret", name, "-n", namespace, "-o", "json"]);
  if (result.code !== 0) throw new Error(`while reading the Secret ${namespace}/${name}: ${result.stderr.trim()}`);
  return (JSON.parse(result.stdout) as { data?: Record<string, string> }).data ?? {};
}

/** What to paste into another terminal; `kubectlBinary` is set when there is no kubectl on PATH. */
function usage(secret: DatabaseSecret, kubectlBinary: string | undefined): string {
  const kubectlHint = kubectlBinary
    ? [`  alias kubectl=${kubectlBinary}   # the control plane's; none is on PATH`]
    : [];
  return [
    "",
    "Kompost is running. In another terminal:",
    "",
    `  export KUBECONFIG=${DEV_KUBECONFIG}`,
    ...kubectlHint,
    "  kubectl get kompost -A",
    "",
    `Connect to the database ${secret.DB_NAME} as its app user:`,
    "",
    `  ${psqlLine(secret, DEV_CA)}`,
    "",
    "Press Ctrl-C to stop the operator, the control plane and PostgreSQL.",
    "",
  ].join("\n");
}

/** "pids 1, 2, 3; files in /tmp/x", so the user (and the test) can tell what to look for. */
function processes(pids: number | readonly number[] | undefined, dir: string): string {
  const list = pids === undefined ? [] : typeof pids === "number" ? [pids] : pids;
  return `${list.length === 1 ? "pid" : "pids"} ${list.join(", ")}; files in ${dir}`;
}

/** The temp dir of the harness's PostgreSQL: its log sits at the top of it. */
function serverDir(server: PostgresServer): string {
  return path.dirname(server.logPath);
}

async function postmasterPid(server: PostgresServer): Promise<number | undefined> {
  const text = await readFile(path.join(serverDir(server), "data", "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number(text.split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function prefixLines(prefix: string, text: string): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== "");
  const found = await Promise.all(
    dirs.map((dir) =>
      access(path.join(dir, command), constants.X_OK).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.includes(true);
}
