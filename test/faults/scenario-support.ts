/**
 * What the fault-injection scenarios share: the real control plane and PostgreSQL of the run,
 * the operator as a process (as the end-to-end tests run it, as its ServiceAccount), batches of
 * PostgresDatabases applied with kubectl, waits on their state, a seeded random source, the
 * hard clean-up between files, and the runtime report of each scenario.
 */
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { parse, stringify } from "yaml";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { GROUP, VERSION } from "../../api/v1alpha1/index.js";
import { isConditionTrue } from "../../runtime/conditions.js";
import { quoteIdent, quoteLiteral } from "../../services/postgres/sql.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { type PgCredentials, postgres, type PostgresServer } from "../harness/postgres.js";
import { installOperator, type OperatorDeployment, OperatorProcess, dumpOnFailure } from "../e2e/operator-process.js";
import { kubectl } from "../e2e/kubectl.js";
import { eventually } from "../support/eventually.js";
import { assertInvariant, type ServerSnapshot, snapshotServer } from "./invariant.js";

/** The servers and the operator's deployment settings every scenario runs against. */
export interface FaultEnv {
  readonly cp: ControlPlane;
  readonly srv: PostgresServer;
  readonly deployment: OperatorDeployment;
}

/** Starts (once per run) the control plane and PostgreSQL, and applies the operator's RBAC. */
export async function faultEnv(): Promise<FaultEnv> {
  const [cp, srv] = await Promise.all([controlPlane(), postgres()]);
  return { cp, srv, deployment: await installOperator(cp) };
}

// ---- The operator -----------------------------------------------------------

/** Flags of a single replica: no leader election, so a restart after SIGKILL does not wait 15 s for the Lease. */
export const SINGLE_REPLICA_ARGS: readonly string[] = ["--leader-elect=false"];

/** The operator replicas one scenario file started, for restarts, the failure dump and clean-up. */
export class Operators {
  readonly all: OperatorProcess[] = [];
  private count = 0;

  constructor(private readonly env: FaultEnv) {}

  /** Starts a replica (single-replica flags unless `extraArgs` are given) and waits until /readyz answers. */
  async start(extraArgs: readonly string[] = SINGLE_REPLICA_ARGS, kubeconfigPath?: string): Promise<OperatorProcess> {
    this.count += 1;
    const deployment = kubeconfigPath ? { ...this.env.deployment, kubeconfigPath } : this.env.deployment;
    const operator = await OperatorProcess.start(deployment, { name: `replica-${this.count}`, extraArgs });
    this.all.push(operator);
    await operator.waitReady(120_000);
    return operator;
  }

  /** SIGKILLs every replica still running. */
  async killAll(): Promise<void> {
    for (const operator of this.all) await operator.kill();
  }

  /** For a failed test only: the operators' logs, the Events and the resources. */
  async dumpOnFailure(test: Mocha.Test | undefined): Promise<void> {
    await dumpOnFailure(test, this.env.cp, this.all);
  }
}

/**
 * A copy of the operator's ServiceAccount kubeconfig whose server is `https://127.0.0.1:<port>`:
 * for an operator that reaches the API server through a TcpProxy.
 */
export async function kubeconfigVia(deployment: OperatorDeployment, port: number): Promise<string> {
  const config = parse(await readFile(deployment.kubeconfigPath, "utf8")) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const { cluster } of config.clusters) {
    const url = new URL(cluster.server);
    url.port = String(port);
    cluster.server = url.origin;
  }
  const file = path.join(path.dirname(deployment.kubeconfigPath), `via-${port}.kubeconfig`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}

// ---- Resources ----------------------------------------------------------------

/** Where an instance points and as whom. */
export interface InstanceTarget {
  readonly host: string;
  readonly port: number;
  readonly admin: PgCredentials;
  /** verify_peer needs the certificate's name ("localhost"); verify_ca lets a proxy on 127.0.0.1 stand in. */
  readonly verify: "verify_peer" | "verify_ca";
}

/** The test PostgreSQL as its certificate names it, with one of its admins. */
export function directTarget(srv: PostgresServer, admin: PgCredentials = srv.superuser): InstanceTarget {
  return { host: srv.tlsServerName, port: srv.port, admin, verify: "verify_peer" };
}

