/**
 * One size of `make bench`, in a process of its own so that the control plane and PostgreSQL are
 * fresh: N PostgresDatabases through create, restart, idle and deletion with the compiled operator,
 * then the floor replaying Kompost's own statements. Writes the figures as JSON.
 *
 *   node --import tsx hack/bench/run.ts <N> <result.json>      (hack/bench.ts runs it)
 *   env: BENCH_MAIN (compiled entrypoint), BENCH_RESYNC_SECONDS, BENCH_PROFILE=1, BENCH_WORK_DIR
 */
import { CoreV1Api, type CoreV1Event, type V1Secret } from "@kubernetes/client-node";
import { PostgresDatabaseKind, type PostgresDatabase } from "../../api/v1alpha1/index.js";
import { FINALIZER } from "../../controllers/constants.js";
import { apiVersionOf, collectionPath } from "../../runtime/resource-kind.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import type { ControlPlane } from "../../test/harness/control-plane.js";
import { stopAll } from "../../test/harness/lifecycle.js";
import type { PostgresServer } from "../../test/harness/postgres.js";
import { renderFixture, serverValues } from "../../test/e2e/fixtures.js";
import { getJson, kubectl } from "../../test/e2e/kubectl.js";
import { installOperator, type OperatorDeployment } from "../../test/e2e/operator-process.js";
import { delay } from "../../test/support/eventually.js";
import { extractTemplate, probePattern, type Template, writesOnly } from "./floor-template.js";
import type { Bookkeeping, FloorConfig } from "./floor.js";
import { WRITE_VERBS } from "./audit-log.js";
import { type BenchLogs, figures } from "./logs.js";
import {
  createAll,
  flushDirtyPages,
  machineSince,
  measureEnd,
  measureStart,
  percentiles,
  settle,
  type Who,
} from "./measure.js";
import { BenchOperator } from "./operator.js";
import { loadAverage } from "./proc.js";
import { summarizeProfiles } from "./profile.js";
import { POSTGRES_DATABASES, ReadyWatch } from "./ready-watch.js";
import type { FloorFigures, SizeResult } from "./result.js";
import { serverVersion, startServers } from "./servers.js";

const NAMESPACE = "bench";
const FLOOR_NAMESPACE = "bench-floor";
const INSTANCE = "bench";
/** Kompost's default --max-concurrent-reconciles (BENCH_CONCURRENCY sets another): the floor works with as many sessions. */
const DEFAULT_CONCURRENCY = 4;
const MiB = 1024 * 1024;
const run = promisify(execFile);

interface Env {
  readonly n: number;
  readonly cp: ControlPlane;
  readonly srv: PostgresServer;
  readonly deployment: OperatorDeployment;
  readonly logs: BenchLogs;
  readonly watch: ReadyWatch;
  readonly dir: string;
  readonly main: string;
  readonly resyncSeconds: number;
  /** Kompost's --max-concurrent-reconciles, and the floor's sessions. */
  readonly concurrency: number;
  /** The flag, when BENCH_CONCURRENCY overrides the Deployment's default. */
  readonly concurrencyArgs: readonly string[];
  readonly profileDir: string | undefined;
  readonly who: Who;
}

async function main(n: number, resultPath: string): Promise<void> {
  const env = await setUp(n);
  const baseline = await startOperator(env, []);
  const baselineRss = (await baseline.memory()).rss;
  const loadAtCreate = await loadAverage();
  const create = await createPhase(env, baseline);
  const probeSecrets = await secretsOf(env, "db-0");
  const probeBooks = await bookkeepingOf(env, "db-0");
  const restart = await restartPhase(env, baseline);
  const idle = await idlePhase(env, restart.operator);
  const deletion = await deletionPhase(env, restart.operator);
  const restartedPeak = (await restart.operator.memory()).peak / MiB;
  await restart.operator.stop();
  env.watch.stop();
  const profile = env.profileDir ? await summarizeProfiles(env.profileDir) : undefined;
  const loadAtFloor = await loadAverage();
  const floor = await floorPhase(env, create.template, probeSecrets, "floor");
  await dropFloorDatabases(env, "floor");
  const bare = { ...create.template, steps: writesOnly(create.template.steps) };
  const floorWritesOnly = await floorPhase(env, bare, probeSecrets, "bare");
  await dropFloorDatabases(env, "bare");
  const floorWithBookkeeping = await floorPhase(env, create.template, probeSecrets, "books", probeBooks);
  const result: SizeResult = {
    n,
    postgresVersion: await serverVersion(env.srv),
    resyncSeconds: env.resyncSeconds,
    concurrency: env.concurrency,
    loadAverage: { create: loadAtCreate, floor: loadAtFloor },
    baselineRssMiB: baselineRss / MiB,
    peakRssMiB: Math.max(create.peakRssMiB, restartedPeak),
    create: create.figures,
    restart: restart.figures,
    idle,
    deletion,
    floor,
    floorWritesOnly,
    floorWithBookkeeping,
    templateStatements: create.template.steps.length,
    ...(env.profileDir ? { profileDir: path.relative(process.cwd(), env.profileDir) } : {}),
    ...(profile ? { profile } : {}),
  };
  await writeFile(resultPath, JSON.stringify(result, null, 2));
}

