import { expect } from "chai";
import { createDatabaseSql, quoteIdent, quoteLiteral, sqlInteger } from "./sql.js";

describe("quoteIdent", () => {
  it("wraps a name in double quotes and doubles the double quotes inside", () => {
    expect(quoteIdent("plain")).to.equal('"plain"');
    expect(quoteIdent('a"b')).to.equal('"a""b"');
    expect(quoteIdent('x"; DROP DATABASE y; --')).to.equal('"x""; DROP DATABASE y; --"');
  });

  it("keeps case, spaces and unicode as they are", () => {
    expect(quoteIdent("Mixed Case ü")).to.equal('"Mixed Case ü"');
  });

  it("refuses an empty name, a NUL character and names over 63 bytes", () => {
    expect(() => quoteIdent("")).to.throw(/empty/);
    expect(() => quoteIdent("a\0b")).to.throw(/NUL/);
    expect(() => quoteIdent("a".repeat(64))).to.throw(/64 bytes long; PostgreSQL keeps at most 63/);
    // 32 two-byte characters are 64 bytes though only 32 characters.
    expect(() => quoteIdent("ü".repeat(32))).to.throw(/64 bytes/);
    expect(quoteIdent("a".repeat(63))).to.equal(`"${"a".repeat(63)}"`);
  });
});

describe("quoteLiteral", () => {
  it("wraps a value in single quotes and doubles the single quotes inside", () => {
    expect(quoteLiteral("it's")).to.equal("'it''s'");
    expect(quoteLiteral("'; DROP ROLE x; --")).to.equal("'''; DROP ROLE x; --'");
  });

  it("uses the E'' form with doubled backslashes when the value has a backslash", () => {
    expect(quoteLiteral("a\\b")).to.equal("E'a\\\\b'");
    expect(quoteLiteral("\\'")).to.equal("E'\\\\'''");
  });

  it("refuses a NUL character", () => {
    expect(() => quoteLiteral("a\0")).to.throw(/NUL/);
  });
});

describe("sqlInteger", () => {
  it("renders integers and refuses anything else", () => {
    expect(sqlInteger(-1)).to.equal("-1");
    expect(() => sqlInteger(1.5)).to.throw(/not an integer/);
    expect(() => sqlInteger(Number.NaN)).to.throw(/not an integer/);
  });
});

describe("createDatabaseSql", () => {
  it("quotes every identifier and literal it is given", () => {
    const sql = createDatabaseSql(
      'db"x',
      { template: "template0", encoding: "UTF8", locale: "C", connectionLimit: 5, isTemplate: false },
      150000,
    );
    expect(sql).to.equal(
      `CREATE DATABASE "db""x" WITH TEMPLATE = "template0" ENCODING = 'UTF8' LOCALE = 'C' CONNECTION LIMIT = 5 IS_TEMPLATE = false`,
    );
  });

  it("writes LOCALE as LC_COLLATE and LC_CTYPE for servers before PostgreSQL 13", () => {
    expect(createDatabaseSql("d", { locale: "C" }, 120000)).to.equal(
      `CREATE DATABASE "d" WITH LC_COLLATE = 'C' LC_CTYPE = 'C'`,
    );
  });

  it("has no WITH clause without options", () => {
    expect(createDatabaseSql("d", {}, 150000)).to.equal('CREATE DATABASE "d"');
  });
});
