import { expect } from "chai";
import { collectionPath, keyOf, keyString, namespaceKind, objectPath, parseKey, secretKind } from "./resource-kind.js";
import { widgetKind } from "./testing/widget-crd.js";

describe("resource kinds", () => {
  it("builds core and group paths, namespaced and cluster-wide", () => {
    expect(collectionPath(secretKind)).to.equal("/api/v1/secrets");
    expect(collectionPath(secretKind, "ns")).to.equal("/api/v1/namespaces/ns/secrets");
    expect(objectPath(widgetKind, { namespace: "ns", name: "w" }, "status")).to.equal(
      "/apis/runtime.kompost.test/v1/namespaces/ns/widgets/w/status",
    );
    expect(objectPath(namespaceKind, { name: "ns" })).to.equal("/api/v1/namespaces/ns");
  });

  it("refuses a namespaced object path without a namespace", () => {
    expect(() => objectPath(secretKind, { name: "s" })).to.throw(/namespaced/);
  });

  it("round-trips keys through their string form", () => {
    expect(keyString(keyOf({ metadata: { namespace: "a", name: "b" } }))).to.equal("a/b");
    expect(parseKey("a/b")).to.deep.equal({ namespace: "a", name: "b" });
    expect(parseKey("cluster-scoped")).to.deep.equal({ name: "cluster-scoped" });
  });
});