async function setUp(n: number): Promise<Env> {
  const dir = path.resolve(process.env.BENCH_WORK_DIR ?? path.join(".kompost", "bench", `n${n}`));
  const { cp, srv, logs } = await startServers(dir);
  const deployment = await installOperator(cp);
  await cp.createNamespace(NAMESPACE);
  await cp.createNamespace(FLOOR_NAMESPACE);
  const instance = await renderFixture("instance.yaml", {
    ...serverValues(srv, srv.superuser),
    name: INSTANCE,
    namespace: NAMESPACE,
    secretName: "bench-admin",
  });
  await kubectl(cp, ["apply", "-f", "-"], { input: instance });
  const profileDir = process.env.BENCH_PROFILE === "1" ? path.join(dir, "profile") : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  return {
    n,
    cp,
    srv,
    deployment,
    logs,
    watch: await ReadyWatch.start(cp.kubeConfig, POSTGRES_DATABASES.path(NAMESPACE), POSTGRES_DATABASES.isReady),
    dir,
    main: process.env.BENCH_MAIN ?? path.join("dist", "cmd", "main.js"),
    resyncSeconds: Number(process.env.BENCH_RESYNC_SECONDS ?? 60),
    ...concurrencyOf(process.env.BENCH_CONCURRENCY),
    profileDir,
    who: {
      apiUser: `system:serviceaccount:${deployment.namespace}:${deployment.serviceAccount}`,
      pgUser: srv.superuser.user,
    },
  };
}

function concurrencyOf(setting: string | undefined): Pick<Env, "concurrency" | "concurrencyArgs"> {
  if (setting === undefined || setting === "") return { concurrency: DEFAULT_CONCURRENCY, concurrencyArgs: [] };
  const concurrency = Number(setting);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`BENCH_CONCURRENCY must be a whole number of reconcile workers, such as 8; got "${setting}"`);
  return { concurrency, concurrencyArgs: [`--max-concurrent-reconciles=${concurrency}`] };
}

async function startOperator(env: Env, extraArgs: readonly string[]): Promise<BenchOperator> {
  const operator = await BenchOperator.start(env.deployment, {
    main: env.main,
    extraArgs: [...env.concurrencyArgs, ...extraArgs],
    ...(env.profileDir ? { profileDir: env.profileDir } : {}),
  });
  await kubectl(env.cp, ["wait", `pginst/${INSTANCE}`, "-n", NAMESPACE, "--for=condition=Ready", "--timeout=120s"]);
  return operator;
}

