/**
 * Secrets Kompost does not own: a tenant (or anyone with write access to Secrets of a
 * namespace) plants a Secret under the name Kompost would use, or floods the namespace with
 * Secrets that look like Kompost's. Kompost must neither adopt nor change the planted one,
 * and must not keep any of them in memory.
 */
import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import { secretKind } from "../../runtime/resource-kind.js";
import { DATABASE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from "../../controllers/constants.js";
import { SECRET_PAGE_SIZE } from "../../controllers/postgres-database/credentials.js";
import { DatabaseTestEnv } from "../env/database-env.js";
import { eventually } from "../support/eventually.js";

const KOMPOST_LABELS = { [MANAGED_BY_LABEL]: MANAGED_BY };

/** Everything of a Secret that must not change: its data, labels, annotations, owners, and its resourceVersion. */
function fingerprint(secret: V1Secret | undefined): unknown {
  const { uid, resourceVersion, labels, annotations, ownerReferences } = secret?.metadata ?? {};
  return { uid, resourceVersion, labels, annotations, ownerReferences, data: secret?.data, type: secret?.type };
}

describe("Secrets Kompost does not own (real API server and PostgreSQL)", function () {
  this.timeout(180_000);
  let env: DatabaseTestEnv;
  let namespace: string;

  before(async () => {
    env = await DatabaseTestEnv.start({ resyncPeriodMs: 1000 });
    namespace = await env.namespace("adv-secrets");
    await env.instance(namespace, "pg", "limitedAdmin");
  });

  after(async () => {
    await env.deleteDatabases(namespace);
    await env.stop();
  });

  /** How often the controller has finished a reconcile of `name` (a debug line per reconcile that got to the end). */
  const reconciles = (name: string): number =>
    env.logLines.filter((line) => line.includes("Reconciled PostgresDatabase") && line.includes(`"name":"${name}"`))
      .length;

  const plants: readonly { readonly what: string; readonly metadata: (ns: string) => V1Secret["metadata"] }[] = [
    { what: "a plain Secret", metadata: () => ({}) },
    {
      what: "a Secret wearing Kompost's labels and an annotation",
      metadata: (ns) => ({
        labels: { ...KOMPOST_LABELS, [DATABASE_LABEL]: "victim-1" },
        annotations: { "team.example/owner": `someone in ${ns}` },
      }),
    },
    {
      what: "a Secret another object owns (not as controller)",
      metadata: () => ({
        ownerReferences: [
          { apiVersion: "v1", kind: "ConfigMap", name: "planted-owner", uid: "00000000-0000-4000-8000-000000000001" },
        ],
      }),
    },
  ];

  for (const [index, plant] of plants.entries()) {
    it(`leaves ${plant.what} named psql-<name>-app byte-for-byte untouched across resyncs and deletion, and says ForeignSecret`, async () => {
      const name = `victim-${index}`;
      const secretName = `psql-${name}-app`;
      const metadata = { ...plant.metadata(namespace), name: secretName, namespace };
      if (metadata.ownerReferences) {
        // An owner that exists, so that the garbage collector keeps the Secret.
        const owner = await env.kubectl("create", "configmap", "-n", namespace, "planted-owner", "-o", "json");
        const uid = (JSON.parse(owner) as { metadata: { uid: string } }).metadata.uid;
        metadata.ownerReferences = metadata.ownerReferences.map((ref) => ({ ...ref, uid }));
      }
      await env.client.create<V1Secret>(secretKind, {
        metadata,
        type: "Opaque",
        stringData: { DB_PASS: "theirs", DB_HOST: "their-own.example", UNRELATED: "x".repeat(1000) },
      });
      const planted = fingerprint(await env.secret(namespace, secretName));

      await env.database(namespace, name, { instance: "pg" });
      const db = await env.condition(namespace, name, "AppUser", "False", {
        reason: "ForeignSecret",
        message: `Secret "${namespace}/${secretName}"`,
      });
      expect(db.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("False");
      const event = await env.event(namespace, name, "ForeignSecret");
      expect(event.type).to.equal("Warning");
      await env.condition(namespace, name, "InspectorUser", "True");
      expect(fingerprint(await env.secret(namespace, secretName))).to.deep.equal(planted);

      const seen = reconciles(name);
      await eventually(() => expect(reconciles(name)).to.be.at.least(seen + 3), 60_000, 200);
      expect(fingerprint(await env.secret(namespace, secretName))).to.deep.equal(planted);

      await env.kubectl("delete", "pgdb", "-n", namespace, name);
      await env.gone(namespace, name);
      // The inspector's Secret, which Kompost owns, goes with the resource; the planted one stays as it was.
      if (env.cp.garbageCollection) {
        await eventually(
          async () => expect(await env.secret(namespace, `psql-${name}-inspector`)).to.equal(undefined),
          90_000,
          200,
        );
      }
      expect(fingerprint(await env.secret(namespace, secretName))).to.deep.equal(planted);
      await env.kubectl("delete", "secret", "-n", namespace, secretName);
      if (metadata.ownerReferences) await env.kubectl("delete", "configmap", "-n", namespace, "planted-owner");
    });
  }
  it("takes a re-created resource's Secrets over only once the old resource's Secrets are gone", async function () {
    if (!env.cp.garbageCollection) this.skip();
    this.timeout(300_000);
    await env.database(namespace, "reborn", { instance: "pg" });
    const first = await env.ready(namespace, "reborn");
    await env.kubectl("delete", "pgdb", "-n", namespace, "reborn");
    await env.gone(namespace, "reborn");
    await env.database(namespace, "reborn", { instance: "pg" });
    const second = await env.ready(namespace, "reborn", 150_000);
    expect(second.metadata.uid).to.not.equal(first.metadata.uid);
    for (const role of ["app", "inspector"]) {
      const secret = await env.secret(namespace, `psql-reborn-${role}`);
      expect(secret?.metadata?.ownerReferences?.map((ref) => ref.uid)).to.deep.equal([second.metadata.uid]);
    }
  });
});

describe("Secrets others create, labelled like Kompost's or not (real API server and PostgreSQL)", function () {
  this.timeout(300_000);
  let env: DatabaseTestEnv;
  let namespace: string;

  before(async () => {
    env = await DatabaseTestEnv.start();
    namespace = await env.namespace("adv-junk");
    await env.instance(namespace, "pg", "superuser");
  });

  after(async () => {
    await env.deleteDatabases(namespace);
    await env.stop();
  });

  it("keeps none of them in the operator's Secret cache, while a Secret it owns still triggers a repair", async () => {
    await env.database(namespace, "owned", { instance: "pg" });
    const db = await env.ready(namespace, "owned");
    const forgedOwner = {
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      name: "owned",
      uid: db.metadata.uid!,
      controller: true,
    };
    const junk: V1Secret[] = Array.from({ length: 240 }, (_, i) => ({
      metadata: {
        name: `junk-${i}`,
        namespace,
        // Most wear Kompost's labels, so that the label selector lets them through; some even claim the real owner.
        ...(i % 4 !== 0 ? { labels: { ...KOMPOST_LABELS, [DATABASE_LABEL]: "owned" } } : {}),
        ...(i % 3 === 0 ? { ownerReferences: [forgedOwner] } : {}),
      },
      stringData: { DB_PASS: i % 10 === 0 ? "x".repeat(256 * 1024) : `junk ${i}` },
    }));
    for (const secret of junk) await env.client.create<V1Secret>(secretKind, secret);

    // The watch delivers events in order: once the deleted Secret is back, every junk event was seen.
    const before = await env.secretData(namespace, "psql-owned-app");
    await env.kubectl("delete", "secret", "-n", namespace, "psql-owned-app");
    await eventually(
      async () => expect((await env.secretData(namespace, "psql-owned-app")).DB_PASS).to.not.equal(before.DB_PASS),
      60_000,
      200,
    );
    await eventually(() => {
      const cached = env.controller.cachedKeys(secretKind).filter((key) => key.startsWith(`${namespace}/`));
      expect(cached.sort()).to.deep.equal([`${namespace}/psql-owned-app`, `${namespace}/psql-owned-inspector`]);
    });

    // A restarted operator lists them again: in small pages, since each may hold up to 1 MiB.
    const restarted = await DatabaseTestEnv.start();
    try {
      const labelled = junk.filter((secret) => secret.metadata?.labels).length;
      const otherInformers = 3; // PostgresDatabases, PostgresInstances, PostgresClusterInstances
      expect(restarted.client.lists).to.be.at.least(otherInformers + Math.ceil(labelled / SECRET_PAGE_SIZE));
      expect(
        restarted.controller.cachedKeys(secretKind).filter((key) => key.startsWith(`${namespace}/`)),
      ).to.have.length(2);
    } finally {
      await restarted.stop();
    }
  });
});
