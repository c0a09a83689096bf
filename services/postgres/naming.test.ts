import { expect } from "chai";
import { databaseName, fullDatabaseName, roleName, sqlNames } from "./naming.js";

const VALID = /^[a-z0-9_]{1,63}$/;

describe("naming", () => {
  it("prefixes the namespace by default and uses the bare name with resource_name", () => {
    expect(databaseName("default", "test", "prefix_namespace")).to.equal("default_test");
    expect(databaseName("default", "test", "resource_name")).to.equal("test");
  });

  it("lowercases and turns every character outside [a-z0-9_] into an underscore", () => {
    expect(databaseName("awesome-application", "Staging.DB", "prefix_namespace")).to.equal(
      "awesome_application_staging_db",
    );
    expect(fullDatabaseName("ns", `a"b;c--d/*e\\f ü`, "resource_name")).to.equal("a_b_c__d__e_f__");
  });

  it("names the roles <database>_app and <database>_inspector", () => {
    expect(sqlNames("default", "test", "prefix_namespace")).to.deep.equal({
      database: "default_test",
      app: "default_test_app",
      inspector: "default_test_inspector",
    });
  });

  it("cuts a long name to exactly 63 bytes ending in _ and 8 hex characters", () => {
    const name = databaseName("n".repeat(63), "r".repeat(200), "prefix_namespace");
    expect(name).to.have.lengthOf(63);
    expect(name).to.match(/^n{54}_[0-9a-f]{8}$/);
  });

  it("gives distinct database and role names to two resources differing only past byte 63", () => {
    const common = "x".repeat(70);
    const a = sqlNames("ns", `${common}-a`, "prefix_namespace");
    const b = sqlNames("ns", `${common}-b`, "prefix_namespace");
    expect(a.database).to.not.equal(b.database);
    expect(a.app).to.not.equal(b.app);
    expect(a.inspector).to.not.equal(b.inspector);
    expect(new Set([a.database, a.app, a.inspector, b.app, b.inspector]).size).to.equal(5);
  });

  it("keeps app and inspector apart when the database name itself had to be cut", () => {
    const full = fullDatabaseName("ns", "y".repeat(100), "prefix_namespace");
    expect(roleName(full, "app")).to.not.equal(roleName(full, "inspector"));
    expect(roleName(full, "app")).to.have.lengthOf(63);
  });

  it("leaves a name that just fits as it is, and hashes one that fits only without its role suffix", () => {
    const name = "z".repeat(63);
    expect(databaseName("ns", name, "resource_name")).to.equal(name);
    expect(sqlNames("ns", name, "resource_name").app).to.match(/^z{54}_[0-9a-f]{8}$/);
  });

  it("always yields names of 1 to 63 characters from [a-z0-9_]", () => {
    const inputs = ["a", "A-B.C", "ü".repeat(100), `'"; DROP TABLE x; --`, "9".repeat(253), "İstanbul"];
    for (const input of inputs) {
      for (const strategy of ["prefix_namespace", "resource_name"] as const) {
        const names = sqlNames("some-namespace", input, strategy);
        for (const value of Object.values(names)) expect(value).to.match(VALID);
      }
    }
  });
});
