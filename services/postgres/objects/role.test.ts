import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { UserFixableError } from "../errors.js";
import { ForeignObjectError, markerFor } from "../ownership.js";
import { generatePassword } from "../passwords.js";
import { scramSha256Verifier, verifierMatches } from "../scram.js";
import { quoteIdent, quoteLiteral } from "../sql.js";
import { dropRole, ensureRole, inspectRole, type LoginProbe, rolePasswordInSync, setRolePassword } from "./role.js";
import { ADMIN_KINDS, type TestTenant, connectAdmin, newTenant, provision, removeTenant } from "./fixture.test.js";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (err: unknown) => err as Error,
  );
}

for (const kind of ADMIN_KINDS) {
  describe(`role unit with the ${kind} admin`, () => {
    let srv: PostgresServer;
    let admin: pg.Client;
    let superuser: pg.Client;
    let tenant: TestTenant;
    let probe: LoginProbe | undefined;
    const foreign = newTenant("foreign");

    async function storedVerifier(role: string): Promise<string | null> {
      const { rows } = await superuser.query<{ rolpassword: string | null }>(
        "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1",
        [role],
      );
      return rows[0]!.rolpassword;
    }

    before(async () => {
      srv = await postgres();
      tenant = newTenant("roles");
      await provision(srv, kind, tenant);
      admin = await connectAdmin(srv, kind);
      superuser = await srv.connect();
      // Only the limited admin needs a login probe; the superuser must not fall back to one.
      probe =
        kind === "superuser"
          ? undefined
          : async (user, password) => {
              const client = await srv.connect({ user, password, database: tenant.names.database });
              await client.end();
            };
    });
    after(async () => {
      await admin.end();
      await superuser.end();
      await removeTenant(srv, tenant.names);
      await removeTenant(srv, foreign.names);
    });

    it("creates a marked LOGIN role with nothing more and a SCRAM verifier of its password", async () => {
      const { rows } = await superuser.query(
        `SELECT r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
                pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
           FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
        [tenant.names.app],
      );
      expect(rows[0]).to.deep.equal({
        rolcanlogin: true,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        comment: markerFor(tenant.marker.namespace, tenant.marker.name),
      });
      const verifier = await storedVerifier(tenant.names.app);
      expect(verifier).to.match(/^SCRAM-SHA-256\$4096:/);
      expect(await verifierMatches(verifier!, tenant.appPassword)).to.equal(true);
    });

    it("sees a password changed on the server and puts the Secret's password back", async () => {
      const role = tenant.names.inspector;
      expect(await rolePasswordInSync(admin, role, tenant.inspectorPassword, probe)).to.equal(true);
      await superuser.query(
        `ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(await scramSha256Verifier(generatePassword()))}`,
      );
      expect(await rolePasswordInSync(admin, role, tenant.inspectorPassword, probe)).to.equal(false);
      await setRolePassword(admin, role, tenant.inspectorPassword, tenant.marker);
      expect(await rolePasswordInSync(admin, role, tenant.inspectorPassword, probe)).to.equal(true);
    });

    it("puts drifted role attributes back", async () => {
      await superuser.query(`ALTER ROLE ${quoteIdent(tenant.names.app)} CREATEDB NOLOGIN`);
      expect(await inspectRole(admin, tenant.names.app, tenant.marker)).to.deep.equal({
        state: "ours",
        drift: ["LOGIN", "NOCREATEDB"],
      });
      expect(await ensureRole(admin, tenant.names.app, "unused", tenant.marker)).to.equal("repaired");
      expect(await inspectRole(admin, tenant.names.app, tenant.marker)).to.deep.equal({ state: "ours", drift: [] });
      expect(await ensureRole(admin, tenant.names.app, "unused", tenant.marker)).to.equal("present");
    });

    it("refuses to drop a role that still has privileges somewhere, naming where, and drops nothing", async () => {
      const err = await rejection(dropRole(admin, tenant.names.app, tenant.marker));
      expect(err).to.be.instanceOf(UserFixableError).with.property("reason", "DependentObjects");
      expect(err.message).to.include(tenant.names.database).and.include("REASSIGN OWNED BY");
      expect(await inspectRole(admin, tenant.names.app, tenant.marker)).to.have.property("state", "ours");
    });

    it("leaves an unmarked role with the target name alone: no password, attribute or drop", async () => {
      const role = foreign.names.app;
      await superuser.query(
        `CREATE ROLE ${quoteIdent(role)} LOGIN CREATEDB PASSWORD ${quoteLiteral(await scramSha256Verifier("theirs"))}`,
      );
      const before = await storedVerifier(role);
      for (const attempt of [
        () => ensureRole(admin, role, "ours", foreign.marker),
        () => setRolePassword(admin, role, "ours", foreign.marker),
        () => dropRole(admin, role, foreign.marker),
      ]) {
        const err = await rejection(attempt());
        expect(err).to.be.instanceOf(ForeignObjectError);
        expect(err.message).to.include(`role "${role}" already exists and was not created by Kompost`);
      }
      expect(await storedVerifier(role)).to.equal(before);
      const { rows } = await superuser.query("SELECT rolcreatedb FROM pg_catalog.pg_roles WHERE rolname = $1", [role]);
      expect(rows).to.deep.equal([{ rolcreatedb: true }]);
    });

    if (kind === "limitedAdmin") {
      it("asks for a login probe when the admin cannot read pg_authid", async () => {
        const err = await rejection(rolePasswordInSync(admin, tenant.names.app, tenant.appPassword));
        expect(err.message).to.match(/cannot read pg_authid and no login probe was given/);
      });
    }
  });
}