/** The Secret and PostgresInstance `name` of `namespace`, as a list of manifests. */
export function instanceManifests(
  srv: PostgresServer,
  namespace: string,
  name: string,
  target: InstanceTarget,
): object[] {
  const secretName = `${name}-password`;
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secretName, namespace },
      stringData: { password: target.admin.password },
    },
    {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "PostgresInstance",
      metadata: { name, namespace },
      spec: {
        hostname: target.host,
        port: target.port,
        username: target.admin.user,
        passwordSecretRef: { name: secretName, key: "password" },
        ssl: { enabled: true, verify: target.verify, ca: srv.caPem },
      },
    },
  ];
}

/** PostgresDatabases `<prefix>-<i>` (i from 1) on `instance`. */
export function databaseManifests(namespace: string, instance: string, names: readonly string[]): object[] {
  return names.map((name) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "PostgresDatabase",
    metadata: { name, namespace },
    spec: { instanceRef: { name: instance } },
  }));
}

/** `count` names `<prefix>-1` … `<prefix>-<count>`. */
export function numbered(prefix: string, count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${from + i}`);
}

/** Applies manifests as a user would (`kubectl apply -f -` of one List), creating their namespaces first. */
export async function apply(env: FaultEnv, objects: readonly object[]): Promise<void> {
  const namespaces = new Set(objects.map((o) => (o as { metadata: { namespace?: string } }).metadata.namespace));
  for (const namespace of namespaces) if (namespace) await env.cp.createNamespace(namespace);
  await kubectl(env.cp, ["apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  });
}

/** Deletes without waiting (`kubectl delete --wait=false`), as a user whose finalizers then run. */
export async function deleteNoWait(env: FaultEnv, args: readonly string[]): Promise<void> {
  await kubectl(env.cp, ["delete", ...args, "--wait=false", "--ignore-not-found"]);
}

/** The PostgresDatabases of a namespace, read through the API (an empty list while the namespace is gone). */
export async function listDatabases(env: FaultEnv, namespace: string): Promise<PostgresDatabase[]> {
  const api = env.cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: "postgresdatabases",
  })) as { items: PostgresDatabase[] };
  return list.items;
}

/** True when Ready is True for the resource's current generation. */
export function isReady(db: PostgresDatabase): boolean {
  return (
    db.metadata?.deletionTimestamp === undefined &&
    isConditionTrue(db.status?.conditions, "Ready") &&
    db.status?.observedGeneration === db.metadata?.generation
  );
}

/** "name: Ready=False Reason: message" for each resource that is not Ready, for failure messages. */
export function describeNotReady(dbs: readonly PostgresDatabase[]): string {
  return dbs
    .filter((db) => !isReady(db))
    .map((db) => {
      const ready = db.status?.conditions?.find((c) => c.type === "Ready");
      const state = ready ? `Ready=${ready.status} ${ready.reason}: ${ready.message}` : "no Ready condition";
      const deleting = db.metadata?.deletionTimestamp ? " (being deleted)" : "";
      return `${db.metadata?.name}${deleting}: ${state}`;
    })
    .join("\n");
}

/** Waits until the named PostgresDatabases of the namespace are all Ready; returns how long that took. */
export async function waitReady(
  env: FaultEnv,
  namespace: string,
  names: readonly string[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  let stranded: string | undefined;
  await eventually(
    async () => {
      if (stranded) return;
      const dbs = (await listDatabases(env, namespace)).filter((db) => names.includes(db.metadata.name!));
      const missing = names.filter((name) => !dbs.some((db) => db.metadata.name === name));
      if (missing.length > 0 || !dbs.every(isReady)) {
        const state =
          `${namespace}: not all of ${names.length} PostgresDatabases are Ready after ${Date.now() - started} ms` +
          (missing.length ? `; missing: ${missing.join(", ")}` : "") +
          `\n${describeNotReady(dbs)}`;
        if (dbs.some((db) => STRANDED_REASONS.has(readyCondition(db)?.reason ?? ""))) stranded = state;
        else throw new Error(state);
      }
    },
    timeoutMs,
    500,
  );
  if (stranded) throw new Error(`stranded for good (no scenario makes a foreign object): ${stranded}`);
  return Date.now() - started;
}

/** Reasons that never clear by themselves: no scenario creates a clashing object, so one of these is a defect. */
const STRANDED_REASONS: ReadonlySet<string> = new Set(["ForeignObject"]);

function readyCondition(db: PostgresDatabase): { reason?: string; status?: string } | undefined {
  return db.status?.conditions?.find((c) => c.type === "Ready");
}

/** Waits until the namespace holds none of the named PostgresDatabases (none at all without names); returns how long that took. */
export async function waitNoDatabases(
  env: FaultEnv,
  namespace: string,
  timeoutMs: number,
  names?: readonly string[],
): Promise<number> {
  const started = Date.now();
  await eventually(
    async () => {
      const left = (await listDatabases(env, namespace)).filter((db) => !names || names.includes(db.metadata.name!));
      if (left.length > 0) {
        throw new Error(
          `${namespace}: ${left.length} PostgresDatabases are not gone after ${Date.now() - started} ms: ` +
            left.map((db) => `${db.metadata?.name} (finalizers ${JSON.stringify(db.metadata?.finalizers)})`).join(", "),
        );
      }
    },
    timeoutMs,
    500,
  );
  return Date.now() - started;
}

/** Waits until `kubectl get <resource>` finds nothing; returns how long that took. */
export async function waitGone(env: FaultEnv, args: readonly string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  await eventually(
    async () => {
      const out = await kubectl(env.cp, ["get", ...args, "--ignore-not-found", "-o", "name"]);
      if (out.trim() !== "") throw new Error(`still there after ${Date.now() - started} ms: ${out.trim()}`);
    },
    timeoutMs,
    500,
  );
  return Date.now() - started;
}

/** Waits until `count` of the named databases exist on the server (Kompost got that far into the batch). */
export async function waitServerDatabases(
  env: FaultEnv,
  prefix: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  await eventually(
    async () => {
      const found = await serverDatabaseCount(env.srv, prefix);
      if (found < count) throw new Error(`only ${found} of ${count} databases named ${prefix}* exist on the server`);
    },
    timeoutMs,
    100,
  );
}

/** How many databases whose name starts with `prefix` exist on the server. */
export async function serverDatabaseCount(srv: PostgresServer, prefix: string): Promise<number> {
  const client = await srv.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
      [prefix],
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** The SQL prefix of every database and role name of a namespace under the default naming strategy. */
export function sqlPrefix(namespace: string): string {
  return `${namespace.replace(/[^a-z0-9_]/g, "_")}_`;
}

// ---- Clean-up -------------------------------------------------------------------

/**
 * Leaves nothing of a scenario file behind, whatever state it failed in: kills its operators,
 * strips the finalizers of the Kompost resources in its namespaces, deletes the namespaces and
 * drops the server objects named for them, so that the next file's operator finds none of it.
 */
export async function hardCleanUp(env: FaultEnv, operators: Operators, namespaces: readonly string[]): Promise<void> {
  await operators.killAll();
  for (const namespace of namespaces) {
    for (const kind of ["pgdb", "pginst"]) {
      const names = (await env.cp.kubectl(["get", kind, "-n", namespace, "-o", "name"])).stdout.split("\n");
      for (const name of names.filter(Boolean)) {
        await env.cp.kubectl([
          "patch",
          name,
          "-n",
          namespace,
          "--type=merge",
          "-p",
          '{"metadata":{"finalizers":null}}',
        ]);
      }
      // Gone before any other operator starts: one would otherwise provision them again.
      await env.cp.kubectl(["delete", kind, "--all", "-n", namespace, "--ignore-not-found"]);
    }
    await env.cp.kubectl(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"]);
  }
  await dropServerObjects(env.srv, namespaces.map(sqlPrefix));
}

/** Drops every database and role whose name starts with one of the prefixes. */
export async function dropServerObjects(srv: PostgresServer, prefixes: readonly string[]): Promise<void> {
  const client = await srv.connect();
  try {
    for (const prefix of prefixes) {
      const dbs = await client.query<{ datname: string }>(
        "SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
        [prefix],
      );
      for (const { datname } of dbs.rows)
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
      const roles = await client.query<{ rolname: string }>(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE starts_with(rolname, $1)",
        [prefix],
      );
      for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS ${quoteIdent(rolname)}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Objects no PostgresDatabase owns, made before a scenario so that the invariant sees them left
 * alone: a plain database and role, and a database and role marked for a resource that does not exist.
 */
export async function createForeignObjects(srv: PostgresServer): Promise<void> {
  const marker = "managed by kompost.chuge.li for PostgresDatabase faults-elsewhere/not-here";
  const client = await srv.connect();
  try {
    for (const [name, comment] of [
      ["faults_foreign_plain", "made by hand"],
      ["faults_foreign_marked", marker],
    ] as const) {
      const exists = await client.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await client.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`);
      const role = await client.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [name]);
      if (role.rowCount === 0) await client.query(`CREATE ROLE ${quoteIdent(name)} LOGIN`);
      await client.query(`COMMENT ON ROLE ${quoteIdent(name)} IS ${quoteLiteral(comment)}`);
    }
  } finally {
    await client.end();
  }
}

