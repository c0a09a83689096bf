import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { controlPlane, type ControlPlane } from "../harness/control-plane.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { findPgBinaries } from "../harness/postgres/binaries.js";
import { eventually } from "../support/eventually.js";
import { renderFixture, serverValues } from "./fixtures.js";
import { getJson, kubectl, waitFor } from "./kubectl.js";
import {
  dumpOnFailure,
  forbiddenLines,
  installOperator,
  leaseHolder,
  type OperatorDeployment,
  OperatorProcess,
} from "./operator-process.js";

const run = promisify(execFile);
const NAMESPACE = "e2e-lifecycle";
/** Uses the PostgresInstance of NAMESPACE once its allowed-namespaces annotation lets it. */
const OTHER_NAMESPACE = "e2e-lifecycle-other";
const INSTANCE = "e2e-instance";
const CLUSTER_INSTANCE = "e2e-lifecycle-shared";
const SECRET_KEYS = [
  ..."DB_HOST DB_PORT DB_NAME DB_USER DB_PASS DB_SSL DB_SSL_VERIFY DB_SSL_CA DATABASE_URL".split(" "),
  ..."PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE JDBC_URL".split(" "),
];

/** A Secret's data, decoded. */
function decoded(secret: V1Secret): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]),
  );
}

/** One sample of the Prometheus text format. */
interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the samples of a /metrics answer (label values without escaped quotes suffice here). */
function metricSamples(text: string): MetricSample[] {
  return text.split("\n").flatMap((line) => {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    return [{ name: match[1]!, labels, value: Number(match[3]) }];
  });
}

/**
 * The operator as users run it: its own process with the Deployment's flags, authenticated as the
 * ServiceAccount of config/rbac (so a missing RBAC rule fails here), driven through kubectl only.
 */
