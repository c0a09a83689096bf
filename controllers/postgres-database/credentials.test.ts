import { expect } from "chai";
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { EXTRA_KEYS_ANNOTATION } from "../constants.js";
import { ownedSecretRetainer, rotationPeriodOf } from "./credentials.js";

const database = (every?: string): PostgresDatabase => ({
  apiVersion: "kompost.chuge.li/v1alpha1",
  kind: "PostgresDatabase",
  metadata: { name: "staging", namespace: "team-a" },
  spec: { instanceRef: { name: "pg" }, ...(every ? { passwordRotation: { every } } : {}) },
});

const instance = (every?: unknown): KubernetesObject =>
  ({ metadata: { name: "pg" }, spec: every === undefined ? {} : { passwordRotation: { every } } }) as KubernetesObject;

describe("PostgresDatabase credentials (units)", () => {
  it("takes the rotation period from the resource, else from its instance, else none", () => {
    expect(rotationPeriodOf(database("30d"), instance("90d"))).to.equal("30d");
    expect(rotationPeriodOf(database(), instance("90d"))).to.equal("90d");
    expect(rotationPeriodOf(database(), instance())).to.equal(undefined);
    expect(rotationPeriodOf(database(), undefined)).to.equal(undefined);
    expect(rotationPeriodOf(database(), instance(90))).to.equal(undefined);
  });

  it("keeps of an owned Secret the connection keys, the extra keys its annotation lists, Kompost's annotations and those spec.secret asks for, nothing else; and only when its owner is cached with its uid", () => {
    const encoded = (text: string) => Buffer.from(text).toString("base64");
    const secret: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "psql-staging-app",
        namespace: "team-a",
        annotations: {
          [EXTRA_KEYS_ANNOTATION]: "DSN,ca.crt",
          team: "a",
          "tenant.example/padding": "x",
          constructor: "y",
        },
        ownerReferences: [
          {
            apiVersion: "kompost.chuge.li/v1alpha1",
            kind: "PostgresDatabase",
            name: "staging",
            uid: "u",
            controller: true,
          },
        ],
      },
      data: {
        DB_PASS: encoded("p"),
        PGPASSWORD: encoded("p"),
        DSN: encoded("d"),
        "ca.crt": encoded("c"),
        MINE: encoded("x"),
      },
    };
    const owner: PostgresDatabase = {
      ...database(),
      spec: { ...database().spec, secret: { annotations: { team: "b" } } },
    };
    const cached = (db: PostgresDatabase | undefined) => ({
      get: (key: { namespace?: string; name: string } | string) =>
        typeof key !== "string" && key.namespace === "team-a" && key.name === "staging" ? db : undefined,
    });
    const kept = ownedSecretRetainer(() => cached({ ...owner, metadata: { ...owner.metadata, uid: "u" } }))(secret)!;
    expect(Object.keys(kept.data ?? {}).sort()).to.deep.equal(["DB_PASS", "DSN", "PGPASSWORD", "ca.crt"]);
    expect(kept.metadata?.annotations).to.deep.equal({ [EXTRA_KEYS_ANNOTATION]: "DSN,ca.crt", team: "a" });
    // Forged: an owner the cache does not hold, or holds with another uid.
    expect(ownedSecretRetainer(() => cached(undefined))(secret)).to.equal(undefined);
    expect(ownedSecretRetainer(() => cached({ ...owner, metadata: { ...owner.metadata, uid: "v" } }))(secret)).to.equal(
      undefined,
    );
  });
});
