/**
 * The Go peer column of `make bench`: movetokube/postgres-operator ("ext-postgres-operator", a
 * controller-runtime operator) doing Kompost's work for N databases — a database, a read-write and a
 * read-only login role, and a Secret for each — on a fresh API server (audit log on) and a fresh
 * PostgreSQL of its own. Its CRDs and RBAC come from its source tree at run time (beside the binary
 * hack/build-go-peer.sh built); it runs as its own process under its ServiceAccount, without leader
 * election (it cannot elect out of a cluster). Two runs, each created until every PostgresUser has
 * succeeded, its Secrets' logins checked, then deleted until every object is gone: first everything
 * at once, as Kompost's PostgresDatabases are created (a user reconciled before its database has
 * succeeded fails and is retried with controller-runtime's backoff), then every Postgres first and
 * the users once all have succeeded. Writes the figures as JSON.
 *
 *   node --import tsx hack/bench/peer.ts <N> <result.json>      (hack/bench.ts runs it)
 *   env: BENCH_PEER_BIN (the binary), BENCH_WORK_DIR
 */
import { CoreV1Api, type KubernetesObject } from "@kubernetes/client-node";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import { stopAll } from "../../test/harness/lifecycle.js";
import { parseManifests } from "../../test/deploy/manifests.js";
import { kubectl } from "../../test/e2e/kubectl.js";
import { figures } from "./logs.js";
import {
  CREATE_PARALLELISM,
  createAll,
  inParallel,
  machineSince,
  measureEnd,
  measureStart,
  percentiles,
  settle,
  type Who,
} from "./measure.js";
import type { ResourceKind } from "../../runtime/resource-kind.js";
import { BenchOperator } from "./operator.js";
import {
  inNamespace,
  PEER_API,
  PEER_PLURALS,
  PEER_USERS,
  peerDatabase,
  peerEnvironment,
  peerSucceeded,
  peerSecretName,
  peerUserNames,
  serviceAccountOf,
} from "./peer-manifests.js";
import { loadAverage } from "./proc.js";
import { ReadyWatch } from "./ready-watch.js";
import type { PeerFigures, PeerRun } from "./result.js";
import { type BenchServers, startServers } from "./servers.js";

/** Where the peer's objects live, and where its ServiceAccount does. */
const NAMESPACE = "bench-peer";
const OPERATOR_NAMESPACE = "ext-postgres-operator";
const MiB = 1024 * 1024;
const TIMEOUT = 30 * 60_000;

interface PeerEnv extends BenchServers {
  readonly n: number;
  readonly dir: string;
  readonly operator: BenchOperator;
  readonly who: Who;
  readonly users: ReadyWatch;
  readonly databases: ReadyWatch;
}

async function main(n: number, resultPath: string): Promise<void> {
  const binary = process.env.BENCH_PEER_BIN;
  if (!binary) throw new Error("BENCH_PEER_BIN must name the peer's binary (hack/build-go-peer.sh prints it)");
  const home = path.resolve(path.dirname(binary), "..");
  const dir = path.resolve(process.env.BENCH_WORK_DIR ?? path.join(".kompost", "bench", `peer-n${n}`));
  const servers = await startServers(dir);
  const env = await startPeer(n, binary, home, dir, servers);
  const baselineRss = (await env.operator.memory()).rss;
  const load = await loadAverage();
  const together = await peerRun(env, "together");
  const databasesFirst = await peerRun(env, "databasesFirst");
  const peak = (await env.operator.memory()).peak;
  await env.operator.stop();
  env.users.stop();
  env.databases.stop();
  const result: PeerFigures = {
    commit: (await readFile(path.join(home, "commit"), "utf8").catch(() => "unknown")).trim(),
    loadAverage: load,
    baselineRssMiB: baselineRss / MiB,
    peakRssMiB: peak / MiB,
    ...together,
    databasesFirst,
  };
  await writeFile(resultPath, JSON.stringify(result, null, 2));
}

