/**
 * `make bench`: measures Kompost end to end on this machine — the operator as its own process
 * under its ServiceAccount, on the test control plane and a real PostgreSQL — and prints a
 * Markdown table. Numbers, not assertions: the test suite never times anything.
 *
 *   BENCH_DATABASES=20 (how many PostgresDatabases)   BENCH_RESYNC_SECONDS=15 (--resync-period)
 *   BENCH_FOREIGN_SECRETS=200 (unrelated 256 KiB Secrets, such as Helm releases, in another namespace)
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile, mkdir } from "node:fs/promises";
import { promisify } from "node:util";
import path from "node:path";
import { type PostgresDatabase, PostgresDatabaseKind } from "../api/v1alpha1/index.js";
import { isConditionTrue, READY } from "../runtime/conditions.js";
import { KubeClient } from "../runtime/kube-client.js";
import { secretKind } from "../runtime/resource-kind.js";
import { controlPlane, type ControlPlane } from "../test/harness/control-plane.js";
import { stopAll } from "../test/harness/lifecycle.js";
import { postgres, type PostgresServer } from "../test/harness/postgres.js";
import { renderFixture, serverValues } from "../test/e2e/fixtures.js";
import { kubectl } from "../test/e2e/kubectl.js";
import { installOperator, OperatorProcess } from "../test/e2e/operator-process.js";
import { delay } from "../test/support/eventually.js";
import { mebibytes, seconds, summarize } from "./bench/stats.js";
import { classifyStatements, statementsIn } from "./bench/statements.js";

const DATABASES = Number(process.env.BENCH_DATABASES ?? 20);
const RESYNC_SECONDS = Number(process.env.BENCH_RESYNC_SECONDS ?? 15);
const FOREIGN_SECRETS = Number(process.env.BENCH_FOREIGN_SECRETS ?? 200);
const FOREIGN_SECRET_BYTES = 256 * 1024;
const NAMESPACE = "bench";
const POLL_MS = 100;
const run = promisify(execFile);

type Row = readonly [measure: string, value: string, note: string];

interface Bench {
  readonly cp: ControlPlane;
  readonly srv: PostgresServer;
  readonly client: KubeClient;
  readonly operator: OperatorProcess;
  readonly names: readonly string[];
}

async function main(): Promise<void> {
  const bench = await setUp();
  const rows: Row[] = [];
  rows.push(...(await provisioning(bench)));
  rows.push(...(await idleResync(bench)));
  rows.push(await memory(bench));
  rows.push(await memoryWithForeignSecrets(bench));
  rows.push(await databaseDriftRepair(bench));
  rows.push(await secretRepair(bench));
  rows.push(await deletion(bench));
  await report(rows);
  const code = await bench.operator.stop();
  if (code !== 0) throw new Error(`the operator exited with ${code} on SIGTERM`);
}

async function setUp(): Promise<Bench> {
  const [cp, srv, entrypoint] = await Promise.all([controlPlane(), postgres(), buildEntrypoint()]);
  const deployment = await installOperator(cp);
  const operator = await OperatorProcess.start(deployment, {
    name: "bench",
    entrypoint,
    extraArgs: [`--resync-period=${RESYNC_SECONDS}s`, "--log-level=warn"],
  });
  await operator.waitReady();
  await cp.createNamespace(NAMESPACE);
  const instance = await renderFixture("instance.yaml", {
    ...serverValues(srv, srv.superuser),
    name: "bench",
    namespace: NAMESPACE,
    secretName: "bench-admin",
  });
  await kubectl(cp, ["apply", "-f", "-"], { input: instance });
  await kubectl(cp, ["wait", "pginst/bench", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=60s"]);
  const names = Array.from({ length: DATABASES }, (_, i) => `db-${i}`);
  return { cp, srv, client: new KubeClient(cp.kubeConfig), operator, names };
}

/** Compiles the operator as the image does (tsc, no tsx at run time), inside the repository so node_modules resolve. */
async function buildEntrypoint(): Promise<string[]> {
  const outDir = path.join(".kompost", "bench", "dist");
  await run("npx", ["--no-install", "tsc", "-p", "tsconfig.build.json", "--outDir", outDir]);
  return [path.join(outDir, "cmd", "main.js")];
}

