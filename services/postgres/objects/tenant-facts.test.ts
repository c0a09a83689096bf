import { expect } from "chai";
import { type PostgresServer, postgres } from "../../../test/harness/postgres.js";
import { quoteIdent } from "../sql.js";
import { databaseFromFact } from "./database.js";
import { databaseGrantDrift } from "./grants.js";
import { missingHoldsFromFact } from "./membership.js";
import { passwordMatchesFact, roleFromFact } from "./role.js";
import { readTenantFacts } from "./tenant-facts.js";
import { ADMIN_KINDS, connectAdmin, newTenant, provision, removeTenant, withClient } from "./fixture.test.js";

for (const kind of ADMIN_KINDS) {
  describe(`combined read of a tenant with the ${kind} admin`, () => {
    let srv: PostgresServer;
    const tenant = newTenant("facts");
    const other = newTenant("facts");
    const readsPasswords = kind === "superuser";
    const read = () => withClient(connectAdmin(srv, kind), (db) => readTenantFacts(db, tenant.names, readsPasswords));

    before(async () => {
      srv = await postgres();
      await provision(srv, kind, tenant);
    });

    after(async () => {
      await removeTenant(srv, tenant.names);
    });

    it("shows a provisioned tenant in place in one statement, and each kind of shared-catalog drift", async () => {
      const facts = await read();
      expect(databaseFromFact(facts.database, tenant.marker).state).to.equal("ours");
      expect(databaseFromFact(facts.database, other.marker).state).to.equal("foreign");
      expect(roleFromFact(facts.app, tenant.marker)).to.deep.equal({ state: "ours", drift: [] });
      expect(roleFromFact(facts.inspector, tenant.marker)).to.deep.equal({ state: "ours", drift: [] });
      expect(await passwordMatchesFact(facts.app, tenant.appPassword)).to.equal(readsPasswords ? true : undefined);
      expect(await passwordMatchesFact(facts.app, tenant.inspectorPassword)).to.equal(
        readsPasswords ? false : undefined,
      );
      expect(missingHoldsFromFact(facts.adminHolds, tenant.names)).to.deep.equal([]);
      expect(databaseGrantDrift(facts.databasePrivileges, tenant.names)).to.deep.equal([]);

      const { app, inspector, database } = tenant.names;
      await withClient(srv.connect(), async (db) => {
        await db.query(`ALTER ROLE ${quoteIdent(inspector)} CREATEDB`);
        await db.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM ${quoteIdent(app)}`);
        await db.query(`GRANT TEMPORARY ON DATABASE ${quoteIdent(database)} TO PUBLIC`);
      });
      const drifted = await read();
      expect(roleFromFact(drifted.inspector, tenant.marker)).to.deep.equal({ state: "ours", drift: ["NOCREATEDB"] });
      expect(databaseGrantDrift(drifted.databasePrivileges, tenant.names)).to.deep.equal([
        `PUBLIC still has TEMPORARY on database "${database}"`,
        `"${app}" lacks CONNECT on database "${database}"`,
      ]);
    });

    it("reads a tenant that does not exist yet as missing, without failing", async () => {
      const facts = await withClient(connectAdmin(srv, kind), (db) => readTenantFacts(db, other.names, readsPasswords));
      expect(facts.database).to.equal(null);
      expect(roleFromFact(facts.app, other.marker)).to.deep.equal({ state: "missing" });
      expect(missingHoldsFromFact(facts.adminHolds, other.names)).to.have.length(2);
      expect(databaseGrantDrift(facts.databasePrivileges, other.names)).to.deep.equal([
        `database "${other.names.database}" does not exist`,
      ]);
    });
  });
}
