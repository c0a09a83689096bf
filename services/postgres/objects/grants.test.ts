import { expect } from "chai";
import type pg from "pg";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { PostgresOperationError } from "../errors.js";
import { ForeignObjectError } from "../ownership.js";
import { quoteIdent } from "../sql.js";
import { ensureDatabase } from "./database.js";
import { applyGrants, checkGrants } from "./grants.js";
import { ensureRole } from "./role.js";
import {
  ADMIN_KINDS,
  type TestTenant,
  connectAdmin,
  connectAs,
  newTenant,
  provision,
  removeTenant,
  withClient,
} from "./fixture.test.js";

for (const kind of ADMIN_KINDS) {
  describe(`grant set with the ${kind} admin`, () => {
    let srv: PostgresServer;
    let tenant: TestTenant;
    let tenantAdmin: pg.Client;
    let tenantSuperuser: pg.Client;
    const foreign = newTenant("foreign");

    async function aclState(): Promise<unknown> {
      const { rows } = await tenantSuperuser.query(
        `SELECT (SELECT datacl::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AS db,
                (SELECT nspacl::text FROM pg_catalog.pg_namespace WHERE nspname = 'public') AS public,
                ARRAY(SELECT defaclacl::text FROM pg_catalog.pg_default_acl ORDER BY defaclobjtype) AS defaults,
                ARRAY(SELECT relacl::text FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
                       ORDER BY relname) AS relations`,
      );
      return rows[0];
    }

    before(async () => {
      srv = await postgres();
      tenant = newTenant("grants");
      await provision(srv, kind, tenant);
      tenantAdmin = await connectAdmin(srv, kind, tenant.names.database);
      tenantSuperuser = await srv.connect({ database: tenant.names.database });
      await withClient(connectAs(srv, tenant, "app"), (app) => app.query("CREATE TABLE public.audit (id integer)"));
    });
    after(async () => {
      await tenantAdmin.end();
      await tenantSuperuser.end();
      await removeTenant(srv, tenant.names);
      await removeTenant(srv, foreign.names);
    });

    it("finds nothing missing with catalog reads only (it runs in a read-only transaction)", async () => {
      await tenantAdmin.query("BEGIN READ ONLY");
      try {
        expect(await checkGrants(tenantAdmin, tenant.names)).to.deep.equal([]);
      } finally {
        await tenantAdmin.query("COMMIT");
      }
    });

    it("changes nothing when applied again", async () => {
      const before = await aclState();
      await applyGrants(tenantAdmin, tenant.names, tenant.marker);
      expect(await aclState()).to.deep.equal(before);
    });

    it("reports each revoked privilege and grants it back", async () => {
      const { database, app, inspector } = tenant.names;
      await tenantSuperuser.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM ${quoteIdent(inspector)}`);
      await tenantSuperuser.query(`REVOKE CREATE ON SCHEMA public FROM ${quoteIdent(app)}`);
      await tenantSuperuser.query(`GRANT TEMPORARY ON DATABASE ${quoteIdent(database)} TO PUBLIC`);
      await tenantSuperuser.query(
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(app)} REVOKE SELECT ON TABLES FROM ${quoteIdent(inspector)}`,
      );
      await withClient(connectAs(srv, tenant, "app"), (client) =>
        client.query(`REVOKE SELECT ON public.audit FROM ${quoteIdent(inspector)}`),
      );
      const expected = [
        `PUBLIC still has TEMPORARY on database "${database}"`,
        `"${app}" lacks CREATE on schema public`,
        `"${inspector}" lacks CONNECT on database "${database}"`,
        `"${inspector}" cannot SELECT public."audit"`,
        `no default SELECT for "${inspector}" on tables created by "${app}"`,
      ];
      if (kind === "limitedAdmin") {
        // By the admin itself: on PostgreSQL 16+ a superuser's REVOKE would hit the server's own ADMIN grant,
        // on which the admin's grant depends.
        await tenantAdmin.query(`REVOKE ${quoteIdent(app)} FROM ${quoteIdent(srv.limitedAdmin.user)}`);
        expected.unshift(`admin "${srv.limitedAdmin.user}" is not a member of "${app}"`);
      }
      expect(await checkGrants(tenantAdmin, tenant.names)).to.deep.equal(expected);
      await applyGrants(tenantAdmin, tenant.names, tenant.marker);
      expect(await checkGrants(tenantAdmin, tenant.names)).to.deep.equal([]);
      await withClient(connectAs(srv, tenant, "inspector"), (client) => client.query("SELECT id FROM public.audit"));
    });

    it("refuses to work anywhere but in the tenant database", async () => {
      await withClient(connectAdmin(srv, kind), async (maintenance) => {
        const err = await checkGrants(maintenance, tenant.names).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(PostgresOperationError);
        expect((err as Error).message).to.include('the client is connected to "postgres"');
      });
    });

    it("grants nothing to a foreign role that has a tenant role's name", async () => {
      const { database, app, inspector } = foreign.names;
      await withClient(connectAdmin(srv, kind), async (admin) => {
        await ensureDatabase(admin, database, {}, foreign.marker);
        await ensureRole(admin, app, foreign.appPassword, foreign.marker);
      });
      await withClient(srv.connect(), (su) => su.query(`CREATE ROLE ${quoteIdent(inspector)} LOGIN`));
      const err = await withClient(connectAdmin(srv, kind, database), (db) =>
        applyGrants(db, foreign.names, foreign.marker).catch((e: unknown) => e),
      );
      expect(err).to.be.instanceOf(ForeignObjectError).with.property("objectName", inspector);
      const { rows } = await tenantSuperuser.query(
        "SELECT pg_catalog.has_database_privilege($1, $2, 'CONNECT') AS connect, pg_catalog.pg_has_role($3, $1, 'MEMBER') AS member",
        [inspector, database, srv[kind].user],
      );
      expect(rows).to.deep.equal([{ connect: false, member: kind === "superuser" }]);
    });
  });
}