/** Time from one `kubectl apply` of every PostgresDatabase until each is Ready. */
async function provisioning(bench: Bench): Promise<Row[]> {
  const manifests = await Promise.all(
    bench.names.map((name) =>
      renderFixture("database-on-instance.yaml", { name, namespace: NAMESPACE, instance: "bench" }),
    ),
  );
  const started = Date.now();
  await kubectl(bench.cp, ["apply", "-f", "-"], { input: manifests.join("\n---\n") });
  const readyAt = new Map<string, number>();
  while (readyAt.size < bench.names.length) {
    if (Date.now() - started > 300_000)
      throw new Error(`only ${readyAt.size} of ${bench.names.length} Ready after 5 min`);
    for (const db of await listDatabases(bench)) {
      if (!readyAt.has(db.metadata.name!) && isReady(db)) readyAt.set(db.metadata.name!, Date.now() - started);
    }
    await delay(POLL_MS);
  }
  const summary = summarize([...readyAt.values()]);
  return [
    ["provision: apply → Ready, p50", seconds(summary.p50), `${summary.count} databases applied at once`],
    ["provision: apply → Ready, p95", seconds(summary.p95), "database, 2 roles, 2 Secrets, grants each"],
    [
      "provision: apply → all Ready",
      seconds(summary.max),
      `${(summary.count / (summary.max / 1000)).toFixed(1)} databases/s`,
    ],
  ];
}

/** What two resync periods cost when nothing drifted: SQL statements by kind, and API writes. */
async function idleResync(bench: Bench): Promise<Row[]> {
  const logBefore = (await bench.srv.readLog()).length;
  const versionsBefore = await resourceVersions(bench);
  const window = 2 * RESYNC_SECONDS * 1000 + 2000;
  await delay(window);
  const statements = statementsIn((await bench.srv.readLog()).slice(logBefore));
  const counts = classifyStatements(statements);
  const versionsAfter = await resourceVersions(bench);
  const written = [...versionsAfter].filter(([key, version]) => versionsBefore.get(key) !== version).length;
  const perDatabase = (counts.reads / bench.names.length / 2).toFixed(1);
  return [
    ["idle resync: read statements", `${counts.reads}`, `${perDatabase} per database per resync, over 2 resyncs`],
    [
      "idle resync: DDL/DCL/DML statements",
      `${counts.writes}`,
      counts.writes ? counts.examples.join("; ") : "nothing drifted, nothing written",
    ],
    ["idle resync: Kubernetes objects written", `${written}`, `of ${versionsAfter.size} PostgresDatabases and Secrets`],
  ];
}

/** Resident memory of the operator process with every database Ready. */
async function memory(bench: Bench): Promise<Row> {
  const [rss, heap] = await operatorMemory(bench);
  return [
    "operator memory (RSS)",
    mebibytes(rss),
    `compiled entrypoint as in the image; heap used ${mebibytes(heap)}, ${bench.names.length} databases`,
  ];
}

/**
 * Resident memory once the cluster also holds many large Secrets Kompost has nothing to do with:
 * the instance controllers watch Secrets cluster-wide, but only their metadata.
 */
async function memoryWithForeignSecrets(bench: Bench): Promise<Row> {
  const namespace = `${NAMESPACE}-foreign`;
  await bench.cp.createNamespace(namespace);
  const payload = randomBytes(FOREIGN_SECRET_BYTES).toString("base64");
  for (let i = 0; i < FOREIGN_SECRETS; i++) {
    await bench.client.create(secretKind, {
      metadata: { name: `release-${i}`, namespace },
      data: { release: payload },
    });
  }
  await delay(10_000);
  const [rss, heap] = await operatorMemory(bench);
  const total = mebibytes(FOREIGN_SECRETS * FOREIGN_SECRET_BYTES);
  return [
    "operator memory (RSS) with foreign Secrets",
    mebibytes(rss),
    `after ${FOREIGN_SECRETS} unrelated Secrets of ${FOREIGN_SECRET_BYTES / 1024} KiB (${total}) were created; heap used ${mebibytes(heap)}`,
  ];
}

