import { expect } from "chai";
import type { V1Secret } from "@kubernetes/client-node";
import type { PostgresInstanceSpec } from "../../api/v1alpha1/index.js";
import { ObjectStore } from "../../runtime/cache.js";
import { InstanceReason } from "../constants.js";
import { resolveCredentials } from "./credentials.js";

describe("resolveCredentials", () => {
  const base: PostgresInstanceSpec = { hostname: "db", username: "admin" };
  const store = new ObjectStore<V1Secret>();
  const secrets = (namespace: string, name: string) => Promise.resolve(store.get({ namespace, name }));
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  store.set({ metadata: { namespace: "ops", name: "pw" }, data: { password: b64("s3cret ü"), blank: "" } });
  store.set({ metadata: { namespace: "ops", name: "empty" } });

  it("accepts a plain password and says a Secret would be safer", async () => {
    const result = await resolveCredentials({ ...base, plainPassword: "p" }, "ops", secrets);
    expect(result).to.deep.include({ ok: true, password: "p", plain: true });
    expect(result.condition).to.include({ status: "True", reason: InstanceReason.PlainPassword });
    expect(result.condition.message).to.include("spec.passwordSecretRef");
  });

  it("decodes the referenced key of a Secret in the given namespace", async () => {
    const result = await resolveCredentials(
      { ...base, passwordSecretRef: { name: "pw", key: "password" } },
      "ops",
      secrets,
    );
    expect(result).to.deep.include({ ok: true, password: "s3cret ü", plain: false });
    expect(result.condition.message).to.equal(`The password is read from key "password" of Secret "ops/pw"`);
  });

  it("says the Secret was not found, naming its namespace", async () => {
    const result = await resolveCredentials(
      { ...base, passwordSecretRef: { name: "pw", key: "password" } },
      "apps",
      secrets,
    );
    expect(result.ok).to.equal(false);
    expect(result.condition).to.include({
      status: "False",
      reason: InstanceReason.SecretNotFound,
      message: `Secret "apps/pw" named in spec.passwordSecretRef was not found`,
    });
  });

  it("says which key is missing and which keys there are, never their values", async () => {
    const result = await resolveCredentials(
      { ...base, passwordSecretRef: { name: "pw", key: "pass" } },
      "ops",
      secrets,
    );
    expect(result.condition).to.include({
      reason: InstanceReason.SecretKeyNotFound,
      message: `Secret "ops/pw" has no key "pass" (it has "blank", "password")`,
    });
    const none = await resolveCredentials(
      { ...base, passwordSecretRef: { name: "empty", key: "pass" } },
      "ops",
      secrets,
    );
    expect(none.condition.message).to.equal(`Secret "ops/empty" has no key "pass" (it has no keys)`);
  });

  it("says the value is empty", async () => {
    const result = await resolveCredentials(
      { ...base, passwordSecretRef: { name: "pw", key: "blank" } },
      "ops",
      secrets,
    );
    expect(result.condition).to.include({
      status: "False",
      reason: InstanceReason.SecretValueEmpty,
      message: `Key "blank" of Secret "ops/pw" is empty`,
    });
  });

  it("says neither source is set", async () => {
    expect((await resolveCredentials(base, "ops", secrets)).condition.reason).to.equal(InstanceReason.NoPassword);
  });
});