/** N PostgresDatabases created through the API at once; the phase ends when all are Ready, its counts once the operator is idle. */
async function createPhase(env: Env, operator: BenchOperator) {
  const manifest = parse(
    await renderFixture("database-on-instance.yaml", { name: "NAME", namespace: NAMESPACE, instance: INSTANCE }),
  ) as { metadata: { name: string } };
  const names = Array.from({ length: env.n }, (_, i) => `db-${i}`);
  const bodies = names.map((name) => ({ ...manifest, metadata: { ...manifest.metadata, name, namespace: NAMESPACE } }));
  const before = await measureStart(env.logs, operator);
  await createAll(env.cp, bodies, () => PostgresDatabaseKind);
  await env.watch.until(`all ${env.n} PostgresDatabases Ready`, () => env.watch.readyCount === env.n, 30 * 60_000);
  const seconds = (Date.now() - before.time) / 1000;
  const machineCpu = await machineSince(before, operator);
  const readyAfter = names.map((name) => (env.watch.firstReady.get(name)! - before.time) / 1000);
  await settle(operator);
  const activity = await measureEnd(env.logs, env.who, operator, before);
  const template = extractTemplate(activity.statements, probePattern(0));
  const memory = await operator.memory();
  return {
    template,
    peakRssMiB: memory.peak / MiB,
    figures: {
      seconds,
      readySeconds: percentiles(readyAfter),
      cpuSeconds: activity.cpuSeconds,
      machineCpu,
      reconciles: await operator.counter("controller_runtime_reconcile_total", { controller: "postgresdatabase" }),
      ...figures(activity),
    },
  };
}

/** The operator replaced by a new process (with the shortened resync): until every database was reconciled once more. */
async function restartPhase(env: Env, old: BenchOperator) {
  await old.stop();
  const flapsBefore = env.watch.flaps;
  const mark = await env.logs.mark();
  const started = Date.now();
  const operator = await startOperator(env, [`--resync-period=${env.resyncSeconds}s`]);
  const success = { controller: "postgresdatabase", result: "success" };
  while ((await operator.counter("controller_runtime_reconcile_total", success)) < env.n) {
    if (Date.now() - started > 30 * 60_000)
      throw new Error(
        `after a restart the database controller had not reconciled all ${env.n} databases within 30 min`,
      );
    await delay(250);
  }
  const reverifiedSeconds = (Date.now() - started) / 1000;
  await settle(operator);
  const activity = await measureEnd(env.logs, env.who, operator, {
    mark,
    time: started,
    cpu: 0,
    machine: { busy: 0, byProcess: {} },
  });
  const fig = figures(activity);
  return {
    operator,
    figures: {
      reverifiedSeconds,
      ...fig,
      cpuSeconds: activity.cpuSeconds,
      ddl: fig.sqlWrites,
      statusWrites: activity.requests.filter((r) => r.resource.endsWith("/status") && r.verb !== "get").length,
      events: activity.requests.filter((r) => r.resource === "events" && r.verb !== "get" && r.verb !== "list").length,
      readyFlaps: env.watch.flaps - flapsBefore,
      reconciles: await operator.counter("controller_runtime_reconcile_total", { controller: "postgresdatabase" }),
    },
  };
}

/** One resync period with nothing to do. */
async function idlePhase(env: Env, operator: BenchOperator) {
  const reconcilesBefore = await operator.counter("controller_runtime_reconcile_total", {
    controller: "postgresdatabase",
  });
  const before = await measureStart(env.logs, operator);
  await delay(env.resyncSeconds * 1000);
  const activity = await measureEnd(env.logs, env.who, operator, before);
  const reconciles =
    (await operator.counter("controller_runtime_reconcile_total", { controller: "postgresdatabase" })) -
    reconcilesBefore;
  const fig = figures(activity);
  return {
    seconds: env.resyncSeconds,
    cpuSeconds: activity.cpuSeconds,
    reconciles,
    ...fig,
    apiWritesBesidesLease: activity.requests.filter((r) => WRITE_VERBS.has(r.verb) && r.resource !== "leases").length,
    statementsPerReconcile: reconciles ? fig.sqlStatements / reconciles : 0,
    connectionsPerReconcile: reconciles ? fig.connections / reconciles : 0,
  };
}

/** Every PostgresDatabase deleted at once: until all are gone (databases and roles dropped). */
async function deletionPhase(env: Env, operator: BenchOperator) {
  const before = await measureStart(env.logs, operator);
  await kubectl(env.cp, ["delete", "pgdb", "--all", "-n", NAMESPACE, "--wait=false"]);
  await env.watch.until("every PostgresDatabase gone", () => env.watch.ready.size === 0, 30 * 60_000);
  const seconds = (Date.now() - before.time) / 1000;
  await settle(operator);
  const activity = await measureEnd(env.logs, env.who, operator, before);
  return { seconds, cpuSeconds: activity.cpuSeconds, ...figures(activity) };
}