/** Applies the peer's CRDs and RBAC from its tree, and starts it under its ServiceAccount. */
async function startPeer(
  n: number,
  binary: string,
  home: string,
  dir: string,
  servers: BenchServers,
): Promise<PeerEnv> {
  const { cp, srv } = servers;
  await kubectl(cp, ["apply", "--server-side", "-f", path.join(home, "config", "crd", "bases")]);
  await kubectl(cp, ["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
  await cp.createNamespace(OPERATOR_NAMESPACE);
  await cp.createNamespace(NAMESPACE);
  const rbac = inNamespace(await rbacObjects(path.join(home, "config", "rbac")), OPERATOR_NAMESPACE);
  await kubectl(cp, ["apply", "--server-side", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac }),
  });
  const serviceAccount = serviceAccountOf(rbac);
  const { path: kubeconfig } = await cp.serviceAccountKubeconfig(OPERATOR_NAMESPACE, serviceAccount);
  const caPath = path.join(dir, "postgres-ca.pem");
  await writeFile(caPath, srv.caPem);
  const target = {
    host: srv.tlsServerName,
    port: srv.port,
    user: srv.superuser.user,
    password: srv.superuser.password,
    caPath,
    watchNamespace: NAMESPACE,
  };
  const operator = await BenchOperator.startExecutable(binary, ["--leader-elect=false"], {
    ...peerEnvironment(target),
    KUBECONFIG: kubeconfig,
  });
  const watchPath = (plural: string) => `/apis/${PEER_API.group}/${PEER_API.version}/namespaces/${NAMESPACE}/${plural}`;
  return {
    ...servers,
    n,
    dir,
    operator,
    who: { apiUser: `system:serviceaccount:${OPERATOR_NAMESPACE}:${serviceAccount}`, pgUser: srv.superuser.user },
    users: await ReadyWatch.start(cp.kubeConfig, watchPath(PEER_PLURALS.user), peerSucceeded),
    databases: await ReadyWatch.start(cp.kubeConfig, watchPath(PEER_PLURALS.database), peerSucceeded),
  };
}

/** The objects of the files config/rbac/kustomization.yaml lists. */
async function rbacObjects(rbacDir: string): Promise<KubernetesObject[]> {
  const kustomization = parse(await readFile(path.join(rbacDir, "kustomization.yaml"), "utf8")) as {
    resources: string[];
  };
  const texts = await Promise.all(kustomization.resources.map((file) => readFile(path.join(rbacDir, file), "utf8")));
  return texts.flatMap((text) => parseManifests(text));
}

/** How the bench hands the peer a run's objects, and the stem of their names. */
const ORDERS = { together: "db", databasesFirst: "dbf" } as const;
type Order = keyof typeof ORDERS;

/** One run: create, check every Secret's login, delete. */
async function peerRun(env: PeerEnv, order: Order): Promise<PeerRun> {
  const create = await createPhase(env, order);
  const loginsChecked = await checkLogins(env, ORDERS[order]);
  return { create: { ...create, loginsChecked }, deletion: await deletionPhase(env) };
}

/** N Postgres and 2N PostgresUsers created with Kompost's client concurrency, in `order`; until every user has succeeded. */
async function createPhase(env: PeerEnv, order: Order) {
  const stem = ORDERS[order];
  const sets = Array.from({ length: env.n }, (_, i) => peerDatabase(i, NAMESPACE, stem));
  const kindOf = (object: KubernetesObject): ResourceKind => {
    const database = object.kind === "Postgres";
    const plural = database ? PEER_PLURALS.database : PEER_PLURALS.user;
    return { ...PEER_API, kind: object.kind!, plural, namespaced: true };
  };
  const create = (objects: readonly KubernetesObject[]) => createAll(env.cp, objects, kindOf);
  const counters = await reconcileCounters(env.operator);
  const before = await measureStart(env.logs, env.operator);
  if (order === "together") await create(sets.flat());
  else {
    await create(sets.map(([database]) => database!));
    const all = () => env.databases.readyCount === env.n;
    await env.databases.until(`all ${env.n} Postgres succeeded`, all, TIMEOUT);
    await create(sets.flatMap(([, ...users]) => users));
  }
  const users = env.n * PEER_USERS.length;
  await env.users.until(`all ${users} PostgresUsers succeeded`, () => env.users.readyCount === users, TIMEOUT);
  const seconds = (Date.now() - before.time) / 1000;
  const machineCpu = await machineSince(before, env.operator);
  const readyAfter = Array.from({ length: env.n }, (_, i) =>
    Math.max(...peerUserNames(i, stem).map((name) => env.users.firstReady.get(name)! - before.time)),
  ).map((ms) => ms / 1000);
  await settle(env.operator);
  const activity = await measureEnd(env.logs, env.who, env.operator, before);
  // What the peer sent, to read: one line per statement, session and database first.
  await writeFile(
    path.join(env.dir, `create-${order}-statements.log`),
    activity.statements.map((statement) => `[${statement.pid}] ${statement.database}: ${statement.sql}\n`).join(""),
  );
  const after = await reconcileCounters(env.operator);
  return {
    seconds,
    readySeconds: percentiles(readyAfter),
    cpuSeconds: activity.cpuSeconds,
    machineCpu,
    reconciles: {
      postgres: after.postgres - counters.postgres,
      postgresuser: after.postgresuser - counters.postgresuser,
      errors: after.errors - counters.errors,
    },
    ...figures(activity),
  };
}

