/**
 * The operator's memory must not grow with the Secrets of the cluster: every informer of the
 * product's shared cache (the database controller's labelled Secrets, the instance controllers'
 * cluster-wide and operator-namespace Secret metadata) keeps only the Secrets Kompost owns or an
 * instance references. Counted in cached objects, not bytes, over every informer of the cache.
 */
import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import { clusterInstance, namespacedInstance } from "../../controllers/postgres-instance/instance-kinds.js";
import { passwordHoldFinalizer } from "../../controllers/postgres-instance/password-hold.js";
import type { PostgresInstance } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { DATABASE_LABEL, EXTRA_KEYS_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL } from "../../controllers/constants.js";
import { isNotFound } from "../../runtime/errors.js";
import { KubeClient } from "../../runtime/kube-client.js";
import { keyString, secretKind, type ObjectKey, type ResourceKind } from "../../runtime/resource-kind.js";
import { DatabaseTestEnv } from "../env/database-env.js";
import { startProductControllers, type ProductControllers } from "../env/product-controllers.js";
import { eventually } from "../support/eventually.js";

/** Kompost's own finalizer names a tenant can put on its Secrets: both kinds' password holds and any other. */
const KOMPOST_FINALIZERS = [
  passwordHoldFinalizer(namespacedInstance),
  passwordHoldFinalizer(clusterInstance("any", "none")),
  "kompost.chuge.li/anything",
];

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

/**
 * Secrets a tenant makes look held by Kompost: Kompost's finalizers (the instance kinds' password
 * holds among them) and 100 long finalizers of its own (8 kB), which a cache keeping the
 * finalizer list would hold for every such Secret.
 */
function finalized(namespace: string, batch: string, count: number): V1Secret[] {
  const padding = Array.from({ length: 100 }, (_, i) => `padding.example.com/${i}-${"x".repeat(58)}`);
  return Array.from({ length: count }, (_, i): V1Secret => {
    const finalizers = [KOMPOST_FINALIZERS[i % KOMPOST_FINALIZERS.length]!, ...padding];
    return { metadata: { namespace, name: `${batch}-finalized-${i}`, finalizers }, stringData: { DB_PASS: "x" } };
  });
}

