import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { PostgresServer } from "../../test/harness/postgres.js";
import { postgres } from "../../test/harness/postgres.js";
import { checkPrivileges } from "./privileges.js";
import type { Queryable } from "./queryable.js";

describe("checking the instance user's privileges", () => {
  const suffix = randomBytes(4).toString("hex");
  const password = randomBytes(18).toString("base64url");
  const roles = {
    plain: `kompost_e_plain_${suffix}`,
    createdbOnly: `kompost_e_createdb_${suffix}`,
    createroleOnly: `kompost_e_createrole_${suffix}`,
  };
  let srv: PostgresServer;
  let admin: pg.Client;

  before(async () => {
    srv = await postgres();
    admin = await srv.connect();
    // Role names come from this file, not from users: plain interpolation is safe here.
    await admin.query(`CREATE ROLE ${roles.plain} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE ROLE ${roles.createdbOnly} LOGIN CREATEDB PASSWORD '${password}'`);
    await admin.query(`CREATE ROLE ${roles.createroleOnly} LOGIN CREATEROLE PASSWORD '${password}'`);
  });

  after(async () => {
    for (const role of Object.values(roles)) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  async function checkAs(user: string, pass = password): Promise<Awaited<ReturnType<typeof checkPrivileges>>> {
    const client = await srv.connect({ user, password: pass });
    try {
      return await checkPrivileges(client);
    } finally {
      await client.end();
    }
  }

  it("accepts a superuser, and reads it and the server's major version in one statement", async () => {
    const client = await srv.connect({ user: srv.superuser.user, password: srv.superuser.password });
    const sent: string[] = [];
    try {
      const counting: Queryable = {
        query: (text, values) => {
          sent.push(text);
          return client.query(text, values ? [...values] : undefined);
        },
      };
      const result = await checkPrivileges(counting);
      expect(result).to.deep.include({ ok: true });
      expect(result.admin).to.deep.include({
        name: srv.superuser.user,
        superuser: true,
        serverMajorVersion: srv.majorVersion,
      });
    } finally {
      await client.end();
    }
    expect(sent).to.have.length(1);
  });

  it("accepts a user with CREATEDB and CREATEROLE that is not a superuser, and says it is not one", async () => {
    const result = await checkAs(srv.limitedAdmin.user, srv.limitedAdmin.password);
    expect(result).to.deep.include({ ok: true });
    expect(result.admin).to.deep.include({
      superuser: false,
      createdb: true,
      createrole: true,
      serverMajorVersion: srv.majorVersion,
    });
  });

  it("names both rights when a user has neither", async () => {
    const result = await checkAs(roles.plain);
    expect(result).to.deep.include({ ok: false, missing: ["CREATEDB", "CREATEROLE"] });
    expect((result as { message: string }).message).to.equal(
      `user "${roles.plain}" lacks CREATEDB and CREATEROLE: it must be a superuser or have CREATEDB and CREATEROLE`,
    );
  });

  it("names only CREATEROLE when the user can create databases", async () => {
    expect(await checkAs(roles.createdbOnly)).to.deep.include({ ok: false, missing: ["CREATEROLE"] });
  });

  it("names only CREATEDB when the user can create roles", async () => {
    expect(await checkAs(roles.createroleOnly)).to.deep.include({ ok: false, missing: ["CREATEDB"] });
  });

  it("changes nothing on the server: it runs inside a read-only transaction", async () => {
    const client = await srv.connect({ user: roles.plain, password });
    try {
      await client.query("BEGIN READ ONLY");
      const result = await checkPrivileges(client);
      await client.query("COMMIT");
      expect(result.ok).to.equal(false);
    } finally {
      await client.end();
    }
    const { rows } = await admin.query<{ rolcreatedb: boolean; rolcreaterole: boolean }>(
      "SELECT rolcreatedb, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = $1",
      [roles.plain],
    );
    expect(rows).to.deep.equal([{ rolcreatedb: false, rolcreaterole: false }]);
  });
});
