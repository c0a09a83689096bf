import { expect } from "chai";
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { KubeClient } from "../../runtime/kube-client.js";
import { configMapKind, secretKind } from "../../runtime/resource-kind.js";
import { uniqueName } from "../../runtime/testing/fixtures.js";
import { controlPlane } from "../../test/harness/control-plane.js";
import {
  type DesiredSecret,
  ForeignSecretError,
  labelValueFor,
  readSecret,
  SecretConflictError,
  secretValue,
  writeSecret,
} from "./connection-secret.js";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe("connection Secret unit", () => {
  describe("labelValueFor", () => {
    it("keeps a name that fits a label value", () => {
      expect(labelValueFor("staging")).to.equal("staging");
      expect(labelValueFor("x".repeat(63))).to.equal("x".repeat(63));
    });

    it("shortens longer names to valid, distinct label values", () => {
      const one = labelValueFor(`${"a".repeat(70)}-one`);
      const two = labelValueFor(`${"a".repeat(70)}-two`);
      const dotted = labelValueFor(`${"b".repeat(53)}.-.-.-${"c".repeat(20)}`);
      for (const value of [one, two, dotted]) {
        expect(value.length).to.be.at.most(63);
        expect(value).to.match(LABEL_VALUE);
      }
      expect(one).to.not.equal(two);
    });
  });

  describe("against a real API server", function () {
    this.timeout(60_000);
    let client: KubeClient;
    let namespace: string;
    let owner: V1ConfigMap;

    const desired = (
      name: string,
      data: Record<string, string> = { DB_USER: "u", DB_PASS: "p'; --" },
    ): DesiredSecret => ({
      namespace,
      name,
      owner: {
        apiVersion: "v1",
        kind: "ConfigMap",
        name: owner.metadata!.name!,
        uid: owner.metadata!.uid!,
        controller: true,
        blockOwnerDeletion: true,
      },
      labels: { "app.kubernetes.io/managed-by": "kompost" },
      data,
    });

    before(async () => {
      const cp = await controlPlane();
      client = new KubeClient(cp.kubeConfig);
      namespace = uniqueName("secrets");
      await cp.createNamespace(namespace);
      owner = await client.create<V1ConfigMap>(configMapKind, { metadata: { name: "owner", namespace } });
    });

    it("creates a missing Secret with the data, labels and controller ownerReference", async () => {
      expect(await writeSecret(client, undefined, desired("fresh"))).to.equal("created");
      const stored = (await readSecret(client, namespace, "fresh"))!;
      expect(secretValue(stored, "DB_PASS")).to.equal("p'; --");
      expect(stored.metadata?.labels).to.deep.equal({ "app.kubernetes.io/managed-by": "kompost" });
      expect(stored.metadata?.ownerReferences).to.deep.equal([desired("fresh").owner]);
    });

    it("writes nothing when the Secret already says what it should, extra keys included", async () => {
      await writeSecret(client, undefined, desired("steady"));
      await client.patch(secretKind, { namespace, name: "steady" }, { data: { EXTRA: "eA==" } });
      const before = (await readSecret(client, namespace, "steady"))!;
      expect(await writeSecret(client, before, desired("steady"))).to.equal("unchanged");
      expect((await readSecret(client, namespace, "steady"))!.metadata?.resourceVersion).to.equal(
        before.metadata?.resourceVersion,
      );
    });

    it("puts edited keys and labels back, keeping keys it does not manage", async () => {
      await writeSecret(client, undefined, desired("edited"));
      await client.patch(
        secretKind,
        { namespace, name: "edited" },
        {
          metadata: { labels: { "app.kubernetes.io/managed-by": "someone" } },
          data: { DB_USER: "ZXZl", MINE: "eA==" },
        },
      );
      const edited = (await readSecret(client, namespace, "edited"))!;
      expect(await writeSecret(client, edited, desired("edited"))).to.equal("updated");
      const stored = (await readSecret(client, namespace, "edited"))!;
      expect(secretValue(stored, "DB_USER")).to.equal("u");
      expect(secretValue(stored, "MINE")).to.equal("x");
      expect(stored.metadata?.labels?.["app.kubernetes.io/managed-by"]).to.equal("kompost");
    });

    it("refuses a Secret another object controls, and changes nothing", async () => {
      const other = await client.create<V1ConfigMap>(configMapKind, { metadata: { name: "other", namespace } });
      const uid = other.metadata!.uid!;
      await client.create<V1Secret>(secretKind, {
        metadata: {
          name: "taken",
          namespace,
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "other", uid, controller: true }],
        },
        stringData: { DB_PASS: "theirs" },
      });
      const taken = (await readSecret(client, namespace, "taken"))!;
      const refusal = await writeSecret(client, taken, desired("taken")).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refusal).to.be.instanceOf(SecretConflictError);
      expect((refusal as Error).message).to.include('controlled by ConfigMap "other"');
      expect(secretValue(await readSecret(client, namespace, "taken"), "DB_PASS")).to.equal("theirs");
    });

    it("refuses a Secret the owner does not own, even one wearing the desired labels, and changes nothing", async () => {
      await client.create<V1Secret>(secretKind, {
        metadata: { name: "planted", namespace, labels: { "app.kubernetes.io/managed-by": "kompost" } },
        stringData: { DB_PASS: "theirs" },
      });
      const planted = (await readSecret(client, namespace, "planted"))!;
      const refusal = await writeSecret(client, planted, desired("planted")).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refusal).to.be.instanceOf(ForeignSecretError);
      expect((refusal as Error).message)
        .to.include("no ownerReference with its uid")
        .and.include("left untouched");
      const after = (await readSecret(client, namespace, "planted"))!;
      expect(after.metadata?.resourceVersion).to.equal(planted.metadata?.resourceVersion);
    });

    it("adopts a Secret that names the owner's uid in a plain ownerReference, making the owner its controller", async () => {
      const ref = { ...desired("referenced").owner, controller: false, blockOwnerDeletion: false };
      await client.create<V1Secret>(secretKind, {
        metadata: { name: "referenced", namespace, ownerReferences: [ref] },
        stringData: { DB_PASS: "mine" },
      });
      const existing = await readSecret(client, namespace, "referenced");
      expect(await writeSecret(client, existing, desired("referenced"))).to.equal("updated");
      const stored = (await readSecret(client, namespace, "referenced"))!;
      expect(stored.metadata?.ownerReferences).to.deep.equal([desired("referenced").owner]);
    });

    it("refuses a name longer than Kubernetes allows, saying what to do", async () => {
      const refusal = await writeSecret(client, undefined, desired("x".repeat(254))).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(refusal?.message).to.include("use a shorter resource name");
    });

    it("reads a missing Secret as undefined", async () => {
      expect(await readSecret(client, namespace, "nothing-here")).to.equal(undefined);
    });
  });
});