// ---- Randomness and reporting ---------------------------------------------------

/** A seeded random source (mulberry32): the same seed gives the same delays. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The seed of KOMPOST_FAULT_SEED when set (to replay a run), else a fresh one. */
  static fromEnvironment(): SeededRandom {
    const fromEnv = process.env.KOMPOST_FAULT_SEED;
    const seed = fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(seed)) throw new Error(`KOMPOST_FAULT_SEED must be an integer, got "${fromEnv}"`);
    return new SeededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

/** Prints one line of the scenario report: what ran, how long it took, what it found. */
export function report(scenario: string, startedAt: number, found: string): void {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(`      [faults] ${scenario}: ${seconds} s; ${found}`);
}

// ---- Tenants -------------------------------------------------------------------------

/** A client connected as a connection Secret says (host, port, database, user, password; TLS verified with DB_SSL_CA). */
export async function connectWithSecret(env: FaultEnv, namespace: string, secretName: string): Promise<pg.Client> {
  const core = env.cp.kubeConfig.makeApiClient(CoreV1Api);
  const secret = await core.readNamespacedSecret({ namespace, name: secretName });
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]),
  );
  const client = new pg.Client({
    host: data.DB_HOST,
    port: Number(data.DB_PORT),
    database: data.DB_NAME,
    user: data.DB_USER,
    password: data.DB_PASS,
    ssl: { ca: data.DB_SSL_CA, rejectUnauthorized: true },
    connectionTimeoutMillis: 20_000,
  });
  await client.connect();
  return client;
}

