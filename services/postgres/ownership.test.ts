import { expect } from "chai";
import { ForeignObjectError, judge, markerFor, parseMarker, requireOurs } from "./ownership.js";

describe("ownership marker", () => {
  it("names the resource and reads back to the same namespace and name", () => {
    const text = markerFor("awesome-application", "staging.v2");
    expect(text).to.equal("managed by kompost.chuge.li for PostgresDatabase awesome-application/staging.v2");
    expect(parseMarker(text)).to.deep.equal({ namespace: "awesome-application", name: "staging.v2" });
  });

  it("does not read a foreign or tampered comment as a marker", () => {
    expect(parseMarker(null)).to.equal(undefined);
    expect(parseMarker("my database")).to.equal(undefined);
    expect(parseMarker("managed by kompost.chuge.li for PostgresDatabase a/b extra")).to.equal(undefined);
    expect(parseMarker("managed by kompost.chuge.li for PostgresDatabase a/b/c")).to.equal(undefined);
  });

  it("refuses to build a marker from something that is not a Kubernetes name", () => {
    expect(() => markerFor("ns", "a/b")).to.throw(/not a Kubernetes namespace\/name/);
  });

  it("judges missing, ours, another resource's and unmarked objects", () => {
    const me = { namespace: "ns", name: "db" };
    expect(judge(undefined, false, me)).to.deep.equal({ state: "missing" });
    expect(judge(markerFor("ns", "db"), true, me)).to.deep.equal({ state: "ours" });
    expect(judge(markerFor("other", "db"), true, me)).to.deep.equal({
      state: "foreign",
      owner: { namespace: "other", name: "db" },
    });
    expect(judge(null, true, me)).to.deep.equal({ state: "foreign", owner: undefined });
  });

  it("reports a foreign object with a reason and a way out", () => {
    const found = judge(null, true, { namespace: "ns", name: "db" });
    expect(() => requireOurs(found, "database", "ns_db", 'while ensuring database "ns_db"'))
      .to.throw(ForeignObjectError, /database "ns_db" already exists and was not created by Kompost/)
      .with.property("reason", "ForeignObject");
  });
});
