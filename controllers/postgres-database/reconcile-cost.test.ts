/**
 * What one database costs the API server (issue 12): reconciles, requests and Events when
 * nothing fails, that drift still reconciles, and that a restart does not flap Ready; and what
 * an idle resync costs PostgreSQL (statements, connections). Counts, never times.
 */
import { expect } from "chai";
import type { CoreV1Event, V1Secret } from "@kubernetes/client-node";
import pg from "pg";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { PostgresDatabaseKind } from "../../api/v1alpha1/index.js";
import type { ReconcileResult } from "../../runtime/errors.js";
import { KubeClient } from "../../runtime/kube-client.js";
import { metricsRegistry } from "../../runtime/metrics.js";
import type { ReconcileContext } from "../../runtime/operator.js";
import { ExponentialBackoffLimiter } from "../../runtime/rate-limiter.js";
import { eventKind, keyString, parseKey, secretKind } from "../../runtime/resource-kind.js";
import { CountingClient } from "../../runtime/testing/counting-client.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { testLogger } from "../../runtime/testing/fixtures.js";
import { eventually } from "../../test/support/eventually.js";
import { PostgresDatabaseController } from "./database-controller.js";
import { ADMIN_KINDS, DatabaseTestEnv } from "../../test/env/database-env.js";

/** The controller, counting its reconciles per key and showing what its caches hold. */
class ObservedController extends PostgresDatabaseController {
  readonly reconciles = new Map<string, number>();
  inFlight = 0;

  protected override async reconcile(obj: PostgresDatabase, ctx: ReconcileContext): Promise<ReconcileResult> {
    const key = keyString(ctx.key);
    this.reconciles.set(key, (this.reconciles.get(key) ?? 0) + 1);
    this.inFlight++;
    try {
      return await super.reconcile(obj, ctx);
    } finally {
      this.inFlight--;
    }
  }

  /** The resourceVersion of the cached PostgresDatabase. */
  cachedVersion(namespace: string, name: string): string | undefined {
    return this.cache.get({ namespace, name })?.metadata.resourceVersion;
  }

  /** The resourceVersion of the cached Secret. */
  cachedSecretVersion(namespace: string, name: string): string | undefined {
    // The controller's own source: its retainer is the Secret informer's identity.
    const secrets = this.cacheOf<V1Secret>(this.owns[0]!);
    return secrets.get({ namespace, name })?.metadata?.resourceVersion;
  }

  /** Waits until every queued Event is written. */
  flushEvents(): Promise<void> {
    return this.recorder.flush();
  }

  /** Queues the key as the resync does. */
  resync(key: string): void {
    this.enqueue(parseKey(key));
  }
}

function startController(
  env: DatabaseTestEnv,
  client: CountingClient,
  databaseVerifyPeriodMs?: number,
): Promise<ObservedController> {
  const controller = new ObservedController(
    {
      client,
      logger: testLogger(),
      resyncPeriodMs: 0,
      maxConcurrentReconciles: 2,
      rateLimiter: new ExponentialBackoffLimiter(50, 2000),
      watchBackoffMaxMs: 1000,
    },
    {
      registry: env.registry,
      directory: env.directory,
      clusterInstanceDefault: "all",
      waitRequeueMs: 300,
      ...(databaseVerifyPeriodMs !== undefined ? { databaseVerifyPeriodMs } : {}),
    },
  );
  return controller.start().then(() => controller);
}

async function queueDepth(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("workqueue_depth")!.get();
  return metric.values.find((v) => v.labels.name === "postgresdatabase")?.value ?? 0;
}