// ---- One scenario file ------------------------------------------------------------------

/** What a scenario file's hooks prepared: the servers, its operators, and the server before it began. */
export interface ScenarioFile {
  readonly env: FaultEnv;
  readonly operators: Operators;
  /** The server as it was before the file's first scenario, with the foreign objects in place. */
  readonly serverBefore: ServerSnapshot;
  /** The shared invariant over `namespaces` (default: all the file's namespaces). */
  invariant(namespaces?: readonly string[]): Promise<void>;
}

/**
 * Registers the hooks every scenario file needs: before, the servers, a clean slate for its
 * namespaces, the foreign objects and the server snapshot; after each failed test, the dump;
 * after all, the hard clean-up. The returned object is filled in once the before hook ran.
 */
export function scenarioFile(namespaces: readonly string[]): ScenarioFile {
  const file = {} as { env: FaultEnv; operators: Operators; serverBefore: ServerSnapshot };
  before(async function () {
    this.timeout(600_000);
    file.env = await faultEnv();
    file.operators = new Operators(file.env);
    await hardCleanUp(file.env, file.operators, namespaces);
    await createForeignObjects(file.env.srv);
    file.serverBefore = await snapshotServer(file.env.srv);
  });
  afterEach(async function () {
    await file.operators.dumpOnFailure(this.currentTest);
  });
  after(async function () {
    this.timeout(120_000);
    if (file.env) await hardCleanUp(file.env, file.operators, namespaces);
  });
  return {
    get env() {
      return file.env;
    },
    get operators() {
      return file.operators;
    },
    get serverBefore() {
      return file.serverBefore;
    },
    invariant: (scope = namespaces) =>
      assertInvariant({ cp: file.env.cp, srv: file.env.srv, namespaces: scope, before: file.serverBefore }),
  };
}
