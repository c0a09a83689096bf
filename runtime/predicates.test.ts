import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import { passes, specOrMetadataChanged } from "./predicates.js";

describe("event filters", () => {
  const base: KubernetesObject & { status?: unknown } = {
    metadata: { name: "a", generation: 1, resourceVersion: "1", labels: { a: "1" }, annotations: { x: "1" } },
  };
  const changed = (edit: (obj: KubernetesObject & { status?: unknown }) => void): boolean => {
    const next = structuredClone(base);
    edit(next);
    next.metadata!.resourceVersion = "2";
    return passes(specOrMetadataChanged, { type: "update", oldObj: base, obj: next });
  };

  it("lets through a spec, label, annotation or deletion change", () => {
    expect(changed((o) => (o.metadata!.generation = 2))).to.equal(true);
    expect(changed((o) => (o.metadata!.labels = { a: "2" }))).to.equal(true);
    expect(changed((o) => (o.metadata!.annotations = {}))).to.equal(true);
    expect(changed((o) => (o.metadata!.deletionTimestamp = new Date()))).to.equal(true);
  });

  it("holds back the controller's own status and finalizer writes", () => {
    expect(changed((o) => (o.status = { ready: true }))).to.equal(false);
    expect(changed((o) => (o.metadata!.finalizers = ["kompost.chuge.li/finalizer"]))).to.equal(false);
  });

  it("lets every add and delete through, and every event when there is no filter", () => {
    expect(passes(specOrMetadataChanged, { type: "add", obj: base })).to.equal(true);
    expect(passes(specOrMetadataChanged, { type: "delete", obj: base })).to.equal(true);
    expect(passes(undefined, { type: "update", oldObj: base, obj: base })).to.equal(true);
  });
});
