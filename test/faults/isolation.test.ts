import { expect } from "chai";
import type pg from "pg";
import { TcpProxy } from "../../runtime/testing/tcp-proxy.js";
import { sqlNames } from "../../services/postgres/naming.js";
import { quoteIdent } from "../../services/postgres/sql.js";
import { connectionSecretName } from "../../services/secrets/connection-details.js";
import { kubectl, waitFor } from "../e2e/kubectl.js";
import { eventually } from "../support/eventually.js";
import {
  apply,
  connectWithSecret,
  databaseManifests,
  describeNotReady,
  directTarget,
  type FaultEnv,
  instanceManifests,
  isReady,
  listDatabases,
  numbered,
  report,
  scenarioFile,
  waitReady,
} from "./scenario-support.js";

/** Its instance reaches PostgreSQL through a proxy that turns into a black hole. */
const HOLE = "fault-iso-hole";
/** Its tenants hold locks that Kompost's grants wait for. */
const LOCKED = "fault-iso-locked";
/** The bystander: its databases must not wait for the other two. */
const FREE = "fault-iso-free";
const INSTANCE = "iso-instance";
/** As many as the operator's default --max-concurrent-reconciles, so that stuck reconciles could fill every worker. */
const STUCK_PER_INSTANCE = 4;
const FREE_BATCH = 10;

/** A tenant's session that holds an uncommitted ALTER TABLE on a table its inspector may no longer read. */
async function holdTenantLock(env: FaultEnv, namespace: string, name: string): Promise<pg.Client> {
  const names = sqlNames(namespace, name, "prefix_namespace");
  const connect = () => connectWithSecret(env, namespace, connectionSecretName(name, "app"));
  const setup = await connect();
  setup.on("error", () => undefined);
  await setup.query("CREATE TABLE held (id int)");
  // The inspector's grant goes missing, so the next reconcile re-grants SELECT on the table.
  await setup.query(`REVOKE SELECT ON held FROM ${quoteIdent(names.inspector)}`);
  await setup.end();
  const holder = await connect();
  // The clean-up may end its session (DROP DATABASE ... WITH (FORCE)): not an error of the test.
  holder.on("error", () => undefined);
  await holder.query("BEGIN");
  await holder.query("ALTER TABLE held ADD COLUMN x int");
  return holder;
}

/** Changes an annotation of each resource: Kompost reconciles it again (and checks its grants). */
async function touch(env: FaultEnv, namespace: string, names: readonly string[]): Promise<void> {
  await kubectl(env.cp, [
    "annotate",
    "pgdb",
    ...names,
    "-n",
    namespace,
    "--overwrite",
    `faults.kompost.test/touched=${Date.now()}`,
  ]);
}

/**
 * One instance's PostgreSQL turns into a black hole (accepts TCP, never answers) and tenants of
 * another hold locks Kompost's statements wait for: databases of a third instance still become
 * Ready while the others are stuck. The times with and without the faults are reported, not asserted.
 */
describe("isolation of instances from a black-holed server and from tenants holding locks", function () {
  this.timeout(300_000);
  const namespaces = [HOLE, LOCKED, FREE];
  const file = scenarioFile(namespaces);
  let proxy: TcpProxy;
  const holders: pg.Client[] = [];

  before(async () => {
    proxy = await TcpProxy.start("127.0.0.1", file.env.srv.port);
  });

  after(async () => {
    for (const holder of holders) await holder.end().catch(() => undefined);
    await proxy?.close();
  });

  it("makes the databases of a third instance Ready while a black-holed server and lock-holding tenants stall the other two", async () => {
    const { env, operators } = file;
    const started = Date.now();
    const behindProxy = { host: "127.0.0.1", port: proxy.port, admin: env.srv.superuser, verify: "verify_ca" } as const;
    await apply(env, [
      ...instanceManifests(env.srv, HOLE, INSTANCE, behindProxy),
      ...instanceManifests(env.srv, LOCKED, INSTANCE, directTarget(env.srv, env.srv.limitedAdmin)),
      ...instanceManifests(env.srv, FREE, INSTANCE, directTarget(env.srv)),
    ]);
    await operators.start();
    for (const namespace of namespaces) {
      await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace, timeoutSeconds: 120 });
    }
    const stuck = numbered("stuck", STUCK_PER_INSTANCE);
    await apply(env, [...databaseManifests(HOLE, INSTANCE, stuck), ...databaseManifests(LOCKED, INSTANCE, stuck)]);
    await waitReady(env, HOLE, stuck, 120_000);
    await waitReady(env, LOCKED, stuck, 120_000);

    const baseline = numbered("baseline", FREE_BATCH);
    await apply(env, databaseManifests(FREE, INSTANCE, baseline));
    const baselineMs = await waitReady(env, FREE, baseline, 120_000);

    // The faults: tenants hold their locks; the proxy drops its connections and new ones hang.
    for (const name of stuck) holders.push(await holdTenantLock(env, LOCKED, name));
    proxy.cut();
    proxy.blackhole();
    await touch(env, HOLE, stuck);
    await touch(env, LOCKED, stuck);
    // Each of them was reconciled again and failed: none is Ready now.
    await eventually(
      async () => {
        const dbs = [...(await listDatabases(env, HOLE)), ...(await listDatabases(env, LOCKED))];
        expect(dbs.filter(isReady).map((db) => `${db.metadata.namespace}/${db.metadata.name}`)).to.deep.equal([]);
      },
      120_000,
      500,
    );

    const faulted = numbered("faulted", FREE_BATCH);
    await apply(env, databaseManifests(FREE, INSTANCE, faulted));
    const faultedMs = await waitReady(env, FREE, faulted, 180_000);
    const stalled = [...(await listDatabases(env, HOLE)), ...(await listDatabases(env, LOCKED))];
    expect(
      stalled.filter(isReady).map((db) => `${db.metadata.namespace}/${db.metadata.name}`),
      "the faulted instances' databases are still stuck when the third instance's are Ready",
    ).to.deep.equal([]);
    const stuckState = describeNotReady(stalled);

    // The faults end: everything settles and the invariant holds over all three namespaces.
    for (const holder of holders.splice(0)) await holder.end();
    proxy.restore();
    const [holeRecoveredMs, lockedRecoveredMs] = await Promise.all([
      waitReady(env, HOLE, stuck, 180_000),
      waitReady(env, LOCKED, stuck, 180_000),
    ]);
    await file.invariant();
    report(
      "black-holed server and lock-holding tenants",
      started,
      `${FREE_BATCH} databases on the third instance Ready in ${baselineMs} ms without faults, ${faultedMs} ms with them; ` +
        `after the faults ended, the black-holed instance's databases were Ready in ${holeRecoveredMs} ms and the ` +
        `lock-holders' in ${lockedRecoveredMs} ms; while stuck:\n${stuckState}`,
    );
  });
});