describe("The operator's Secret cache (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let helpers: DatabaseTestEnv;
  let client: KubeClient;
  let product: ProductControllers | undefined;
  let tenant: string;
  let operatorNamespace: string;
  /** The Secrets with finalizers the test made; the after hook removes their finalizers so their namespaces can go. */
  const finalizedSecrets: V1Secret[] = [];

  const createAll = (secrets: readonly V1Secret[]) =>
    Promise.all(secrets.map((secret) => client.create<V1Secret>(secretKind, secret)));
  const createFinalized = async (batch: string) => {
    const secrets = [...finalized(tenant, batch, 6), ...finalized(operatorNamespace, batch, 6)];
    finalizedSecrets.push(...secrets);
    await createAll(secrets);
  };
  /** An instance of `kind` on the test server whose password is in `secret`. */
  const instanceSpec = (kind: string, namespace: string | undefined, name: string, secret: string) =>
    [
      "apiVersion: kompost.chuge.li/v1alpha1",
      `kind: ${kind}`,
      `metadata: {name: ${name}${namespace ? `, namespace: ${namespace}` : ""}}`,
      "spec:",
      `  hostname: ${helpers.srv.tlsServerName}`,
      `  port: ${helpers.srv.port}`,
      `  username: ${helpers.srv.superuser.user}`,
      `  passwordSecretRef: {name: ${secret}, key: DB_PASS}`,
      "  ssl: {enabled: true, verify: verify_peer, ca: " + JSON.stringify(helpers.srv.caPem) + "}",
    ].join("\n");

  before(async () => {
    helpers = await DatabaseTestEnv.start({ controller: false });
    client = new KubeClient(helpers.cp.kubeConfig);
    tenant = await helpers.namespace("secret-cache");
    operatorNamespace = await helpers.namespace("secret-cache-op");
    // Listed at the start: these reach the caches through the LIST, the later ones through the WATCH.
    const someone = { name: "app", uid: "00000000-0000-4000-8000-000000000001" };
    await createAll([...junk(tenant, "listed", 60, someone), ...junk(operatorNamespace, "listed", 20, someone)]);
    await createAll(forged(tenant, "listed", 5));
    await createFinalized("listed");
    product = await startProductControllers(helpers, client, operatorNamespace);
  });

  after(async () => {
    for (const { metadata } of finalizedSecrets) {
      const key = { namespace: metadata!.namespace!, name: metadata!.name! };
      await client.patch(secretKind, key, { metadata: { finalizers: null } }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    // The cluster instance may not exist when the test failed early: cp.kubectl does not throw.
    await helpers.cp.kubectl(["delete", "postgresclusterinstance", operatorNamespace, "--wait=false"]);
    await helpers.deleteDatabases(tenant);
    await eventually(async () => {
      const { items } = await client.list(PostgresClusterInstanceKind, {
        fieldSelector: `metadata.name=${operatorNamespace}`,
      });
      expect(items).to.deep.equal([]);
    }, 60_000);
    await product?.stop();
  });

  it("holds only the Secrets Kompost owns or an instance references, whatever others create or forge, listed or watched", async () => {
    await client.create<V1Secret>(secretKind, {
      metadata: { name: "pg-password", namespace: tenant },
      stringData: { DB_PASS: helpers.srv.superuser.password },
    });
    await helpers.apply(instanceSpec("PostgresInstance", tenant, "pg", "pg-password"));
    await helpers.database(tenant, "app", { instance: "pg" });
    const app = await helpers.ready(tenant, "app", 60_000);
    const owner = { name: "app", uid: app.metadata.uid! };
    await createAll([...junk(tenant, "watched", 60, owner), ...junk(operatorNamespace, "watched", 20, owner)]);
    await createAll(forged(tenant, "watched", 5));
    await createFinalized("watched");

    // Each informer's watch delivers in order: once what came after the junk is cached, the junk was seen.
    // The PostgresDatabase controller's informer shows "late"'s Secrets; each instance kind's shows
    // the Secret a new instance of that kind holds (the hold is a write after the junk).
    await helpers.database(tenant, "late", { instance: "pg" });
    const password = { stringData: { DB_PASS: helpers.srv.superuser.password } };
    await createAll([
      { metadata: { name: "late-password", namespace: tenant }, ...password },
      { metadata: { name: "cluster-password", namespace: operatorNamespace }, ...password },
    ]);
    await helpers.apply(instanceSpec("PostgresInstance", tenant, "late-pg", "late-password"));
    await helpers.apply(instanceSpec("PostgresClusterInstance", undefined, operatorNamespace, "cluster-password"));
    const owned = [
      `${tenant}/pg-password`,
      `${tenant}/late-password`,
      ...["app", "late"].flatMap((db) => [`${tenant}/psql-${db}-app`, `${tenant}/psql-${db}-inspector`]),
      `${operatorNamespace}/cluster-password`,
    ];
    await eventually(() => expect(product!.cache.cachedKeys(secretKind)).to.include.members(owned), 60_000);

    const cached = product!.cache
      .cachedKeys(secretKind)
      .filter((key) => key.startsWith(`${tenant}/`) || key.startsWith(`${operatorNamespace}/`));
    expect(cached.sort()).to.deep.equal([...owned].sort());

    // Each instance records the one Secret it holds (written after its release step), and the
    // tenant's Secrets keep every finalizer: Kompost releases only what an instance recorded.
    const recorded = async (kind: ResourceKind, key: ObjectKey) =>
      (await client.get<PostgresInstance>(kind, key)).status?.heldPasswordSecrets;
    await eventually(async () => {
      expect(await recorded(PostgresInstanceKind, { namespace: tenant, name: "late-pg" })).to.deep.equal([
        "late-password",
      ]);
      expect(await recorded(PostgresClusterInstanceKind, { name: operatorNamespace })).to.deep.equal([
        "cluster-password",
      ]);
    }, 60_000);
    for (const { metadata } of finalizedSecrets) {
      const key = { namespace: metadata!.namespace!, name: metadata!.name! };
      const stored = await client.get<V1Secret>(secretKind, key);
      expect(stored.metadata?.finalizers, keyString(key)).to.deep.equal(metadata!.finalizers);
    }
  });
});
