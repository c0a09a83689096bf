import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../test/harness/postgres.js";
import { UserFixableError } from "./errors.js";
import { validateParams } from "./params.js";

describe("validateParams", () => {
  let srv: PostgresServer;
  let db: pg.Client;

  before(async () => {
    srv = await postgres();
    db = await srv.connect({ user: srv.limitedAdmin.user });
  });
  after(async () => db.end());

  async function refusal(params: Record<string, unknown>): Promise<string> {
    const err = await validateParams(db, params).then(
      () => expect.fail(`accepted ${JSON.stringify(params)}`),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(UserFixableError);
    expect((err as UserFixableError).reason).to.equal("InvalidParameter");
    return (err as Error).message;
  }

  it("returns every param typed, accepting numbers and booleans written as strings", async () => {
    const params = await validateParams(db, {
      template: "template0",
      encoding: "UTF8",
      lc_collate: "C",
      lc_ctype: "C.UTF-8",
      connection_limit: "10",
      is_template: "false",
    });
    expect(params).to.include({
      template: "template0",
      encoding: "UTF8",
      lcCollate: "C",
      lcCtype: "C.UTF-8",
      connectionLimit: 10,
      isTemplate: false,
    });
    expect(await validateParams(db, { locale: "C", connection_limit: -1, is_template: true })).to.include({
      locale: "C",
      connectionLimit: -1,
      isTemplate: true,
    });
  });

  it("accepts no params at all", async () => {
    expect(Object.values(await validateParams(db, undefined)).filter((v) => v !== undefined)).to.deep.equal([]);
  });

  it("refuses an encoding the server does not know, naming the param", async () => {
    expect(await refusal({ encoding: "FOO" })).to.equal(
      'while checking params: params.encoding "FOO" is not an encoding this server knows, e.g. UTF8',
    );
    expect(await refusal({ encoding: "UTF8'; DROP ROLE x; --" })).to.match(/^while checking params: params\.encoding/);
  });

  it("takes an encoding number, as the original Kompost's int-or-string did, and turns it into its name", async () => {
    expect(await validateParams(db, { encoding: 6 })).to.include({ encoding: "UTF8" });
    expect(await refusal({ encoding: 999 })).to.equal(
      "while checking params: params.encoding 999 is not an encoding number this server knows; prefer a name such as UTF8",
    );
    expect(await refusal({ encoding: -1 })).to.match(/params\.encoding -1 is not an encoding number/);
  });

  it("refuses a template that is not a template database, missing or not", async () => {
    const notTemplate = await refusal({ template: "postgres" });
    const missing = await refusal({ template: "no_such_database" });
    expect(notTemplate).to.match(/params\.template "postgres" is not a template database/);
    expect(missing.replace("no_such_database", "postgres")).to.equal(notTemplate);
    expect(await refusal({ template: "x".repeat(64) })).to.match(/longer than 63 bytes/);
  });

  it("refuses locale names outside the strict pattern", async () => {
    for (const [key, value] of [
      ["locale", "C'; --"],
      ["lc_collate", "en US"],
      ["lc_ctype", "x".repeat(65)],
      ["locale", ""],
    ] as const) {
      expect(await refusal({ [key]: value }))
        .to.include(`params.${key} `)
        .and.include("is not a locale name");
    }
  });

  it("passes locale together with lc_collate and lc_ctype on, as the original did, for the server to judge", async () => {
    const original = { template: "template0", encoding: "SQL_ASCII", locale: "C", lc_collate: "C", lc_ctype: "C" };
    expect(await validateParams(db, { ...original, connection_limit: 50, is_template: true })).to.include({
      locale: "C",
      lcCollate: "C",
      lcCtype: "C",
      encoding: "SQL_ASCII",
    });
    expect(await validateParams(db, { locale: "C", lc_ctype: "C.UTF-8" })).to.include({
      locale: "C",
      lcCtype: "C.UTF-8",
    });
  });

  it("refuses a connection limit that is not an integer from -1 up", async () => {
    for (const value of [-2, 1.5, "1; DROP", "abc", 2147483648, true]) {
      expect(await refusal({ connection_limit: value })).to.include("params.connection_limit");
    }
  });

  it("refuses an is_template that is not a boolean, and unknown keys", async () => {
    expect(await refusal({ is_template: "yes" })).to.include("params.is_template");
    expect(await refusal({ owner: "postgres" })).to.include('"owner" is not a known key of params');
  });
});
