import { expect } from "chai";
import { waitFor } from "../e2e/kubectl.js";
import type { OperatorProcess } from "../e2e/operator-process.js";
import { delay, eventually } from "../support/eventually.js";
import {
  apply,
  databaseManifests,
  deleteNoWait,
  directTarget,
  instanceManifests,
  listDatabases,
  numbered,
  report,
  scenarioFile,
  sqlPrefix,
  waitNoDatabases,
  waitReady,
  waitServerDatabases,
} from "./scenario-support.js";

const NAMESPACE = "fault-pg";
const INSTANCE = "pg-instance";
/** How long PostgreSQL stays down in the outage scenario (issue 10). */
const OUTAGE_MS = 20_000;

/**
 * PostgreSQL goes away under a running operator: stopped for 20 s, or restarted with
 * `-m immediate` (a crash), in the middle of a batch; and stopped while a batch is deleted.
 */
describe("PostgreSQL outages in the middle of a batch", function () {
  this.timeout(300_000);
  const file = scenarioFile([NAMESPACE]);
  let operator: OperatorProcess;

  before(async function () {
    this.timeout(180_000);
    const { env, operators } = file;
    await apply(env, instanceManifests(env.srv, NAMESPACE, INSTANCE, directTarget(env.srv)));
    operator = await operators.start();
    await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
  });

  afterEach(async function () {
    // A failed scenario must not leave the next one without its server.
    if (this.currentTest?.state === "failed") await file.env.srv.start().catch(() => undefined);
  });

  it("finishes a 20-database batch once PostgreSQL is back from a 20 s stop that fell in its middle", async () => {
    const { env } = file;
    const started = Date.now();
    const names = numbered("stop", 20);
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, names));
    await waitServerDatabases(env, `${sqlPrefix(NAMESPACE)}stop_`, 3, 60_000);
    await env.srv.stop("fast");
    await delay(OUTAGE_MS);
    expect(operator.running, "the operator survives the outage").to.equal(true);
    await env.srv.start();
    const readyMs = await waitReady(env, NAMESPACE, names, 180_000);
    await file.invariant();
    report("PostgreSQL stopped 20 s mid-batch", started, `all 20 Ready ${readyMs} ms after the restart`);
  });

  it("finishes a 30-database batch after PostgreSQL crashed (pg_ctl stop -m immediate) in its middle", async () => {
    const { env } = file;
    const started = Date.now();
    const names = numbered("crash", 30);
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, names));
    await waitServerDatabases(env, `${sqlPrefix(NAMESPACE)}crash_`, 5, 60_000);
    await env.srv.stop("immediate");
    await env.srv.start();
    const readyMs = await waitReady(env, NAMESPACE, names, 180_000);
    await file.invariant();
    report("PostgreSQL restarted -m immediate mid-batch", started, `all 30 Ready ${readyMs} ms after the restart`);
  });

  it("holds the finalizers of 30 databases deleted while PostgreSQL is down, and drops them all once it is back", async () => {
    const { env } = file;
    const started = Date.now();
    const names = numbered("crash", 30);
    await env.srv.stop("fast");
    await deleteNoWait(env, ["pgdb", ...names, "-n", NAMESPACE]);
    // Every one was tried and failed: a Ready=False condition on each, and all are still there.
    await eventually(
      async () => {
        const dbs = await listDatabases(env, NAMESPACE);
        const tried = dbs.filter((db) => db.status?.conditions?.some((c) => c.type === "Ready" && c.status !== "True"));
        expect(tried.map((db) => db.metadata.name).sort()).to.include.members(names);
      },
      120_000,
      500,
    );
    const held = (await listDatabases(env, NAMESPACE)).filter((db) => names.includes(db.metadata.name!));
    expect(held.filter((db) => db.metadata?.deletionTimestamp && db.metadata.finalizers?.length)).to.have.length(30);
    expect(operator.running, "the operator survives the outage").to.equal(true);
    await env.srv.start();
    const goneMs = await waitNoDatabases(env, NAMESPACE, 180_000, names);
    await file.invariant();
    report(
      "30 deleted while PostgreSQL is down",
      started,
      `finalizers held; all dropped ${goneMs} ms after the restart`,
    );
  });
});
