/**
 * The operator's memory must not grow with what tenants put on the objects it reconciles: its
 * caches of PostgresDatabase, PostgresInstance and PostgresClusterInstance (every informer of
 * the product's shared cache) keep what a reconcile reads, not a tenant's annotations (kubectl's
 * last-applied-configuration among them), labels, managedFields or spec items no valid spec has.
 * Measured in bytes of JSON per cached object.
 */
import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import { isAbandoned } from "../../controllers/postgres-database/naming.js";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { PostgresClusterInstanceKind, PostgresDatabaseKind, PostgresInstanceKind } from "../../api/v1alpha1/index.js";
import { DELETION_POLICY_ANNOTATION, FINALIZER, ROTATE_PASSWORD_ANNOTATION } from "../../controllers/constants.js";
import { ApiError, isNotFound } from "../../runtime/errors.js";
import { KubeClient } from "../../runtime/kube-client.js";
import { keyOf, keyString, type ResourceKind } from "../../runtime/resource-kind.js";
import { DatabaseTestEnv } from "../env/database-env.js";
import { startProductControllers, type ProductControllers } from "../env/product-controllers.js";
import { eventually } from "../support/eventually.js";

/** The most a cached object may take, as JSON: its identity, Kompost's annotations, spec and status. */
const MAX_CACHED_BYTES = 16 * 1024;

/**
 * What a tenant can put on any object it may write: 100 long labels, kubectl's
 * last-applied-configuration of 150 kB, 60 kB of its own, and Kompost's own annotations of
 * 10-20 kB each (a deletion policy padded with blanks, a long rotation token): 250 kB in all,
 * just under the API server's 256 kB limit on annotations.
 */
function tenantMetadata(extra: Record<string, string> = {}): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const labels = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [`tenant.example.com/label-${i}`, `${i}-${"v".repeat(60)}`]),
  );
  const annotations = {
    "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ padding: "l".repeat(150_000) }),
    "tenant.example.com/padding": "p".repeat(60_000),
    ...extra,
  };
  return { labels, annotations };
}

