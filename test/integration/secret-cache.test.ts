/**
 * The operator's memory must not grow with the Secrets of the cluster: every informer of the
 * product's shared cache (the database controller's labelled Secrets, the instance controllers'
 * cluster-wide and operator-namespace Secret metadata) keeps only the Secrets Kompost owns or an
 * instance references. Counted in cached objects, not bytes, over every informer of the cache.
 */
import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import { parseConfig } from "../../cmd/config.js";
import { createControllers } from "../../controllers/index.js";
import { DATABASE_LABEL, EXTRA_KEYS_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL } from "../../controllers/constants.js";
import { InformerCache } from "../../runtime/informer-cache.js";
import { KubeClient } from "../../runtime/kube-client.js";
import type { ManagedController } from "../../runtime/managed-controller.js";
import { secretKind } from "../../runtime/resource-kind.js";
import { testLogger } from "../../runtime/testing/fixtures.js";
import { DatabaseTestEnv } from "../env/database-env.js";
import { eventually } from "../support/eventually.js";

/** A finalizer with Kompost's prefix: the instance controllers keep a Secret holding one (see passwordSecretsOnly). */
const MARKER_FINALIZER = "kompost.chuge.li/test-marker";

/** Secrets others create: plain, labelled like Kompost's, named like its connection Secrets, claiming a database. */
function junk(namespace: string, batch: string, count: number, database: { name: string; uid: string }): V1Secret[] {
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [DATABASE_LABEL]: database.name };
  const owner = { apiVersion: "kompost.chuge.li/v1alpha1", kind: "PostgresDatabase", ...database };
  return Array.from({ length: count }, (_, i): V1Secret => {
    const shape = i % 4;
    return {
      metadata: {
        namespace,
        name: shape === 2 ? `psql-${batch}-${i}-app` : `${batch}-${i}`,
        ...(shape !== 0 ? { labels } : {}),
        ...(shape === 3 ? { ownerReferences: [{ ...owner, controller: false }] } : {}),
      },
      stringData: { DB_PASS: `junk ${i}` },
    };
  });
}

/**
 * Secrets a tenant forges to look like connection Secrets in every way: Kompost's labels, a
 * controller ownerReference to a PostgresDatabase that does not exist (any name, any uid), the
 * name that resource's Secret would have, an extra-keys annotation naming a 100 kB key, and a
 * 100 kB annotation of its own.
 */
function forged(namespace: string, batch: string, count: number): V1Secret[] {
  const big = "x".repeat(100_000);
  return Array.from({ length: count }, (_, i): V1Secret => {
    const database = `${batch}-forged-${i}`;
    return {
      metadata: {
        namespace,
        name: `psql-${database}-${i % 2 === 0 ? "app" : "inspector"}`,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [DATABASE_LABEL]: database },
        annotations: { [EXTRA_KEYS_ANNOTATION]: "BIG", "tenant.example/padding": big },
        ownerReferences: [
          {
            apiVersion: "kompost.chuge.li/v1alpha1",
            kind: "PostgresDatabase",
            name: database,
            uid: `00000000-0000-4000-8000-00000000010${i}`,
            controller: true,
          },
        ],
      },
      stringData: { DB_PASS: "forged", BIG: big },
    };
  });
}

describe("The operator's Secret cache (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let helpers: DatabaseTestEnv;
  let client: KubeClient;
  let cache: InformerCache;
  let controllers: readonly ManagedController[] = [];
  const shutdownTasks: (() => Promise<void>)[] = [];
  let tenant: string;
  let operatorNamespace: string;

  const createAll = (secrets: readonly V1Secret[]) =>
    Promise.all(secrets.map((secret) => client.create<V1Secret>(secretKind, secret)));

  before(async () => {
    helpers = await DatabaseTestEnv.start({ controller: false });
    client = new KubeClient(helpers.cp.kubeConfig);
    tenant = await helpers.namespace("secret-cache");
    operatorNamespace = await helpers.namespace("secret-cache-op");
    // Listed at the start: these reach the caches through the LIST, the later ones through the WATCH.
    const someone = { name: "app", uid: "00000000-0000-4000-8000-000000000001" };
    await createAll([...junk(tenant, "listed", 60, someone), ...junk(operatorNamespace, "listed", 20, someone)]);
    await createAll(forged(tenant, "listed", 5));
    const config = parseConfig(["--resync-period=60s", `--operator-namespace=${operatorNamespace}`], {
      env: {},
      serviceAccountNamespaceFile: "/nonexistent",
    });
    cache = new InformerCache(client, { logger: testLogger() });
    const onShutdown = (_name: string, run: () => Promise<void>): void => {
      shutdownTasks.push(run);
    };
    controllers = createControllers({
      kubeConfig: helpers.cp.kubeConfig,
      client,
      config,
      logger: testLogger(),
      onShutdown,
      cache,
    });
    for (const controller of controllers) await controller.start();
  });

  after(async () => {
    // The marker may not exist when the test failed early: cp.kubectl does not throw.
    const unblock = ["patch", "secret", "-n", operatorNamespace, "marker", "--type=merge"];
    await helpers.cp.kubectl([...unblock, "-p", '{"metadata":{"finalizers":null}}']);
    await helpers.deleteDatabases(tenant);
    for (const controller of controllers) await controller.stop(10_000);
    await cache.stop();
    for (const run of shutdownTasks) await run();
  });

  it("holds only the Secrets Kompost owns or an instance references, whatever others create or forge, listed or watched", async () => {
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "pg-password", namespace: tenant },
      stringData: { DB_PASS: helpers.srv.superuser.password },
    });
    await helpers.apply(
      [
        "apiVersion: kompost.chuge.li/v1alpha1",
        "kind: PostgresInstance",
        `metadata: {name: pg, namespace: ${tenant}}`,
        "spec:",
        `  hostname: ${helpers.srv.tlsServerName}`,
        `  port: ${helpers.srv.port}`,
        `  username: ${helpers.srv.superuser.user}`,
        "  passwordSecretRef: {name: pg-password, key: DB_PASS}",
        "  ssl: {enabled: true, verify: verify_peer, ca: " + JSON.stringify(helpers.srv.caPem) + "}",
      ].join("\n"),
    );
    await helpers.database(tenant, "app", { instance: "pg" });
    const app = await helpers.ready(tenant, "app", 60_000);
    const owner = { name: "app", uid: app.metadata.uid! };
    await createAll([...junk(tenant, "watched", 60, owner), ...junk(operatorNamespace, "watched", 20, owner)]);
    await createAll(forged(tenant, "watched", 5));

    // Each informer's watch delivers in order: once what came after the junk is cached, the junk was seen.
    await helpers.database(tenant, "late", { instance: "pg" });
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "marker", namespace: operatorNamespace, finalizers: [MARKER_FINALIZER] },
    });
    const owned = [
      `${tenant}/pg-password`,
      ...["app", "late"].flatMap((db) => [`${tenant}/psql-${db}-app`, `${tenant}/psql-${db}-inspector`]),
      `${operatorNamespace}/marker`,
    ];
    await eventually(() => expect(cache.cachedKeys(secretKind)).to.include.members(owned), 60_000);

    const cached = cache
      .cachedKeys(secretKind)
      .filter((key) => key.startsWith(`${tenant}/`) || key.startsWith(`${operatorNamespace}/`));
    expect(cached.sort()).to.deep.equal([...owned].sort());
  });
});
