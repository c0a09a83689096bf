import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { UserFixableError } from "../errors.js";
import { ForeignObjectError, markerFor } from "../ownership.js";
import { quoteIdent, quoteLiteral } from "../sql.js";
import { createDatabase, dropDatabase, ensureDatabase, inspectDatabase } from "./database.js";
import { ADMIN_KINDS, connectAdmin, newTenant, removeTenant } from "./fixture.test.js";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (err: unknown) => err as Error,
  );
}

for (const kind of ADMIN_KINDS) {
  describe(`database unit with the ${kind} admin`, () => {
    let srv: PostgresServer;
    let admin: pg.Client;
    let superuser: pg.Client;
    const withParams = newTenant("params");
    const badLocale = newTenant("bad-locale");
    const foreign = newTenant("foreign");
    const other = newTenant("other");
    const tenants = [withParams, badLocale, foreign, other];

    before(async () => {
      srv = await postgres();
      admin = await connectAdmin(srv, kind);
      superuser = await srv.connect();
    });
    after(async () => {
      await admin.end();
      await superuser.end();
      for (const tenant of tenants) await removeTenant(srv, tenant.names);
    });

    it("creates the database with its params, marks it and takes CONNECT and TEMPORARY from PUBLIC", async () => {
      const name = withParams.names.database;
      const params = { template: "template0", encoding: "UTF8", locale: "C", connection_limit: 7, is_template: false };
      expect(await ensureDatabase(admin, name, params, withParams.marker)).to.equal("created");
      const { rows } = await superuser.query(
        `SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datcollate, d.datctype, d.datconnlimit,
                d.datistemplate, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
                ARRAY(SELECT a.privilege_type FROM pg_catalog.aclexplode(d.datacl) a WHERE a.grantee = 0) AS public
           FROM pg_catalog.pg_database d WHERE d.datname = $1`,
        [name],
      );
      expect(rows[0]).to.deep.equal({
        encoding: "UTF8",
        datcollate: "C",
        datctype: "C",
        datconnlimit: 7,
        datistemplate: false,
        comment: markerFor(withParams.marker.namespace, withParams.marker.name),
        public: [],
      });
      expect(await inspectDatabase(admin, name, withParams.marker)).to.deep.equal({ state: "ours" });
      expect(await ensureDatabase(admin, name, { encoding: "ignored once it exists" }, withParams.marker)).to.equal(
        "present",
      );
    });

    it("says which param the server refused, and creates nothing", async () => {
      const name = badLocale.names.database;
      const err = await rejection(ensureDatabase(admin, name, { locale: "xx_XX.UTF-8" }, badLocale.marker));
      expect(err).to.be.instanceOf(UserFixableError).with.property("reason", "InvalidParameter");
      expect(err.message).to.equal(
        'while checking params: params.locale "xx_XX.UTF-8" is not a locale this server knows; use one listed by `locale -a` on the server',
      );
      const mismatch = await rejection(ensureDatabase(admin, name, { encoding: "LATIN1" }, badLocale.marker));
      expect(mismatch.message).to.match(/differs from the template database's; set params.template to template0$/);
      const pair = await rejection(
        ensureDatabase(admin, name, { template: "template0", encoding: "LATIN1", locale: "C.UTF-8" }, badLocale.marker),
      );
      expect(pair.message).to.equal(
        'while checking params: params.encoding does not fit the locale on this server (template "template0", encoding "LATIN1", locale "C.UTF-8"); choose a matching pair',
      );
      expect(await inspectDatabase(admin, name, badLocale.marker)).to.deep.equal({ state: "missing" });
    });

    it("leaves an unmarked database with the target name alone and reports it", async () => {
      const name = foreign.names.database;
      await superuser.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await superuser.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral("someone else's")}`);
      const err = await rejection(ensureDatabase(admin, name, {}, foreign.marker));
      expect(err).to.be.instanceOf(ForeignObjectError).with.property("reason", "ForeignObject");
      expect(err.message).to.include(`database "${name}" already exists and was not created by Kompost`);
      expect(await rejection(dropDatabase(admin, name, foreign.marker))).to.be.instanceOf(ForeignObjectError);
      const { rows } = await superuser.query(
        "SELECT pg_catalog.shobj_description(oid, 'pg_database') AS comment, datacl FROM pg_catalog.pg_database WHERE datname = $1",
        [name],
      );
      expect(rows).to.deep.equal([{ comment: "someone else's", datacl: null }]);
    });

    it("leaves another resource's database alone and names that resource", async () => {
      const name = other.names.database;
      const owner = { namespace: other.marker.namespace, name: "someone-else" };
      await createDatabase(admin, name, {}, owner);
      const err = await rejection(ensureDatabase(admin, name, {}, other.marker));
      expect(err.message).to.include(`belongs to PostgresDatabase ${owner.namespace}/someone-else`);
      expect(await rejection(dropDatabase(admin, name, other.marker))).to.be.instanceOf(ForeignObjectError);
      expect(await inspectDatabase(admin, name, owner)).to.deep.equal({ state: "ours" });
    });

    if (kind === "limitedAdmin") {
      it("refuses to drop while a session it may not end is connected, saying why, and keeps the database", async () => {
        const name = withParams.names.database;
        const blocker = await srv.connect({ database: name });
        try {
          const err = await rejection(dropDatabase(admin, name, withParams.marker));
          expect(err).to.be.instanceOf(UserFixableError).with.property("reason", "InsufficientPrivilege");
          expect(err.message).to.match(new RegExp(`^while dropping database "${name}": .*superuser`, "i"));
          expect(await inspectDatabase(admin, name, withParams.marker)).to.deep.equal({ state: "ours" });
        } finally {
          await blocker.end();
        }
      });
    }

    it("reports a database created behind its back as a duplicate, not a crash", async () => {
      const err = await rejection(createDatabase(admin, other.names.database, {}, other.marker));
      expect(err).to.be.instanceOf(UserFixableError).with.property("reason", "DuplicateObject");
      expect(err.message).to.match(/^while creating database ".+": database ".+" already exists$/);
    });
  });
}
