import { expect } from "chai";
import { controllerOf, controllerReference, isControlledBy } from "./owner-references.js";

describe("owner references", () => {
  const owner = {
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresDatabase",
    metadata: { name: "db", uid: "u-1" },
  };

  it("builds a controller reference that blocks the owner's deletion", () => {
    expect(controllerReference(owner)).to.deep.equal({
      apiVersion: "kompost.chuge.li/v1alpha1",
      kind: "PostgresDatabase",
      name: "db",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it("refuses an owner without a uid, saying what is missing", () => {
    expect(() => controllerReference({ ...owner, metadata: { name: "db" } })).to.throw(/metadata.uid/);
  });

  it("finds the controller of a child and compares it by uid", () => {
    const child = { metadata: { name: "s", ownerReferences: [{ ...controllerReference(owner) }] } };
    expect(controllerOf(child)?.name).to.equal("db");
    expect(isControlledBy(child, owner)).to.equal(true);
    expect(isControlledBy(child, { ...owner, metadata: { name: "db", uid: "u-2" } })).to.equal(false);
  });
});