/** controller_runtime_reconcile_total of the peer's two controllers, and their errors, so far. */
async function reconcileCounters(operator: BenchOperator) {
  return {
    postgres: await operator.counter("controller_runtime_reconcile_total", { controller: "postgres" }),
    postgresuser: await operator.counter("controller_runtime_reconcile_total", { controller: "postgresuser" }),
    errors: await operator.counter("controller_runtime_reconcile_errors_total"),
  };
}

/** Logs in with every Secret's ROLE and PASSWORD to its DATABASE_NAME (after the timed phase): "succeeded" means usable. */
async function checkLogins(env: PeerEnv, stem: string): Promise<number> {
  const core = env.cp.kubeConfig.makeApiClient(CoreV1Api);
  // The Secrets of an earlier run may linger until the garbage collector has deleted them.
  const names = new Set(Array.from({ length: env.n }, (_, i) => peerUserNames(i, stem).map(peerSecretName)).flat());
  const items = (await core.listNamespacedSecret({ namespace: NAMESPACE })).items.filter((secret) =>
    names.has(secret.metadata?.name ?? ""),
  );
  const field = (data: Record<string, string> | undefined, key: string) =>
    Buffer.from(data?.[key] ?? "", "base64").toString();
  const logins = items.map((secret) => ({
    user: field(secret.data, "ROLE"),
    password: field(secret.data, "PASSWORD"),
    database: field(secret.data, "DATABASE_NAME"),
  }));
  if (logins.length !== env.n * PEER_USERS.length)
    throw new Error(`the peer wrote ${logins.length} Secrets for ${env.n * PEER_USERS.length} PostgresUsers`);
  await inParallel(logins.length, CREATE_PARALLELISM, async (i) => {
    const client = await env.srv.connect(logins[i]);
    await client.end();
  });
  return logins.length;
}

/** Every Postgres and PostgresUser deleted at once: until all are gone (the peer drops databases and roles first). */
async function deletionPhase(env: PeerEnv) {
  const before = await measureStart(env.logs, env.operator);
  await kubectl(env.cp, [
    "delete",
    `${PEER_PLURALS.user},${PEER_PLURALS.database}`,
    "--all",
    "-n",
    NAMESPACE,
    "--wait=false",
  ]);
  const gone = () => env.users.ready.size === 0 && env.databases.ready.size === 0;
  await env.users.until("every PostgresUser and Postgres gone", gone, TIMEOUT);
  const seconds = (Date.now() - before.time) / 1000;
  await settle(env.operator);
  const activity = await measureEnd(env.logs, env.who, env.operator, before);
  return { seconds, cpuSeconds: activity.cpuSeconds, ...figures(activity), ...(await leftovers(env)) };
}

/** The peer's databases and login roles still on the server. */
async function leftovers(env: PeerEnv): Promise<{ databasesLeft: number; rolesLeft: number }> {
  const client = await env.srv.connect();
  try {
    const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      databasesLeft: await count("SELECT count(*) AS n FROM pg_catalog.pg_database WHERE datname LIKE 'peer\\_%'"),
      rolesLeft: await count("SELECT count(*) AS n FROM pg_catalog.pg_roles WHERE rolname LIKE 'peer\\_%'"),
    };
  } finally {
    await client.end();
  }
}

const [size, resultPath] = process.argv.slice(2);
try {
  await main(Number(size), resultPath!);
} catch (err) {
  console.error(`bench peer (N=${size}) failed:`, err);
  process.exitCode = 1;
} finally {
  await stopAll();
}