describe("The operator's caches of the kinds it reconciles (real API server)", function () {
  this.timeout(120_000);
  let helpers: DatabaseTestEnv;
  let client: KubeClient;
  let product: ProductControllers | undefined;
  let tenant: string;
  const names = ["db-0", "db-1", "db-2"];

  /** Creates (or updates) an object by server-side apply, as a tenant's GitOps tool would: the server adds managedFields. */
  const serverSideApply = (kind: ResourceKind, obj: KubernetesObject) =>
    client.patch(kind, keyOf(obj), obj, { type: "apply", fieldManager: "tenant-gitops", force: true });

  before(async () => {
    helpers = await DatabaseTestEnv.start({ controller: false });
    client = new KubeClient(helpers.cp.kubeConfig);
    tenant = await helpers.namespace("object-cache");
    product = await startProductControllers(helpers, client, tenant);
  });

  after(async () => {
    for (const name of names) {
      const key = { namespace: tenant, name };
      await client.patch(PostgresDatabaseKind, key, { metadata: { finalizers: null } }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    await helpers.deleteDatabases(tenant);
    // The cluster instance may not exist when the test failed early: cp.kubectl does not throw.
    await helpers.cp.kubectl(["delete", "postgresclusterinstance", tenant, "--wait=false"]);
    await eventually(async () => {
      const { items } = await client.list(PostgresClusterInstanceKind, { fieldSelector: `metadata.name=${tenant}` });
      expect(items).to.deep.equal([]);
    }, 60_000);
    await product?.stop();
  });

  it("keeps at most 16 kB of each PostgresDatabase and instance, whatever labels, annotations, managedFields and spec items a tenant adds", async () => {
    // An instance whose password Secret does not exist: no server is contacted, it only waits.
    const instanceSpec = {
      hostname: helpers.srv.tlsServerName,
      port: helpers.srv.port,
      username: helpers.srv.superuser.user,
      passwordSecretRef: { name: "missing", key: "DB_PASS" },
      ssl: { enabled: true, verify: "verify_peer", ca: helpers.srv.caPem },
    };
    const openTo = { "kompost.chuge.li/allowed-namespaces": `${"a".repeat(5000)},${tenant}` };
    const apiVersion = "kompost.chuge.li/v1alpha1";
    await serverSideApply(PostgresInstanceKind, {
      apiVersion,
      kind: "PostgresInstance",
      metadata: { name: "pg", namespace: tenant, ...tenantMetadata(openTo) },
      spec: instanceSpec,
    } as KubernetesObject);
    await serverSideApply(PostgresClusterInstanceKind, {
      apiVersion,
      kind: "PostgresClusterInstance",
      metadata: { name: tenant, ...tenantMetadata(openTo) },
      spec: instanceSpec,
    } as KubernetesObject);
    const kompostAnnotations = {
      [DELETION_POLICY_ANNOTATION]: `abandon${" ".repeat(10_000)}`,
      [ROTATE_PASSWORD_ANNOTATION]: "r".repeat(20_000),
    };
    // Kompost's finalizer (which the abandon policy releases) among 100 long ones of the tenant's.
    const tenantFinalizers = Array.from({ length: 100 }, (_, i) => `tenant.example.com/hold-${i}-${"h".repeat(40)}`);
    for (const name of names) {
      await serverSideApply(PostgresDatabaseKind, {
        apiVersion,
        kind: "PostgresDatabase",
        metadata: {
          name,
          namespace: tenant,
          finalizers: [FINALIZER, ...tenantFinalizers],
          ...tenantMetadata(kompostAnnotations),
        },
        spec: {
          instanceRef: { name: "pg" },
          secret: {
            extraKeys: { DATABASE_URL: "postgres://{{user}}:{{password}}@{{host}}:{{port}}/{{database}}" },
            labels: { team: "a" },
            annotations: { "reloader.example.com/match": "true" },
          },
          // An item of any shape is admitted by the schema; no valid one is longer than 1 kB.
          extensions: ["citext", { name: "pgcrypto" }, { name: "padded", comment: "x".repeat(300_000) }],
        },
      } as KubernetesObject);
    }

    const expected = [
      ...names.map((name) => `${PostgresDatabaseKind.kind} ${tenant}/${name}`),
      `${PostgresInstanceKind.kind} ${tenant}/pg`,
      `${PostgresClusterInstanceKind.kind} ${tenant}`,
    ];
    const cached = () =>
      [PostgresDatabaseKind, PostgresInstanceKind, PostgresClusterInstanceKind].flatMap((kind) =>
        product!.cache
          .cachedObjects(kind)
          .map((obj) => ({ key: `${kind.kind} ${keyString(keyOf(obj))}`, obj }))
          .filter(({ key }) => expected.includes(key)),
      );
    await eventually(() => expect(new Set(cached().map(({ key }) => key))).to.have.all.keys(...expected), 60_000);

    const sizes = Object.fromEntries(cached().map(({ key, obj }) => [key, JSON.stringify(obj).length]));
    for (const [key, bytes] of Object.entries(sizes)) {
      expect(bytes, `${key} takes ${bytes} bytes in the cache: ${JSON.stringify(sizes)}`).to.be.at.most(
        MAX_CACHED_BYTES,
      );
    }
    // What a reconcile reads is still there: the deletion policy (abandon, as on the server) and the spec.
    for (const { obj } of cached().filter(({ key }) => key.startsWith(PostgresDatabaseKind.kind))) {
      const db = obj as PostgresDatabase;
      expect(isAbandoned(db)).to.equal(true);
      expect(db.spec.instanceRef).to.deep.equal({ name: "pg" });
      expect(db.spec.extensions?.slice(0, 2)).to.deep.equal(["citext", { name: "pgcrypto" }]);
    }
    // Releasing Kompost's finalizer from a copy that kept only it wrote the whole list less Kompost's.
    for (const name of names) {
      await eventually(async () => {
        const stored = await client.get<PostgresDatabase>(PostgresDatabaseKind, { namespace: tenant, name });
        expect(stored.metadata.finalizers, name).to.deep.equal(tenantFinalizers);
      }, 60_000);
    }
  });

  it("refuses spec.secret keys longer than any valid key, which the schema bounds by a rule", async () => {
    const long = `k${"e".repeat(100_000)}`;
    for (const field of ["extraKeys", "labels", "annotations"]) {
      const refused = await client
        .create<PostgresDatabase>(PostgresDatabaseKind, {
          apiVersion: "kompost.chuge.li/v1alpha1",
          kind: "PostgresDatabase",
          metadata: { name: `long-${field.toLowerCase()}`, namespace: tenant },
          spec: { instanceRef: { name: "pg" }, secret: { [field]: { [long]: "v" } } },
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused, field).to.be.instanceOf(ApiError);
      expect((refused as ApiError).message, field).to.include("a key is at most");
    }
  });
});
