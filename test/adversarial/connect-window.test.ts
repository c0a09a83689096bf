import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { setFaultHook } from "../../runtime/fault-points.js";
import {
  createDatabase,
  dropPendingDatabase,
  ensureDatabase,
  inspectDatabase,
} from "../../services/postgres/objects/database.js";
import {
  ADMIN_KINDS,
  connectAdmin,
  newTenant,
  provision,
  removeTenant,
  withClient,
} from "../../services/postgres/objects/fixture.test.js";
import { pendingDatabaseName } from "../../services/postgres/ownership.js";
import { generatePassword } from "../../services/postgres/passwords.js";
import { quoteIdent, quoteLiteral } from "../../services/postgres/sql.js";
import { postgres, type PostgresServer } from "../harness/postgres.js";
import { eventually } from "../support/eventually.js";

/** A role that tries to get into the new database: who, and every attempt that got in. */
interface Intruder {
  readonly label: string;
  readonly user: string;
  readonly password: string;
}

/**
 * Issue 9, "no connect window": between CREATE DATABASE and the REVOKE of PUBLIC's CONNECT,
 * any role could connect, and a session opened then survived. Intruders (a plain LOGIN role
 * and another tenant's app role) try to connect in a loop while the operator is held inside
 * the creation (fault points): none ever gets in, under the final or the pending name.
 */
for (const kind of ADMIN_KINDS) {
  describe(`the connect window of a new database (${kind} admin)`, function () {
    this.timeout(120_000);
    let srv: PostgresServer;
    const neighbour = newTenant("neighbour");
    const victim = newTenant("victim");
    const crashed = newTenant("crashed");
    const abandoned = newTenant("abandoned");
    const loginRole: Intruder = {
      label: "a plain LOGIN role",
      user: `intruder_${randomBytes(4).toString("hex")}`,
      password: generatePassword(),
    };

    before(async () => {
      srv = await postgres();
      await provision(srv, kind, neighbour);
      await withClient(srv.connect(), (db) =>
        db.query(`CREATE ROLE ${quoteIdent(loginRole.user)} LOGIN PASSWORD ${quoteLiteral(loginRole.password)}`),
      );
    });

    after(async () => {
      setFaultHook(undefined);
      for (const tenant of [victim, neighbour, crashed, abandoned]) await removeTenant(srv, tenant.names);
      await withClient(srv.connect(), async (db) => {
        for (const tenant of [victim, crashed, abandoned]) {
          await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(pendingDatabaseName(tenant.marker))}`);
        }
        await db.query(`DROP ROLE IF EXISTS ${quoteIdent(loginRole.user)}`);
      });
    });

    it("lets no other role connect, under either name, while the database is being created, and leaves no session of theirs", async () => {
      const intruders: Intruder[] = [
        loginRole,
        { label: "another tenant's app role", user: neighbour.names.app, password: neighbour.appPassword },
      ];
      const targets = [victim.names.database, pendingDatabaseName(victim.marker)];
      const attempts = new Map<string, number>();
      const entries: string[] = [];
      const sessions: pg.Client[] = [];
      let creating = true;

      const knock = async (intruder: Intruder, database: string): Promise<void> => {
        while (creating) {
          try {
            const client = await srv.connect({ user: intruder.user, password: intruder.password, database });
            client.on("error", () => undefined);
            sessions.push(client);
            entries.push(`${intruder.label} connected to "${database}"`);
          } catch {
            // Refused: what must happen every time.
          }
          const key = `${intruder.user}@${database}`;
          attempts.set(key, (attempts.get(key) ?? 0) + 1);
        }
      };
      const fewestAttempts = (): number =>
        Math.min(...intruders.flatMap((i) => targets.map((d) => attempts.get(`${i.user}@${d}`) ?? 0)));
      const everyoneTried = (times: number): void => {
        if (fewestAttempts() < times) throw new Error(`an intruder tried fewer than ${times} times`);
      };

      // Hold the operator inside each window until every intruder has knocked on every name three more times.
      const windowsHeld: string[] = [];
      setFaultHook(async (point) => {
        const from = fewestAttempts();
        await eventually(() => everyoneTried(from + 3), 60_000, 20);
        windowsHeld.push(point);
      });
      const loops = intruders.flatMap((intruder) => targets.map((database) => knock(intruder, database)));
      try {
        await eventually(() => everyoneTried(1), 60_000, 20);
        const admin = await connectAdmin(srv, kind);
        try {
          await createDatabase(admin, victim.names.database, {}, victim.marker);
        } finally {
          await admin.end();
        }
      } finally {
        setFaultHook(undefined);
        creating = false;
        await Promise.all(loops);
      }

      expect(windowsHeld).to.include.members(["database-created", "database-finished"]);
      const surviving = await withClient(srv.connect(), async (db) => {
        const { rows } = await db.query<{ user: string }>(
          "SELECT a.usename AS user FROM pg_catalog.pg_stat_activity a WHERE a.datname = $1",
          [victim.names.database],
        );
        return rows.map((row) => row.user);
      });
      for (const session of sessions) await session.end().catch(() => undefined);
      expect(entries, "connections that got in").to.deep.equal([]);
      expect(surviving, "sessions on the new database").to.deep.equal([]);
    });

    /** Runs createDatabase as `kind` and stops it dead at "database-created", as a SIGKILL would. */
    const dieAfterCreate = async (tenant: typeof crashed): Promise<void> => {
      setFaultHook((point) => Promise.reject(new Error(`died at ${point}`)));
      try {
        const err = await withClient(connectAdmin(srv, kind), (admin) =>
          createDatabase(admin, tenant.names.database, {}, tenant.marker),
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(String(err)).to.include("died at database-created");
      } finally {
        setFaultHook(undefined);
      }
    };

    it("leaves a crashed creation closed to everyone under its pending name, and finishes it as its own on the next call", async () => {
      await dieAfterCreate(crashed);
      const pending = pendingDatabaseName(crashed.marker);
      const refusal = await srv
        .connect({ user: neighbour.names.app, password: neighbour.appPassword, database: pending })
        .then(
          async (client) => {
            await client.end();
            return "connected";
          },
          (err: { code?: string }) => err.code,
        );
      expect(refusal, "SQLSTATE of the refused connection").to.equal("55000");

      await withClient(connectAdmin(srv, kind), async (admin) => {
        expect(await ensureDatabase(admin, crashed.names.database, {}, crashed.marker)).to.equal("created");
        expect(await inspectDatabase(admin, crashed.names.database, crashed.marker)).to.deep.equal({ state: "ours" });
        expect(await inspectDatabase(admin, pending, crashed.marker)).to.deep.equal({ state: "missing" });
      });
    });

    it("drops the pending database of a crashed creation when the resource goes away", async () => {
      await dieAfterCreate(abandoned);
      await withClient(connectAdmin(srv, kind), async (admin) => {
        expect(await dropPendingDatabase(admin, abandoned.marker)).to.equal("dropped");
        expect(await dropPendingDatabase(admin, abandoned.marker)).to.equal("missing");
      });
    });
  });
}
