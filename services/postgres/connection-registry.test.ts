import { expect } from "chai";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import winston from "winston";
import { TcpProxy } from "../../runtime/testing/tcp-proxy.js";
import { freePort } from "../../test/harness/ports.js";
import { instanceSpecOf, proxiedSpecOf } from "../../test/harness/instance-spec.js";
import type { PostgresServer } from "../../test/harness/postgres.js";
import { postgres } from "../../test/harness/postgres.js";
import { eventually } from "../../test/support/eventually.js";
import { ConnectionError } from "./connection-failures.js";
import { ConnectionRegistry } from "./connection-registry.js";
import type { ConnectionSettings, InstanceConnectionSpec } from "./connection-spec.js";
import { instanceKeyString, type InstanceKey } from "./instance-key.js";

/** A winston logger that keeps every entry, to look at what the registry logged. */
function capturingLogger(): { logger: winston.Logger; entries: Record<string, unknown>[]; text(): string } {
  const entries: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      entries.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = winston.createLogger({
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, entries, text: () => entries.map((e) => JSON.stringify(e)).join("\n") };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectionError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(ConnectionError);
    return err as ConnectionError;
  }
  throw new Error("expected a ConnectionError, but the call succeeded");
}

const backendPid = async (client: pg.ClientBase): Promise<number> =>
  (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

describe("the connection registry", () => {
  const settings: Partial<ConnectionSettings> = { connectionTimeoutMillis: 2_000 };
  const instance: InstanceKey = { kind: "PostgresInstance", namespace: "team-a", name: "main" };
  const suffix = randomBytes(4).toString("hex");
  let srv: PostgresServer;
  let registry: ConnectionRegistry;
  let log: ReturnType<typeof capturingLogger>;

  before(async () => (srv = await postgres()));
  beforeEach(() => {
    log = capturingLogger();
    registry = new ConnectionRegistry({ settings, logger: log.logger });
  });
  afterEach(async () => registry.closeAll());

  const spec = (overrides: Partial<InstanceConnectionSpec> = {}): InstanceConnectionSpec =>
    instanceSpecOf(srv, overrides);

  const throughProxy = (proxy: TcpProxy): InstanceConnectionSpec => proxiedSpecOf(srv, proxy.port);

  async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await srv.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  async function backendExists(pid: number): Promise<boolean> {
    return asAdmin(async (admin) => {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = $1", [pid]);
      return rowCount === 1;
    });
  }

  async function waitUntilGone(pid: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (!(await backendExists(pid))) return;
      await sleep(50);
    }
    throw new Error(`backend ${pid} is still connected`);
  }

  describe("keys", () => {
    it("keeps a PostgresInstance and a PostgresClusterInstance of the same name apart", async () => {
      const cluster: InstanceKey = { kind: "PostgresClusterInstance", name: "main" };
      expect(instanceKeyString(instance)).to.equal("PostgresInstance/team-a/main");
      expect(instanceKeyString(cluster)).to.equal("PostgresClusterInstance/main");
      const limited = spec({ username: srv.limitedAdmin.user, password: srv.limitedAdmin.password });
      const userOf = async (key: InstanceKey, s: InstanceConnectionSpec): Promise<string> =>
        registry.withClient(key, s, async (c) => (await c.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u);
      expect(await userOf(instance, spec())).to.equal(srv.superuser.user);
      expect(await userOf(cluster, limited)).to.equal(srv.limitedAdmin.user);
      expect(await userOf(instance, spec())).to.equal(srv.superuser.user);
    });
  });

  describe("withClient", () => {
    it("connects to the maintenance database as application kompost with a statement timeout", async () => {
      const row = await registry.withClient(instance, spec(), async (c) => {
        const { rows } = await c.query<{ db: string; app: string; timeout: string }>(
          "SELECT current_database() AS db, current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout",
        );
        return rows[0]!;
      });
      expect(row).to.deep.equal({ db: "postgres", app: "kompost", timeout: "30s" });
    });

    it("reuses the pooled connection for calls one after another", async () => {
      const first = await registry.withClient(instance, spec(), backendPid);
      const second = await registry.withClient(instance, spec(), backendPid);
      expect(second).to.equal(first);
    });

    it("never opens more connections than its maximum", async () => {
      const small = new ConnectionRegistry({ settings: { ...settings, maxConnections: 2 } });
      try {
        const pids = await Promise.all(
          Array.from({ length: 6 }, () =>
            small.withClient(instance, spec(), async (c) => {
              const pid = await backendPid(c);
              await sleep(30); // hold the client so that the calls overlap
              return pid;
            }),
          ),
        );
        expect(pids).to.have.length(6);
        expect(new Set(pids).size).to.be.at.most(2);
      } finally {
        await small.closeAll();
      }
    });

    it("gives up waiting for a free connection after the connect timeout, saying the pool is busy", async () => {
      const single = new ConnectionRegistry({ settings: { maxConnections: 1, connectionTimeoutMillis: 300 } });
      try {
        const waited = await single.withClient(instance, spec(), () =>
          rejection(single.withClient(instance, spec(), backendPid)),
        );
        expect(waited.reason).to.equal("Timeout");
        expect(waited.message).to.include("all 1 connections were busy and none came free within 300 ms");
      } finally {
        await single.closeAll();
      }
    });

    it("cancels a statement that runs longer than the statement timeout", async () => {
      const impatient = new ConnectionRegistry({ settings: { ...settings, statementTimeoutMillis: 200 } });
      try {
        const error = await impatient
          .withClient(instance, spec(), (c) => c.query("SELECT pg_sleep(10)"))
          .then(
            () => undefined,
            (err: unknown) => err as { code?: string },
          );
        expect(error?.code).to.equal("57014"); // query_canceled
      } finally {
        await impatient.closeAll();
      }
    });

    it("discards a client that the callback failed with, so an aborted transaction never leaks", async () => {
      let failedPid = 0;
      const failing = registry.withClient(instance, spec(), async (c) => {
        failedPid = await backendPid(c);
        await c.query("BEGIN");
        await c.query("SELECT 1/0");
      });
      await failing.then(
        () => expect.fail("expected division by zero"),
        (err: { code?: string }) => expect(err.code).to.equal("22012"),
      );
      const next = await registry.withClient(instance, spec(), async (c) => {
        await c.query("SELECT 1"); // would fail with 25P02 inside the aborted transaction
        return backendPid(c);
      });
      expect(next).not.to.equal(failedPid);
      await waitUntilGone(failedPid);
    });

    it("survives its connection dying while the callback holds it", async () => {
      const pid = await registry.withClient(instance, spec(), async (c) => {
        const own = await backendPid(c);
        const ended = new Promise((resolve) => c.once("end", resolve));
        await asAdmin((admin) => admin.query("SELECT pg_terminate_backend($1)", [own]));
        await ended; // the socket error was emitted while the client was checked out
        return own;
      });
      const next = await registry.withClient(instance, spec(), backendPid);
      expect(next).not.to.equal(pid);
    });

    it("reports an unparsable CA as a ConnectionError and opens no pool", async () => {
      const s = spec({ ssl: { enabled: true, verify: "verify_ca", ca: "garbage" } });
      const error = await rejection(registry.withClient(instance, s, backendPid));
      expect(error.reason).to.equal("InvalidTLSConfig");
      expect(error.message)
        .to.include("PostgresInstance/team-a/main")
        .and.to.include("ssl.ca is not a PEM certificate");
      expect(registry.has(instance)).to.equal(false);
    });

    it("reports a closed port with the instance, the database and the network's words", async () => {
      const port = await freePort();
      const error = await rejection(registry.withClient(instance, spec({ hostname: "127.0.0.1", port }), backendPid));
      expect(error.reason).to.equal("Unreachable");
      expect(error.message).to.equal(
        `while connecting to database "postgres" of PostgresInstance/team-a/main as "${srv.superuser.user}": connect ECONNREFUSED 127.0.0.1:${port}`,
      );
    });
  });

  describe("a change of the connection spec", () => {
    const role = `kompost_e_rotate_${suffix}`;
    const oldPassword = randomBytes(18).toString("base64url");
    const newPassword = randomBytes(18).toString("base64url");

    before(() => asAdmin((a) => a.query(`CREATE ROLE ${role} LOGIN PASSWORD '${oldPassword}'`)));
    after(() => asAdmin((a) => a.query(`DROP ROLE IF EXISTS ${role}`)));

    it("rebuilds the pool with the new password and closes the old pool", async () => {
      const asRole = (password: string): InstanceConnectionSpec => spec({ username: role, password });
      const oldPid = await registry.withClient(instance, asRole(oldPassword), backendPid);
      await asAdmin((a) => a.query(`ALTER ROLE ${role} PASSWORD '${newPassword}'`));

      // The old pool still holds an authenticated idle connection: only a rebuilt pool can fail here.
      const wrong = await rejection(registry.withClient(instance, asRole("wrong-password-1234"), backendPid));
      expect(wrong.reason).to.equal("AuthenticationFailed");
      expect(wrong.sqlState).to.equal("28P01");
      expect(wrong.message).not.to.include("wrong-password-1234");

      const newPid = await registry.withClient(instance, asRole(newPassword), backendPid);
      expect(newPid).not.to.equal(oldPid);
      await waitUntilGone(oldPid);
      expect(log.entries.map((e) => e.message)).to.include(
        "Rebuilt PostgreSQL connection pool after a connection change",
      );
      for (const secret of [oldPassword, newPassword, "wrong-password-1234"]) expect(log.text()).not.to.include(secret);
    });
  });

  describe("withTenantClient", () => {
    const database = `kompost_e_tenant_${suffix}`;
    before(() => asAdmin((a) => a.query(`CREATE DATABASE ${database}`)));
    after(() => asAdmin((a) => a.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)));

    it("connects into the given database and ends the connection afterwards", async () => {
      const [db, pid] = await registry.withTenantClient(instance, spec(), database, async (c) => {
        const { rows } = await c.query<{ db: string }>("SELECT current_database() AS db");
        return [rows[0]!.db, await backendPid(c)] as const;
      });
      expect(db).to.equal(database);
      expect(await backendExists(pid)).to.equal(false);
      expect(registry.has(instance)).to.equal(false); // no pool for one-off tenant work
    });

    it("ends the connection when the callback fails", async () => {
      let pid = 0;
      const failing = registry.withTenantClient(instance, spec(), database, async (c) => {
        pid = await backendPid(c);
        throw new Error("callback failed");
      });
      await failing.then(
        () => expect.fail("expected the callback's error"),
        (err: Error) => expect(err.message).to.equal("callback failed"),
      );
      expect(await backendExists(pid)).to.equal(false);
    });

    it("reports a database that does not exist in the server's words", async () => {
      const error = await rejection(registry.withTenantClient(instance, spec(), `${database}_missing`, backendPid));
      expect(error.sqlState).to.equal("3D000");
      expect(error.message).to.include(`while connecting to database "${database}_missing"`);
      expect(error.message).to.include(`database "${database}_missing" does not exist`);
    });

    it("never has more clients open into tenant databases of one instance than its maximum, and queues the rest", async () => {
      const small = new ConnectionRegistry({ settings: { ...settings, maxConnections: 2 } });
      let open = 0;
      let peak = 0;
      try {
        const done = await Promise.all(
          Array.from({ length: 6 }, () =>
            small.withTenantClient(instance, spec(), "postgres", async (c) => {
              peak = Math.max(peak, ++open);
              await backendPid(c);
              await sleep(30); // hold the client so that the calls overlap
              open--;
              return true;
            }),
          ),
        );
        expect(done).to.deep.equal([true, true, true, true, true, true]);
        expect(peak).to.equal(2);
      } finally {
        await small.closeAll();
      }
    });
  });

  describe("close", () => {
    it("closes one instance's pool and ends its connections, leaving the others", async () => {
      const other: InstanceKey = { kind: "PostgresClusterInstance", name: "other" };
      const pid = await registry.withClient(instance, spec(), backendPid);
      const otherPid = await registry.withClient(other, spec(), backendPid);
      await registry.close(instance);
      expect(registry.has(instance)).to.equal(false);
      expect(registry.has(other)).to.equal(true);
      await waitUntilGone(pid);
      expect(await backendExists(otherPid)).to.equal(true);
    });
  });

  describe("admin sessions", () => {
    const database = `pinned_${suffix}`;
    const sessionSettings =
      "SELECT pg_catalog.current_setting('search_path') AS search_path, pg_catalog.current_setting('lock_timeout') AS lock_timeout";
    type SessionSettings = { search_path: string; lock_timeout: string };
    const readSettings = async (c: pg.ClientBase): Promise<SessionSettings> =>
      (await c.query<SessionSettings>(sessionSettings)).rows[0]!;

    before(async () =>
      asAdmin(async (admin) => {
        await admin.query(`CREATE DATABASE ${database}`);
        await admin.query(`ALTER DATABASE ${database} SET search_path = public, pg_catalog`);
        await admin.query(`ALTER DATABASE ${database} SET lock_timeout = 0`);
        for (const db of [database, "postgres"]) {
          await admin.query(`ALTER ROLE ${srv.limitedAdmin.user} IN DATABASE ${db} SET search_path = public`);
          await admin.query(`ALTER ROLE ${srv.limitedAdmin.user} IN DATABASE ${db} SET lock_timeout = '1h'`);
        }
      }),
    );
    after(async () =>
      asAdmin(async (admin) => {
        await admin.query(`ALTER ROLE ${srv.limitedAdmin.user} IN DATABASE postgres RESET ALL`);
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      }),
    );
    const limited = (): InstanceConnectionSpec =>
      spec({ username: srv.limitedAdmin.user, password: srv.limitedAdmin.password });

    it("pin search_path to pg_catalog and a short lock_timeout, whatever ALTER DATABASE or ALTER ROLE ... SET say", async () => {
      const expected = { search_path: "pg_catalog,pg_temp", lock_timeout: "3s" };
      const pooled = await registry.withClient(instance, limited(), readSettings);
      expect(pooled).to.deep.equal(expected);
      const tenant = await registry.withTenantClient(instance, limited(), database, readSettings);
      expect(tenant).to.deep.equal(expected);
    });

    it("keep the pinned settings on a pooled session after RESET ALL", async () => {
      await registry.withClient(instance, limited(), async (c) => c.query("RESET ALL"));
      const after = await registry.withClient(instance, limited(), readSettings);
      expect(after).to.deep.equal({ search_path: "pg_catalog,pg_temp", lock_timeout: "3s" });
    });

    it("never resolve to an operator a tenant planted in public, even where pg_catalog has no exact match", async () => {
      await asAdmin(async (admin) => {
        await admin.query(`ALTER DATABASE ${database} RESET search_path`);
      });
      const tenantDb = await srv.connect({ database });
      try {
        await tenantDb.query(
          "CREATE FUNCTION public.planted(oid, int4) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted operator ran'; END $$",
        );
        await tenantDb.query("CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = int4, FUNCTION = public.planted)");
        // What an unpinned session sees: the planted operator wins over pg_catalog's inexact one.
        const unpinned = await tenantDb.query("SELECT 0::pg_catalog.oid = 0 AS equal").then(
          () => "no error",
          (err: Error) => err.message,
        );
        expect(unpinned).to.equal("planted operator ran");
      } finally {
        await tenantDb.end();
      }
      const pinned = await registry.withTenantClient(instance, limited(), database, async (c) => {
        return (await c.query<{ equal: boolean }>("SELECT 0::pg_catalog.oid = 0 AS equal")).rows[0]!.equal;
      });
      expect(pinned).to.equal(true);
    });
  });

  describe("a server that never answers", () => {
    const hole: InstanceKey = { kind: "PostgresInstance", namespace: "team-b", name: "hole" };
    let server: net.Server;
    let sockets: net.Socket[];

    /** Accepts TCP connections and never says a word on them, like a black-holed PostgreSQL. */
    beforeEach(async () => {
      sockets = [];
      server = net.createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    });
    afterEach(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const holeSpec = (): InstanceConnectionSpec =>
      spec({ hostname: "127.0.0.1", port: (server.address() as net.AddressInfo).port, ssl: { enabled: false } });

    it("is given up at once for the cool-down after one connect timed out, while other instances work", async () => {
      const patient = new ConnectionRegistry({
        settings: { connectionTimeoutMillis: 500, unreachableCooldownMillis: 120_000 },
      });
      try {
        const began = Date.now();
        const first = await rejection(patient.withClient(hole, holeSpec(), backendPid));
        expect(first.reason).to.equal("Timeout");
        expect(first.retryAfterMs, "try again when the cool-down, counted from the connect, ends").to.be.within(
          120_000 - (Date.now() - began),
          120_000 - 500,
        );
        expect(sockets).to.have.length(1);
        const pooled = await rejection(patient.withClient(hole, holeSpec(), backendPid));
        const tenant = await rejection(patient.withTenantClient(hole, holeSpec(), "app", backendPid));
        for (const again of [pooled, tenant]) {
          expect(again.reason).to.equal("Timeout");
          expect(again.message).to.include("PostgresInstance/team-b/hole").and.include("within the last 120000 ms");
          expect(again.retryAfterMs).to.be.within(1, 120_000);
        }
        expect(sockets, "no connection was tried during the cool-down").to.have.length(1);
        expect(await patient.withClient(instance, spec(), backendPid)).to.be.a("number");
        patient.reachable(hole);
        await rejection(patient.withClient(hole, holeSpec(), backendPid));
        expect(sockets, "reachable() ends the cool-down").to.have.length(2);
      } finally {
        await patient.closeAll();
      }
    });

    it("counts the cool-down from when the connect began: after one that hung for it, the next tries at once", async () => {
      const brief = new ConnectionRegistry({
        settings: { connectionTimeoutMillis: 500, unreachableCooldownMillis: 500 },
      });
      try {
        const first = await rejection(brief.withClient(hole, holeSpec(), backendPid));
        expect(first.retryAfterMs, "the hung connect waited the whole cool-down").to.equal(1);
        const second = await rejection(brief.withClient(hole, holeSpec(), backendPid));
        expect(second.message, "the server was tried again").not.to.include("within the last");
        expect(sockets).to.have.length(2);
      } finally {
        await brief.closeAll();
      }
    });

    it("is tried again by one connect at a time after the cool-down", async () => {
      const brief = new ConnectionRegistry({
        settings: { connectionTimeoutMillis: 500, unreachableCooldownMillis: 300 },
      });
      try {
        await rejection(brief.withClient(hole, holeSpec(), backendPid));
        expect(sockets).to.have.length(1);
        await eventually(async () => {
          const tries = [1, 2, 3].map(() => rejection(brief.withClient(hole, holeSpec(), backendPid)));
          expect((await Promise.all(tries)).map((e) => e.reason)).to.deep.equal(["Timeout", "Timeout", "Timeout"]);
          expect(sockets).to.have.length.above(1);
        });
        expect(sockets, "only one of three concurrent connects tried the server again").to.have.length(2);
      } finally {
        await brief.closeAll();
      }
    });

    it("recovers by itself once the server answers again, and says so once", async () => {
      const proxy = await TcpProxy.start("127.0.0.1", srv.port);
      const brief = new ConnectionRegistry({
        settings: { connectionTimeoutMillis: 500, unreachableCooldownMillis: 2_000 },
      });
      const viaProxy = throughProxy(proxy);
      const reachedAgain: InstanceKey[] = [];
      brief.onReachedAgain((key) => reachedAgain.push(key));
      try {
        proxy.blackhole();
        expect((await rejection(brief.withClient(hole, viaProxy, backendPid))).reason).to.equal("Timeout");
        expect(reachedAgain).to.deep.equal([]);
        proxy.restore();
        await eventually(() => brief.withClient(hole, viaProxy, backendPid), 20_000, 100);
        expect(await brief.withTenantClient(hole, viaProxy, "postgres", backendPid)).to.be.a("number");
        expect(reachedAgain, "the end of the cool-down, not each connect").to.deep.equal([hole]);
      } finally {
        await brief.closeAll();
        await proxy.close();
      }
    });
  });

  describe("a connect that hung from before the server was reached again", () => {
    const flaky: InstanceKey = { kind: "PostgresInstance", namespace: "team-c", name: "flaky" };
    /** Its connect has begun: everything before the socket opens runs in microtasks. */
    const connectBegun = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

    it("does not start the cool-down when it times out, while a connect that began after does", async () => {
      const proxy = await TcpProxy.start("127.0.0.1", srv.port);
      const patient = new ConnectionRegistry({
        settings: { connectionTimeoutMillis: 1_000, unreachableCooldownMillis: 120_000 },
      });
      const viaProxy = throughProxy(proxy);
      const tenantConnect = () => rejection(patient.withTenantClient(flaky, viaProxy, "postgres", backendPid));
      try {
        // A pooled connection made before the black hole keeps working through it.
        const pooled = await patient.withClient(flaky, viaProxy, backendPid);
        proxy.blackhole();
        const hanging = tenantConnect();
        await connectBegun();
        expect(await patient.withClient(flaky, viaProxy, backendPid), "a connect reached the server").to.equal(pooled);
        expect((await hanging).reason).to.equal("Timeout");
        expect(await patient.withClient(flaky, viaProxy, backendPid), "no cool-down after the stale timeout").to.equal(
          pooled,
        );

        const stale = tenantConnect();
        await connectBegun();
        patient.reachable(flaky);
        expect((await stale).reason).to.equal("Timeout");
        const fresh = await tenantConnect();
        expect(fresh.message, "the server was tried again: no cool-down after reachable()").not.to.include(
          "within the last",
        );
        const held = await tenantConnect();
        expect(held.message, "a connect that began after the server was reached does start it").to.include(
          "within the last 120000 ms",
        );
      } finally {
        await patient.closeAll();
        await proxy.close();
      }
    });
  });

  describe("a server restart", () => {
    it("is survived: calls fail while the server is down and work again after, with no reset", async () => {
      const before = await registry.withClient(instance, spec(), backendPid);
      await srv.stop();
      try {
        const down = await rejection(registry.withClient(instance, spec(), backendPid));
        expect(down.reason).to.equal("Unreachable");
        expect(down.message).to.include("ECONNREFUSED");
      } finally {
        await srv.start();
      }
      // The refused connect holds connects off for the cool-down; then they work with no reset.
      const after = await eventually(() => registry.withClient(instance, spec(), backendPid), 30_000, 200);
      expect(after).not.to.equal(before);
      const lost = log.entries.find((e) => e.message === "Lost idle PostgreSQL connection");
      expect(lost, log.text()).to.deep.include({ kind: "PostgresInstance", namespace: "team-a", name: "main" });
      expect(log.text()).not.to.include(srv.superuser.password);
    });
  });
});
