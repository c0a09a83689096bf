import { expect } from "chai";
import type pg from "pg";
import { TcpProxy } from "../../runtime/testing/tcp-proxy.js";
import { proxiedSpecOf } from "../../test/harness/instance-spec.js";
import type { PostgresServer } from "../../test/harness/postgres.js";
import { postgres } from "../../test/harness/postgres.js";
import { ClientPool, withSingleClient } from "./client-lifecycle.js";
import { pgClientConfig } from "./connection-spec.js";
import type { GuardedClientConfig } from "./password-guard.js";

describe("the client lifecycle", () => {
  // Short: a close that ignored it would hang until TCP keepalive gives up, minutes later.
  const closeTimeoutMillis = 300;
  let srv: PostgresServer;
  let proxy: TcpProxy;
  let config: GuardedClientConfig;

  before(async () => (srv = await postgres()));
  beforeEach(async () => {
    proxy = await TcpProxy.start("127.0.0.1", srv.port);
    config = pgClientConfig(proxiedSpecOf(srv, proxy.port), "postgres");
  });
  afterEach(async () => proxy.close());

  const one = async (client: pg.ClientBase): Promise<number> =>
    (await client.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one;

  it("closes a single client whose server went silent: it returns after the bound and destroys the socket", async () => {
    let opened: pg.Client | undefined;
    const lost: Error[] = [];
    const result = await withSingleClient(
      config,
      async (client) => {
        opened = client;
        const answer = await one(client);
        proxy.stall(); // the server vanishes without a FIN: end() would wait for its goodbye
        return answer;
      },
      { closeTimeoutMillis, onLost: (err) => lost.push(err) },
    );
    expect(result).to.equal(1);
    expect(opened?.connection.stream.destroyed, "the socket was destroyed").to.equal(true);
    expect(lost, "a close Kompost asked for is no lost connection").to.deep.equal([]);
  });

  it("closes a pool whose server went silent: it returns after the bound and destroys idle and busy sockets", async () => {
    // Two pools: pg's own end() waits for a client in use, but not for an idle client's goodbye.
    const idlePool = new ClientPool({ ...config, max: 1 }, () => undefined);
    const busyPool = new ClientPool({ ...config, max: 1 }, () => undefined);
    const idle = await idlePool.connect();
    const busy = await busyPool.connect();
    const busyLost: Error[] = [];
    busy.on("error", (err) => busyLost.push(err));
    expect([await one(idle), await one(busy)]).to.deep.equal([1, 1]);
    idle.release();
    proxy.stall();
    await Promise.all([idlePool.close(closeTimeoutMillis), busyPool.close(closeTimeoutMillis)]);
    expect(idle.connection.stream.destroyed, "the idle client's socket was destroyed").to.equal(true);
    expect(busy.connection.stream.destroyed, "the busy client's socket was destroyed").to.equal(true);
    busy.release(busyLost[0] ?? true);
  });

  it("hands a socket error after the connect to onLost instead of crashing the process", async () => {
    const lost: Error[] = [];
    await withSingleClient(
      config,
      async (client) => {
        const ended = new Promise((resolve) => client.once("end", resolve));
        const killed = await client.query("SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid())").then(
          () => "survived",
          (err: { code?: string }) => err.code,
        );
        expect(killed).to.equal("57P01"); // admin_shutdown
        await ended;
      },
      { closeTimeoutMillis, onLost: (err) => lost.push(err) },
    );
    expect(lost.map((err) => err.message)).to.deep.equal(["Connection terminated unexpectedly"]);
  });
});
