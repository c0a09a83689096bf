/**
 * Manifests of the original Kompost, provisioned for real: what its own tests expected of the
 * database must hold here too (the fixtures say where each manifest comes from).
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { ADMIN_KINDS, DatabaseTestEnv } from "../../test/env/database-env.js";

const ORIGINAL_PARAMS = new URL("../../test/fixtures/original/test-postgres-database-params.yaml", import.meta.url);

/** What the original's test read back from pg_database. */
interface DatabaseSettings {
  readonly encoding: string;
  readonly datcollate: string;
  readonly datctype: string;
  readonly datconnlimit: number;
  readonly datistemplate: boolean;
}

describe("manifests of the original Kompost, provisioned (real API server and PostgreSQL)", function () {
  this.timeout(120_000);
  let env: DatabaseTestEnv;

  before(async () => {
    env = await DatabaseTestEnv.start();
  });

  after(async () => env.stop());

  const settingsOf = (database: string): Promise<DatabaseSettings | undefined> =>
    env.asSuperuser(async (db) => {
      const { rows } = await db.query<DatabaseSettings>(
        "SELECT pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate, datctype, datconnlimit, datistemplate FROM pg_catalog.pg_database WHERE datname = $1",
        [database],
      );
      return rows[0];
    });

  for (const kind of ADMIN_KINDS) {
    it(`creates the database of the original's own params test (locale with lc_collate and lc_ctype) and drops it, with the ${kind} admin`, async () => {
      const namespace = await env.namespace("compat");
      await env.instance(namespace, "app-database", kind);
      const manifest = parse(await readFile(ORIGINAL_PARAMS, "utf8")) as PostgresDatabase;
      manifest.metadata.namespace = namespace;
      await env.apply(JSON.stringify(manifest));
      const db = await env.ready(namespace, "test-params");
      const database = db.status!.sql_db_name!;
      expect(await settingsOf(database)).to.deep.equal({
        encoding: "SQL_ASCII",
        datcollate: "C",
        datctype: "C",
        datconnlimit: 50,
        datistemplate: true,
      });
      // Unlike the original, whose DROP failed on a template database, deletion drops it.
      await env.deleteDatabases(namespace);
      expect(await settingsOf(database)).to.equal(undefined);
    });
  }

  it("creates a database whose params.encoding is a number with that encoding", async () => {
    const namespace = await env.namespace("compat-enc");
    await env.instance(namespace, "app-database", "limitedAdmin");
    const utf8 = await env.asSuperuser(
      async (db) => (await db.query<{ n: number }>("SELECT pg_catalog.pg_char_to_encoding('UTF8') AS n")).rows[0]!.n,
    );
    await env.database(
      namespace,
      "numbered",
      { instance: "app-database" },
      { spec: `  params: { template: template0, encoding: ${utf8}, locale: C }\n` },
    );
    const db = await env.ready(namespace, "numbered");
    expect(await settingsOf(db.status!.sql_db_name!)).to.include({ encoding: "UTF8", datcollate: "C" });
    await env.deleteDatabases(namespace);
  });
});