/** The operator's resident memory and used heap, from its /metrics. */
async function operatorMemory(bench: Bench): Promise<[rss: number, heap: number]> {
  const metrics = await (await fetch(`${bench.operator.metricsUrl}/metrics`)).text();
  const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics)?.[1]);
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1]);
  return [rss, heap];
}

/** A database dropped behind Kompost's back: time until the resync puts it back. */
async function databaseDriftRepair(bench: Bench): Promise<Row> {
  const database = `${NAMESPACE}_db_0`;
  const admin = await bench.srv.connect();
  try {
    await admin.query(`DROP DATABASE "${database}" WITH (FORCE)`);
    const started = Date.now();
    for (;;) {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [database]);
      if (rowCount)
        return [
          "drift: dropped database re-created",
          seconds(Date.now() - started),
          `resync period ${RESYNC_SECONDS} s (found by resync, not by a watch)`,
        ];
      if (Date.now() - started > 5 * RESYNC_SECONDS * 1000) throw new Error(`database ${database} was not re-created`);
      await delay(POLL_MS);
    }
  } finally {
    await admin.end();
  }
}

/** A deleted connection Secret: time until it is back (watch-driven). */
async function secretRepair(bench: Bench): Promise<Row> {
  const secret = "psql-db-1-app";
  const started = Date.now();
  await kubectl(bench.cp, ["delete", "secret", secret, "-n", NAMESPACE]);
  for (;;) {
    const result = await bench.cp.kubectl(["get", "secret", secret, "-n", NAMESPACE, "-o", "name"]);
    if (result.code === 0)
      return [
        "drift: deleted Secret re-created",
        seconds(Date.now() - started),
        "new password, role updated (watch-driven)",
      ];
    if (Date.now() - started > 60_000) throw new Error(`Secret ${secret} was not re-created`);
    await delay(POLL_MS);
  }
}

/** Deleting every PostgresDatabase: time until all are gone (databases and roles dropped). */
async function deletion(bench: Bench): Promise<Row> {
  const started = Date.now();
  await kubectl(bench.cp, ["delete", "pgdb", "--all", "-n", NAMESPACE, "--wait=false"]);
  while ((await listDatabases(bench)).length > 0) {
    if (Date.now() - started > 300_000) throw new Error("PostgresDatabases were not deleted within 5 min");
    await delay(POLL_MS);
  }
  return [
    "delete: all PostgresDatabases gone",
    seconds(Date.now() - started),
    `${bench.names.length} databases and ${2 * bench.names.length} roles dropped`,
  ];
}

async function listDatabases(bench: Bench): Promise<PostgresDatabase[]> {
  return (await bench.client.list<PostgresDatabase>(PostgresDatabaseKind, { namespace: NAMESPACE })).items;
}

function isReady(db: PostgresDatabase): boolean {
  return isConditionTrue(db.status?.conditions, READY);
}

async function resourceVersions(bench: Bench): Promise<Map<string, string>> {
  const secrets = (await bench.client.list(secretKind, { namespace: NAMESPACE })).items;
  const objects = [...(await listDatabases(bench)), ...secrets];
  return new Map(objects.map((obj) => [`${obj.kind ?? ""}/${obj.metadata!.name!}`, obj.metadata!.resourceVersion!]));
}

async function report(rows: readonly Row[]): Promise<void> {
  const lines = [
    `Kompost benchmark, ${new Date().toISOString()}, Node ${process.version}, ${DATABASES} databases`,
    "",
    "| measure | value | note |",
    "| --- | --- | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
  const text = lines.join("\n") + "\n";
  process.stdout.write(`\n${text}`);
  const out = path.join(".kompost", "bench");
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, "results.md"), text);
}

try {
  await main();
} catch (err) {
  console.error("bench failed:", err);
  process.exitCode = 1;
} finally {
  await stopAll();
}