describe("the operator running as its ServiceAccount (end to end)", function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let srv: PostgresServer;
  let deployment: OperatorDeployment;
  /** Files a client of the databases would write, such as the CA from a connection Secret. */
  let scratch: string;
  /** Every replica of the current describe block, for the failure dump. */
  const operators: OperatorProcess[] = [];

  const startOperator = async (name: string): Promise<OperatorProcess> => {
    const operator = await OperatorProcess.start(deployment, { name });
    operators.push(operator);
    return operator;
  };

  /** Applies a rendered fixture as the admin (a user), client-side like `kubectl apply -f`. */
  const apply = async (manifest: string): Promise<void> => {
    await kubectl(cp, ["apply", "-f", "-"], { input: manifest });
  };

  /** Runs psql as a user would, with the CA of the test server for sslmode verify-full. */
  const psql = async (connection: string[], env: Record<string, string> = {}): Promise<string> => {
    const { psql: psqlBinary } = await findPgBinaries();
    const { stdout } = await run(
      psqlBinary,
      [...connection, "-XAtc", "SELECT current_user || ' ' || current_database()"],
      { env: { PATH: process.env.PATH, PGSSLROOTCERT: srv.caPath, PGCONNECT_TIMEOUT: "10", ...env } },
    );
    return stdout.trim();
  };

  before(async function () {
    this.timeout(600_000);
    [cp, srv] = await Promise.all([controlPlane(), postgres()]);
    deployment = await installOperator(cp);
    scratch = await mkdtemp(path.join(os.tmpdir(), "kompost-e2e-"));
  });

  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  afterEach(async function () {
    await dumpOnFailure(this.currentTest, cp, operators);
  });

  describe("one replica", () => {
    after(async () => {
      for (const operator of operators.splice(0)) await operator.kill();
    });

    it("starts with the Deployment's flags, takes the Lease, serves /readyz and /metrics, and exits 0 on SIGTERM releasing the Lease", async () => {
      const operator = await startOperator("replica-1");
      await operator.waitReady();
      const identity = await operator.identity();
      await eventually(async () => expect(await leaseHolder(cp, deployment)).to.equal(identity), 60_000);

      const metrics = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
      expect(metrics).to.match(/^leader_election_master_status\{.*\} 1$/m);
      expect(metrics).to.include("controller_runtime_reconcile_total");

      expect(await operator.stop()).to.equal(0);
      expect(await leaseHolder(cp, deployment)).to.equal("");
      expect(forbiddenLines(operator)).to.deep.equal([]);
    });
  });

  describe("the lifecycle of instances and databases, through kubectl", () => {
    let operator: OperatorProcess;
    const databases = [
      { name: "orders", namespace: NAMESPACE, fixture: "database-on-instance.yaml" },
      { name: "reports", namespace: NAMESPACE, fixture: "database-on-cluster-instance.yaml" },
      { name: "billing", namespace: OTHER_NAMESPACE, fixture: "database-on-other-namespace.yaml" },
    ].map((db) => ({ ...db, sqlName: `${db.namespace}_${db.name}`.replace(/-/g, "_") }));

    before(async function () {
      this.timeout(120_000);
      await cp.createNamespace(NAMESPACE);
      await cp.createNamespace(OTHER_NAMESPACE);
      operator = await startOperator("replica-1");
      await operator.waitReady();
    });

    after(async () => {
      for (const replica of operators.splice(0)) await replica.kill();
    });

    it("makes a PostgresInstance whose password is in a Secret of its namespace Ready", async () => {
      await apply(
        await renderFixture("instance.yaml", {
          ...serverValues(srv, srv.limitedAdmin),
          name: INSTANCE,
          namespace: NAMESPACE,
          secretName: `${INSTANCE}-password`,
        }),
      );
      await waitFor(cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace: NAMESPACE });
      const conditions = await kubectl(cp, [
        "get",
        "pginst",
        INSTANCE,
        "-n",
        NAMESPACE,
        "-o",
        'jsonpath={range .status.conditions[*]}{.type}={.status}{"\\n"}{end}',
      ]);
      expect(conditions.trim().split("\n")).to.include.members([
        "Credentials=True",
        "Connected=True",
        "Privileged=True",
        "Ready=True",
      ]);
    });

    it("makes a PostgresClusterInstance whose password Secret is in the operator's namespace Ready", async () => {
      await apply(
        await renderFixture("cluster-instance.yaml", {
          ...serverValues(srv, srv.superuser),
          name: CLUSTER_INSTANCE,
          operatorNamespace: deployment.namespace,
          secretName: `${CLUSTER_INSTANCE}-password`,
        }),
      );
      await waitFor(cp, `pgcinst/${CLUSTER_INSTANCE}`, "condition=Ready");
    });

    it("keeps a database in another namespace off the instance until its allowed-namespaces annotation lets it in", async () => {
      for (const db of databases) {
        await apply(
          await renderFixture(db.fixture, {
            name: db.name,
            namespace: db.namespace,
            instance: INSTANCE,
            instanceNamespace: NAMESPACE,
            clusterInstance: CLUSTER_INSTANCE,
          }),
        );
      }
      const other = databases.find((db) => db.namespace === OTHER_NAMESPACE)!;
      await waitFor(cp, `pgdb/${other.name}`, "condition=Connection=False", { namespace: other.namespace });
      const reason = await kubectl(cp, [
        "get",
        "pgdb",
        other.name,
        "-n",
        other.namespace,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Connection")].reason}',
      ]);
      expect(reason).to.equal("InstanceNotAllowed");

      await kubectl(cp, [
        "annotate",
        "pginst",
        INSTANCE,
        "-n",
        NAMESPACE,
        `kompost.chuge.li/allowed-namespaces=${OTHER_NAMESPACE}`,
      ]);
      await waitFor(cp, `pgdb/${other.name}`, "condition=Ready", { namespace: other.namespace, timeoutSeconds: 90 });
    });

    it("makes a PostgresDatabase on each instance Ready, with its database name and users in status", async () => {
      for (const db of databases) {
        await waitFor(cp, `pgdb/${db.name}`, "condition=Ready", { namespace: db.namespace, timeoutSeconds: 90 });
        const resource = await getJson<PostgresDatabase>(cp, ["pgdb", db.name, "-n", db.namespace]);
        expect(resource.status?.observedGeneration).to.equal(resource.metadata?.generation);
        expect(resource.status?.sql_db_name).to.equal(db.sqlName);
        expect(resource.status?.users?.map(({ username, secret }) => ({ username, secret }))).to.deep.equal([
          { username: `${db.sqlName}_app`, secret: `psql-${db.name}-app` },
          { username: `${db.sqlName}_inspector`, secret: `psql-${db.name}-inspector` },
        ]);
      }
    });

    it("writes both Secrets of each database with every key, and psql connects with them", async () => {
      for (const db of databases) {
        for (const role of ["app", "inspector"]) {
          const secret = await getJson<V1Secret>(cp, ["secret", `psql-${db.name}-${role}`, "-n", db.namespace]);
          const data = decoded(secret);
          expect(Object.keys(data)).to.have.members(SECRET_KEYS);
          expect(data).to.deep.include({
            DB_HOST: "localhost",
            DB_PORT: String(srv.port),
            DB_NAME: db.sqlName,
            DB_USER: `${db.sqlName}_${role}`,
            DB_SSL: "true",
            DB_SSL_VERIFY: "true",
            DB_SSL_CA: srv.caPem,
          });
          // As an application would: trusting the CA from the Secret, not the test's own copy.
          const caFile = path.join(scratch, `${db.namespace}-${db.name}-${role}-ca.pem`);
          await writeFile(caFile, data.DB_SSL_CA!);
          const expected = `${db.sqlName}_${role} ${db.sqlName}`;
          expect(await psql([data.DATABASE_URL!], { PGSSLROOTCERT: caFile })).to.equal(expected);
          // libpq's environment straight from the Secret's PG* keys, as envFrom would set it.
          const fromKeys: Record<string, string> = {
            ...Object.fromEntries(Object.entries(data).filter(([key]) => key.startsWith("PG"))),
            PGSSLROOTCERT: caFile,
          };
          expect(fromKeys.PGSSLMODE).to.equal("verify-full");
          expect(await psql([], fromKeys)).to.equal(expected);
        }
      }
    });

    it("reports its reconciles and each instance's connection state on /metrics", async () => {
      const samples = metricSamples(await (await fetch(`${operator.metricsUrl}/metrics`)).text());
      const value = (name: string, labels: Record<string, string>) =>
        samples.find(
          (sample) => sample.name === name && Object.entries(labels).every(([key, val]) => sample.labels[key] === val),
        )?.value;
      for (const controller of ["postgresinstance", "postgresclusterinstance", "postgresdatabase"]) {
        expect(value("controller_runtime_reconcile_total", { controller, result: "success" }), controller).to.be.above(
          0,
        );
      }
      const instance = { kind: "PostgresInstance", namespace: NAMESPACE, name: INSTANCE };
      expect(value("kompost_postgres_instance_connected", instance)).to.equal(1);
      const clusterInstance = { kind: "PostgresClusterInstance", name: CLUSTER_INSTANCE };
      expect(value("kompost_postgres_instance_connected", clusterInstance)).to.equal(1);
    });

    it("shows the conditions and the Events of a PostgresDatabase in kubectl describe", async () => {
      const described = await kubectl(cp, ["describe", "pgdb", databases[0]!.name, "-n", NAMESPACE]);
      for (const type of ["Connection", "Database", "AppUser", "InspectorUser", "Ready"]) {
        expect(described).to.match(new RegExp(`Type:\\s+${type}\\b`));
      }
      const events = described.slice(described.indexOf("\nEvents:"));
      // Created and Ready in one reconcile: one Provisioned Event; else DatabaseCreated, then Ready.
      if (!/Normal\s+Provisioned\b/.test(events)) {
        expect(events).to.match(/Normal\s+DatabaseCreated\b/);
        expect(events).to.match(/Normal\s+Ready\b/);
      }
    });

    it("drops the database and both roles when a PostgresDatabase is deleted, and its Secrets are garbage-collected", async () => {
      for (const db of databases) {
        await kubectl(cp, ["delete", "pgdb", db.name, "-n", db.namespace, "--timeout=90s"]);
        const client = await srv.connect();
        try {
          const left = await client.query<{ name: string }>(
            "SELECT datname AS name FROM pg_catalog.pg_database WHERE datname = $1 " +
              "UNION ALL SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ($2, $3)",
            [db.sqlName, `${db.sqlName}_app`, `${db.sqlName}_inspector`],
          );
          expect(left.rows, db.name).to.deep.equal([]);
        } finally {
          await client.end();
        }
        await eventually(async () => {
          const secrets = await kubectl(cp, ["get", "secrets", "-n", db.namespace, "-o", "name"]);
          expect(secrets).not.to.include(`psql-${db.name}-`);
          // kube-controller-manager's garbage collector learns of a CRD installed after it started within 30 s.
        }, 90_000);
      }
    });

    it("deletes the instances once no database uses them", async () => {
      await kubectl(cp, ["delete", "pginst", INSTANCE, "-n", NAMESPACE, "--timeout=60s"]);
      await kubectl(cp, ["delete", "pgcinst", CLUSTER_INSTANCE, "--timeout=60s"]);
      expect(await kubectl(cp, ["get", "pginst,pgdb", "-n", NAMESPACE, "-o", "name"])).to.equal("");
    });

    it('was never refused by RBAC: no "forbidden ... cannot <verb> resource" in its logs', () => {
      expect(operator.logs).to.include("Acquired lease");
      expect(forbiddenLines(operator)).to.deep.equal([]);
    });

    it("exits 0 on SIGTERM after all this", async () => {
      expect(await operator.stop()).to.equal(0);
    });
  });

  describe("two replicas with leader election", () => {
    const namespace = "e2e-leader-election";
    let leader: OperatorProcess;
    let standby: OperatorProcess;

    /** The replica whose identity is in the Lease, once one is. */
    const holderOf = async (replicas: readonly OperatorProcess[]): Promise<OperatorProcess> => {
      const identities = await Promise.all(replicas.map((replica) => replica.identity()));
      return eventually(async () => {
        const holder = await leaseHolder(cp, deployment);
        const index = identities.indexOf(holder);
        if (index < 0) throw new Error(`the Lease is held by "${holder}", none of ${identities.join(", ")}`);
        return replicas[index]!;
      }, 60_000);
    };

    const leaderMetric = async (replica: OperatorProcess): Promise<string | undefined> => {
      const metrics = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
      return /^leader_election_master_status\{.*\} (\d)$/m.exec(metrics)?.[1];
    };

    before(async function () {
      this.timeout(120_000);
      await cp.createNamespace(namespace);
    });

    after(async () => {
      for (const replica of operators.splice(0)) await replica.kill();
    });

    it("lets exactly one of two replicas hold the Lease and reconcile", async () => {
      const replicas = [await startOperator("replica-a"), await startOperator("replica-b")];
      await Promise.all(replicas.map((replica) => replica.waitReady()));
      leader = await holderOf(replicas);
      standby = replicas.find((replica) => replica !== leader)!;

      await eventually(async () => expect(await leaderMetric(leader)).to.equal("1"), 30_000);
      expect(await leaderMetric(standby)).to.equal("0");
      expect(standby.logs).not.to.include("Acquired lease");
      expect(standby.logs).not.to.include("Starting controllers");
      expect(leader.logs).to.include("Starting controllers");
    });

    it("hands the Lease to the standby when the leader is killed, and the new leader keeps reconciling", async () => {
      await leader.kill();
      expect(await holderOf([standby])).to.equal(standby);

      await apply(
        await renderFixture("instance.yaml", {
          ...serverValues(srv, srv.limitedAdmin),
          name: INSTANCE,
          namespace,
          secretName: `${INSTANCE}-password`,
        }),
      );
      await waitFor(cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace });
      await apply(
        await renderFixture("database-on-instance.yaml", { name: "after-failover", namespace, instance: INSTANCE }),
      );
      await waitFor(cp, "pgdb/after-failover", "condition=Ready", { namespace, timeoutSeconds: 90 });
      await kubectl(cp, ["delete", "pgdb", "after-failover", "-n", namespace, "--timeout=60s"]);
      // The instance stays: its connection pool is still open when the next test stops the operator.
    });

    it("releases the Lease, closes its PostgreSQL connections and exits 0 on SIGTERM, without an RBAC refusal in either replica's logs", async () => {
      expect(await standby.stop()).to.equal(0);
      expect(await leaseHolder(cp, deployment)).to.equal("");
      const closed = standby.logLines().find((line) => line.message === "Closed PostgreSQL connection pools");
      // At least the pool of this block's instance; other tests' instances share the control plane.
      expect(closed?.pools, "the instance's pool, still open at SIGTERM").to.be.at.least(1);
      expect(forbiddenLines(leader)).to.deep.equal([]);
      expect(forbiddenLines(standby)).to.deep.equal([]);
    });
  });
});
