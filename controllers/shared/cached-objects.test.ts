import { expect } from "chai";
import type { PostgresDatabase, PostgresInstance } from "../../api/v1alpha1/index.js";
import { specOrMetadataChanged } from "../../runtime/predicates.js";
import { finalizersCut, METADATA_DIGEST_KEY, metadataDigestOf } from "../../runtime/slim-object.js";
import { parseAllowedNamespaces } from "../../services/access/allowed-namespaces.js";
import { parseExtensionRequests } from "../../services/postgres/objects/extensions.js";
import {
  ALLOWED_NAMESPACES_ANNOTATION,
  DELETION_POLICY_ANNOTATION,
  FINALIZER,
  ROTATE_PASSWORD_ANNOTATION,
} from "../constants.js";
import { isAbandoned } from "../postgres-database/naming.js";
import { VerifyCadence } from "../postgres-database/verify-cadence.js";
import { retainDatabase, retainInstance } from "./cached-objects.js";

/** A PostgresDatabase as the API server returns it, with a tenant's labels, annotations and managedFields. */
function database(annotations: Record<string, string>): PostgresDatabase {
  return {
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresDatabase",
    metadata: {
      name: "app",
      namespace: "ns",
      uid: "u-1",
      resourceVersion: "7",
      generation: 2,
      finalizers: ["kompost.chuge.li/finalizer", "tenant.example.com/hold"],
      labels: { team: "a" },
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(50_000), ...annotations },
      managedFields: [{ manager: "kubectl", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: {} }],
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "u-2" }],
    },
    spec: {
      instanceRef: { name: "pg" },
      // A bare name is admitted too, though the generated type knows only the object form.
      extensions: ["citext", { name: "padded", note: "p".repeat(5000) }] as unknown as { [k: string]: unknown }[],
    },
    status: { observedGeneration: 2 },
  };
}

const slim = (db: PostgresDatabase): PostgresDatabase => retainDatabase(db) as PostgresDatabase;

describe("What the caches keep of the kinds Kompost reconciles", () => {
  it("keeps a PostgresDatabase's identity, finalizers, spec, status and Kompost's annotations, bounded, and drops the rest", () => {
    const full = database({
      [DELETION_POLICY_ANNOTATION]: ` abandon${" ".repeat(10_000)}`,
      [ROTATE_PASSWORD_ANNOTATION]: "r".repeat(20_000),
    });
    const kept = slim(full);
    expect(kept.metadata).to.deep.include({
      name: "app",
      namespace: "ns",
      uid: "u-1",
      resourceVersion: "7",
      generation: 2,
    });
    expect(kept.metadata.finalizers).to.deep.equal(full.metadata.finalizers);
    expect(kept.metadata).to.not.have.any.keys("labels", "managedFields", "ownerReferences");
    expect(Object.keys(kept.metadata.annotations!).sort()).to.deep.equal(
      [DELETION_POLICY_ANNOTATION, ROTATE_PASSWORD_ANNOTATION, METADATA_DIGEST_KEY].sort(),
    );
    expect(isAbandoned(kept)).to.equal(true);
    expect(kept.metadata.annotations![ROTATE_PASSWORD_ANNOTATION]).to.match(/^sha256:/);
    expect(kept.status).to.deep.equal(full.status);
    expect(JSON.stringify(kept).length).to.be.below(1024);
    // A slim copy slimmed again is the same copy: a reconcile may slim what a write returned.
    expect(slim(kept)).to.deep.equal(kept);
  });

  it("keeps only Kompost's finalizer of a long list, and says that the list was cut", () => {
    const full = database({});
    const tenants = Array.from({ length: 100 }, (_, i) => `tenant.example.com/hold-${i}-${"h".repeat(40)}`);
    full.metadata.finalizers = [...tenants.slice(0, 50), FINALIZER, ...tenants.slice(50)];
    const kept = slim(full);
    expect(kept.metadata.finalizers).to.deep.equal([FINALIZER]);
    expect(finalizersCut(kept)).to.equal(true);
    expect(finalizersCut(slim(database({})))).to.equal(false);
    expect(slim(kept)).to.deep.equal(kept);
  });

  it("keeps a long deletion policy that is not abandon as one that is not, and a short rotation token as written", () => {
    const kept = slim(
      database({
        [DELETION_POLICY_ANNOTATION]: `abandon${" ".repeat(100)}x`,
        [ROTATE_PASSWORD_ANNOTATION]: "2026-11-30",
      }),
    );
    expect(isAbandoned(kept)).to.equal(false);
    expect(kept.metadata.annotations![ROTATE_PASSWORD_ANNOTATION]).to.equal("2026-11-30");
  });

  it("sees a change of any dropped label or annotation, in the event filter and the verify cadence alike", () => {
    const before = database({});
    const after = database({ "example.com/touch": "1" });
    expect(specOrMetadataChanged.update!(slim(before), slim(after))).to.equal(true);
    expect(specOrMetadataChanged.update!(slim(before), slim(database({})))).to.equal(false);
    expect(metadataDigestOf(slim(after))).to.equal(metadataDigestOf(after));

    // The cadence sees the whole object a finalizer write returned and the cache's copy as one version.
    const cadence = new VerifyCadence({ periodMs: 3_600_000 });
    cadence.passed("ns/app", before, 0);
    expect(cadence.due("ns/app", slim(before), 1)).to.equal(false);
    expect(cadence.due("ns/app", slim(after), 1)).to.equal(true);
  });

  it("keeps an extension item longer than any valid one as a stand-in that is refused as the item was", () => {
    const { spec } = slim(database({}));
    expect(spec.extensions?.[0]).to.equal("citext");
    expect(JSON.stringify(spec.extensions?.[1]).length).to.be.below(100);
    const { problems } = parseExtensionRequests(spec.extensions);
    expect(problems.map((problem) => problem.reason)).to.deep.equal(["InvalidExtension"]);
  });

  it("keeps an instance's allowed-namespaces annotation so that a too long one is still refused as too long", () => {
    const value = `${"a".repeat(5000)},ns`;
    const instance: PostgresInstance = {
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresInstance",
      metadata: { name: "pg", namespace: "ns", annotations: { [ALLOWED_NAMESPACES_ANNOTATION]: value } },
      spec: { hostname: "h", port: 5432, username: "u", plainPassword: "p" },
    };
    const kept = retainInstance(instance) as PostgresInstance;
    const annotation = kept.metadata.annotations![ALLOWED_NAMESPACES_ANNOTATION]!;
    expect(annotation.length).to.be.below(value.length);
    expect(parseAllowedNamespaces(annotation)).to.deep.equal(parseAllowedNamespaces(value));
  });
});
