import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import type { ManagedController } from "../../runtime/managed-controller.js";
import { KubeClient } from "../../runtime/kube-client.js";
import { parseConfig } from "../../cmd/config.js";
import { secretKind } from "../../runtime/resource-kind.js";
import { testLogger, uniqueName } from "../../runtime/testing/fixtures.js";
import { controlPlane, type ControlPlane } from "../../test/harness/control-plane.js";
import { postgres, type PostgresServer } from "../../test/harness/postgres.js";
import { eventually } from "../../test/support/eventually.js";
import { createControllers } from "../index.js";
import { DatabaseTestEnv, using } from "../../test/env/database-env.js";

/**
 * The product's controllers as the entrypoint builds them (createControllers): the instance
 * controllers publish the instance, the database controller provisions on it.
 */
describe("PostgresInstance and PostgresDatabase controllers together (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let cp: ControlPlane;
  let srv: PostgresServer;
  let client: KubeClient;
  let controllers: ManagedController[];
  const shutdownTasks: (() => Promise<void>)[] = [];
  let namespace: string;
  // Only for its helpers (apply, conditions, Secrets, connections): its own controller does not run.
  let helpers: DatabaseTestEnv;

  before(async () => {
    cp = await controlPlane();
    srv = await postgres();
    client = new KubeClient(cp.kubeConfig);
    namespace = uniqueName("e2e");
    await cp.createNamespace(namespace);
    helpers = await DatabaseTestEnv.start({ controller: false });
    const config = parseConfig(["--resync-period=2s", `--operator-namespace=${namespace}`], {
      env: {},
      serviceAccountNamespaceFile: "/nonexistent",
    });
    const onShutdown = (_name: string, run: () => Promise<void>): void => {
      shutdownTasks.push(run);
    };
    controllers = createControllers({ kubeConfig: cp.kubeConfig, client, config, logger: testLogger(), onShutdown });
    for (const controller of controllers) await controller.start();
  });

  after(async () => {
    if (!controllers) return;
    await helpers.deleteDatabases(namespace);
    for (const controller of controllers) await controller.stop(10_000);
    for (const run of shutdownTasks) await run();
  });

  it("provisions the README's example on an instance whose password is in a Secret, for an application to use", async () => {
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "app-database-password", namespace },
      stringData: { DB_PASS: srv.limitedAdmin.password },
    });
    await helpers.apply(
      [
        "apiVersion: kompost.chuge.li/v1alpha1",
        "kind: PostgresInstance",
        "metadata: {name: app-database, namespace: " + namespace + "}",
        "spec:",
        `  hostname: ${srv.tlsServerName}`,
        `  port: ${srv.port}`,
        `  username: ${srv.limitedAdmin.user}`,
        "  passwordSecretRef: {name: app-database-password, key: DB_PASS}",
        "  ssl:",
        "    enabled: true",
        "    verify: verify_peer",
        "    ca: |",
        ...srv.caPem
          .trim()
          .split("\n")
          .map((line) => `      ${line}`),
      ].join("\n"),
    );
    await helpers.database(namespace, "staging", { instance: "app-database", instanceNamespace: namespace });
    const db = await helpers.ready(namespace, "staging", 60_000);
    expect(db.status?.sql_db_name).to.equal(`${namespace.replace(/-/g, "_")}_staging`);
    const app = await helpers.secretData(namespace, "psql-staging-app");
    await using(helpers.connectWithUrl(app), async (c) => {
      await c.query("CREATE TABLE public.orders (id integer)");
    });
    const inspector = await helpers.secretData(namespace, "psql-staging-inspector");
    await using(helpers.connectWith(inspector), (c) => c.query("SELECT id FROM public.orders"));
  });

  it("drops the database before the instance goes when both are deleted at once", async () => {
    const app = await helpers.secretData(namespace, "psql-staging-app");
    await helpers.kubectl("delete", "pginst,pgdb", "--all", "-n", namespace, "--wait=false");
    await helpers.gone(namespace, "staging", 60_000);
    await eventually(async () => {
      const { code } = await cp.kubectl(["get", "pginst", "-n", namespace, "app-database"]);
      expect(code).to.not.equal(0);
    }, 60_000);
    const left = await helpers.asSuperuser((s) =>
      s.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", [app.DB_NAME]),
    );
    expect(left.rows).to.deep.equal([]);
  });
});
