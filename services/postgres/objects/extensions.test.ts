import { expect } from "chai";
import { parseExtensionRequests } from "./extensions.js";

describe("spec.extensions parsing (no server)", () => {
  it("takes the original's names and objects with version, schema and ensure", () => {
    const { requests, problems } = parseExtensionRequests([
      "pg_trgm",
      "uuid-ossp",
      { name: "citext", version: "1.6", schema: "shared_ext", ensure: "absent" },
    ]);
    expect(problems).to.deep.equal([]);
    expect(requests).to.deep.equal([
      { name: "pg_trgm", ensure: "present" },
      { name: "uuid-ossp", ensure: "present" },
      { name: "citext", version: "1.6", schema: "shared_ext", ensure: "absent" },
    ]);
  });

  it("refuses hostile or malformed entries as InvalidExtension and keeps the good ones", () => {
    const { requests, problems } = parseExtensionRequests([
      'pg_trgm"; DROP DATABASE x; --',
      { name: "hstore", schema: 'a"b' }, // quotes would reach @extschema@ in extension scripts
      { name: "hstore", schema: "pg_temp" },
      { name: "hstore", schema: "Public" },
      { name: "hstore", version: "1.8'; SELECT 1; --" },
      { name: "hstore", ensure: "gone" },
      { name: "hstore", owner: "app" },
      42,
      ["cube"],
      "citext",
      { name: "citext" },
    ]);
    expect(requests).to.deep.equal([{ name: "citext", ensure: "present" }]);
    expect(problems.map((problem) => problem.reason)).to.deep.equal(Array(10).fill("InvalidExtension"));
    expect(problems.at(-1)?.message).to.include('"citext" is listed twice');
    expect(problems[1]?.message).to.include("plain lower-case name");
  });
});