/** The floor script, replaying `steps` for N new databases in a process of its own. */
async function floorPhase(
  env: Env,
  template: Template,
  secrets: readonly V1Secret[],
  stem: string,
  bookkeeping?: Bookkeeping,
): Promise<FloorFigures> {
  const kc = env.cp.kubeConfig;
  const decode = (data: string | undefined) => Buffer.from(data ?? "", "base64").toString();
  const config: FloorConfig = {
    databases: env.n,
    concurrency: env.concurrency,
    probe: probePattern(0).source,
    stem,
    steps: template.steps,
    aliases: template.aliases,
    postgres: {
      host: env.srv.host,
      port: env.srv.port,
      user: env.srv.superuser.user,
      password: env.srv.superuser.password,
      caPem: env.srv.caPem,
      servername: env.srv.tlsServerName,
    },
    kube: {
      server: env.cp.server,
      caPem: decode(kc.getCurrentCluster()?.caData),
      certPem: decode(kc.getCurrentUser()?.certData),
      keyPem: decode(kc.getCurrentUser()?.keyData),
    },
    namespace: FLOOR_NAMESPACE,
    secrets: secrets.map((secret) => ({
      metadata: {
        name: secret.metadata!.name,
        labels: secret.metadata!.labels ?? {},
        annotations: secret.metadata!.annotations ?? {},
      },
      type: secret.type,
      data: secret.data ?? {},
    })),
    ...(bookkeeping ? { bookkeeping } : {}),
  };
  const configPath = path.join(env.dir, `${stem}.json`);
  await writeFile(configPath, JSON.stringify(config));
  await flushDirtyPages();
  const mark = await env.logs.mark();
  const { stdout } = await run(process.execPath, ["--import", "tsx", "hack/bench/floor.ts", configPath], {
    maxBuffer: 16 * MiB,
  });
  const activity = await env.logs.between(mark, await env.logs.mark(), { apiUser: "", pgUser: env.who.pgUser });
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as Omit<FloorFigures, "connections" | "sqlStatements">;
  return { ...result, sqlStatements: activity.statements.length, connections: activity.connections };
}

/** The probe's PostgresDatabase as the user created it, the status and the Events Kompost wrote for it. */
async function bookkeepingOf(env: Env, name: string): Promise<Bookkeeping> {
  const database = await getJson<PostgresDatabase>(env.cp, ["pgdb", name, "-n", NAMESPACE]);
  const events = await getJson<{ items: CoreV1Event[] }>(env.cp, [
    "events",
    "-n",
    NAMESPACE,
    "--field-selector",
    `involvedObject.kind=PostgresDatabase,involvedObject.name=${name}`,
  ]);
  return {
    collection: collectionPath(PostgresDatabaseKind, FLOOR_NAMESPACE),
    database: {
      apiVersion: apiVersionOf(PostgresDatabaseKind),
      kind: "PostgresDatabase",
      metadata: { name },
      spec: database.spec,
    },
    finalizer: FINALIZER,
    status: database.status,
    events: events.items.map(({ type, reason, message }) => ({ type: type!, reason: reason!, message: message! })),
  };
}

/**
 * Drops the databases a floor run made (untimed), so that each run starts from the same server:
 * every CREATE DATABASE copies its template, and three runs of N=1000 hold some 22 GB, more than
 * the RAM disk of this project's machine holds (the servers' files are on /dev/shm).
 */
async function dropFloorDatabases(env: Env, stem: string): Promise<void> {
  const client = await env.srv.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT datname AS name FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
      [`bench_${stem}_`],
    );
    for (const { name } of rows) await client.query(`DROP DATABASE ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
}

async function secretsOf(env: Env, owner: string): Promise<V1Secret[]> {
  const core = env.cp.kubeConfig.makeApiClient(CoreV1Api);
  const { items } = await core.listNamespacedSecret({ namespace: NAMESPACE });
  return items.filter((secret) => secret.metadata?.ownerReferences?.some((ref) => ref.name === owner));
}

const [size, resultPath] = process.argv.slice(2);
try {
  await main(Number(size), resultPath!);
} catch (err) {
  console.error(`bench (N=${size}) failed:`, err);
  process.exitCode = 1;
} finally {
  await stopAll();
}