describe("PostgresDatabase reconcile cost (issue 12)", function () {
  this.timeout(120_000);
  let env: DatabaseTestEnv;
  let observer: KubeClient;

  before(async () => {
    env = await DatabaseTestEnv.start({ controller: false });
    observer = new KubeClient(env.cp.kubeConfig);
  });

  after(async () => {
    observer.close();
    await env.registry.closeAll();
  });

  /** Waits until the controller has seen the latest versions of the database and both Secrets, and has nothing queued or running. */
  async function settled(controller: ObservedController, namespace: string, name: string): Promise<void> {
    await eventually(async () => {
      const db = await observer.get<PostgresDatabase>(PostgresDatabaseKind, { namespace, name });
      expect(controller.cachedVersion(namespace, name)).to.equal(db.metadata.resourceVersion);
      for (const secret of [`psql-${name}-app`, `psql-${name}-inspector`]) {
        const stored = await observer.get<V1Secret>(secretKind, { namespace, name: secret });
        expect(controller.cachedSecretVersion(namespace, secret)).to.equal(stored.metadata?.resourceVersion);
      }
      expect(controller.inFlight).to.equal(0);
      expect(await queueDepth()).to.equal(0);
    });
  }

  async function eventsAbout(namespace: string, name: string): Promise<CoreV1Event[]> {
    const { items } = await observer.list<CoreV1Event>(eventKind, {
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return items;
  }

  for (const kind of ADMIN_KINDS) {
    it(`provisions a database (${kind}) in one reconcile, at most 6 API requests and one Event; a restart keeps it Ready without a write`, async () => {
      const namespace = await env.namespace("cost");
      await env.instance(namespace, "pg", kind);
      const client = new CountingClient(env.cp.kubeConfig);
      const first = await startController(env, client);
      const key = `${namespace}/app`;
      try {
        const before = client.requests.length;
        const logBefore = await env.srv.readLog();
        await env.database(namespace, "app", { instance: "pg" });
        await env.ready(namespace, "app");
        await settled(first, namespace, "app");
        await first.flushEvents();
        const requests = client.requests.slice(before);
        const events = await eventsAbout(namespace, "app");
        const sent = statementsOf((await env.srv.readLog()).slice(logBefore.length), env.srv[kind].user);

        expect(first.reconciles.get(key), "reconciles of one new database").to.equal(1);
        expect(requests.length, requests.join("\n")).to.be.at.most(6);
        expect(events.map((e) => e.reason)).to.deep.equal(["Provisioned"]);
        // A database it has just created holds none of the grant set: granted whole, without a look first.
        const grantChecks = sent.filter((s) => /has_(database|schema)_privilege|pg_default_acl/.test(s.line));
        expect(grantChecks.map((s) => s.line)).to.deep.equal([]);
        // Each role is looked up once before its Secret is written and once before the grants, never twice in a row.
        const roleLookups = sent.filter((s) => s.line.includes("r.rolcanlogin AS login"));
        expect(roleLookups, roleLookups.map((s) => s.line).join("\n")).to.have.length(4);

        // Drift still reconciles: a label on the resource, and a Secret someone edited.
        await env.kubectl("label", "pgdb", "app", "-n", namespace, "team=payments");
        await eventually(() => expect(first.reconciles.get(key)).to.equal(2));
        await settled(first, namespace, "app");
        const app = `psql-app-app`;
        await observer.patch<V1Secret>(
          secretKind,
          { namespace, name: app },
          { data: { DB_HOST: Buffer.from("elsewhere").toString("base64") } },
        );
        await eventually(async () => expect((await env.secretData(namespace, app)).DB_HOST).to.not.equal("elsewhere"));
        await settled(first, namespace, "app");
        // The edit reconciles; Kompost's own repair of it does not reconcile again.
        expect(first.reconciles.get(key)).to.equal(3);
      } finally {
        await first.stop(10_000);
      }

      // Restart: the new process has not checked the instance yet.
      const restartEnv = await DatabaseTestEnv.start({ controller: false });
      const afterRestart = new CountingClient(env.cp.kubeConfig);
      const warningsBefore = (await eventsAbout(namespace, "app")).filter((e) => e.type === "Warning").length;
      const second = await startController(restartEnv, afterRestart);
      try {
        await eventually(() => expect(second.reconciles.get(key)).to.be.at.least(2), 10_000);
        restartEnv.publish({ kind: "PostgresInstance", namespace, name: "pg" }, kind);
        const waited = second.reconciles.get(key)!;
        await eventually(() => expect(second.reconciles.get(key)).to.be.greaterThan(waited));
        await settled(second, namespace, "app");
        await second.flushEvents();
        expect(afterRestart.patchesBySubresource.get("status") ?? 0, "status writes after the restart").to.equal(0);
        const warnings = (await eventsAbout(namespace, "app")).filter((e) => e.type === "Warning");
        expect(warnings.map((e) => e.reason)).to.have.length(warningsBefore);
        expect((await env.get(namespace, "app"))?.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal(
          "True",
        );
      } finally {
        await env.kubectl("delete", "pgdb", "app", "-n", namespace, "--wait=false");
        await eventually(async () => expect(await env.get(namespace, "app")).to.equal(undefined), 60_000);
        await second.stop(10_000);
        await restartEnv.registry.closeAll();
      }
    });
  }

  /** Statements the server logged for `user` in `log` (log_statement=all; prefix "%m [%p] %u@%d "), with the session's pid. */
  function statementsOf(log: string, user: string): { pid: string; line: string }[] {
    const statement = new RegExp(`^\\S+ \\S+ \\S+ \\[(\\d+)\\] ${user}@\\S* LOG:  (statement|execute [^:]*):`);
    return log.split("\n").flatMap((line) => {
      const match = statement.exec(line);
      return match ? [{ pid: match[1]!, line }] : [];
    });
  }

  /** Counts the connections this process opens (every client, pooled or not, is a pg.Client) until `stop`. */
  function countConnects(): { readonly count: () => number; readonly stop: () => void } {
    const prototype = pg.Client.prototype as unknown as { connect: (...args: unknown[]) => unknown };
    const original = prototype.connect;
    let count = 0;
    prototype.connect = function (this: pg.Client, ...args: unknown[]) {
      count++;
      return original.apply(this, args);
    };
    return { count: () => count, stop: () => void (prototype.connect = original) };
  }

  for (const kind of ADMIN_KINDS) {
    it(`resyncs a Ready database (${kind}) with at most 4 statements on a pooled session and no new connection; drift in the shared catalog is still repaired at once`, async () => {
      const namespace = await env.namespace("idle");
      await env.instance(namespace, "pg", kind);
      const controller = await startController(env, new CountingClient(env.cp.kubeConfig), 3_600_000);
      const admin = await env.srv.connect();
      const key = `${namespace}/app`;
      const user = env.srv[kind].user;
      try {
        await env.database(namespace, "app", { instance: "pg" });
        await env.ready(namespace, "app");
        await settled(controller, namespace, "app");
        const status = (await env.get(namespace, "app"))!.status!;
        const database = status.sql_db_name!;
        const inspector = status.users!.find((u) => u.secret === "psql-app-inspector")!.username;

        /**
         * Resyncs the key once; returns the admin's statements meanwhile, those from sessions that
         * are new, and how many connections the process opened (pooled, tenant-database clients,
         * a limited admin's login probe).
         */
        const resyncOnce = async () => {
          const before = await env.srv.readLog();
          const count = controller.reconciles.get(key)!;
          const connects = countConnects();
          try {
            controller.resync(key);
            await eventually(() => expect(controller.reconciles.get(key)).to.equal(count + 1));
            await settled(controller, namespace, "app");
          } finally {
            connects.stop();
          }
          const oldPids = new Set(statementsOf(before, user).map((s) => s.pid));
          const sent = statementsOf((await env.srv.readLog()).slice(before.length), user);
          return { sent, fromNewSessions: sent.filter((s) => !oldPids.has(s.pid)), connects: connects.count() };
        };

        const quiet = await resyncOnce();
        expect(quiet.sent.length, quiet.sent.map((s) => s.line).join("\n")).to.be.within(1, 4);
        expect(quiet.fromNewSessions.map((s) => s.line)).to.deep.equal([]);
        expect(quiet.connects, "connections opened by the resync").to.equal(0);

        // Drift the combined read sees (a privilege on the database) is repaired at once, in a
        // client of the tenant database: a new session, which the check above would have counted.
        await admin.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM ${quoteIdent(inspector)}`);
        const repair = await resyncOnce();
        expect(repair.fromNewSessions.length).to.be.greaterThan(0);
        expect(repair.connects).to.be.greaterThan(0);
        const { rows } = await admin.query<{ held: boolean }>(
          "SELECT pg_catalog.has_database_privilege($1, $2, 'CONNECT') AS held",
          [inspector, database],
        );
        expect(rows[0]?.held).to.equal(true);

        // An edited DB_PASS becomes the role's password at once, between verify checks too
        // (with a limited admin that takes a login probe, which is otherwise on the verify cadence).
        const appUser = status.users!.find((u) => u.secret === "psql-app-app")!.username;
        const edited = `Edited${Date.now()}`;
        await observer.patch<V1Secret>(
          secretKind,
          { namespace, name: "psql-app-app" },
          { data: { DB_PASS: Buffer.from(edited).toString("base64") } },
        );
        await eventually(async () => {
          const client = await env.srv.connect({ user: appUser, password: edited, database });
          await client.end();
        });
      } finally {
        await admin.end();
        await env.kubectl("delete", "pgdb", "app", "-n", namespace, "--wait=false");
        await eventually(async () => expect(await env.get(namespace, "app")).to.equal(undefined), 60_000);
        await controller.stop(10_000);
      }
    });
  }
});
