import { waitFor } from "../e2e/kubectl.js";
import {
  apply,
  databaseManifests,
  deleteNoWait,
  directTarget,
  instanceManifests,
  numbered,
  report,
  scenarioFile,
  waitGone,
  waitNoDatabases,
  waitReady,
} from "./scenario-support.js";

const TOGETHER = "fault-del-together";
const RESTART = "fault-del-restart";
const NAMESPACE_GONE = "fault-del-namespace";
const INSTANCE = "del-instance";
const BATCH = 5;

/**
 * Deletion in any order finishes once the server is reachable (docs/postgres-database.md, Deletion): an instance deleted
 * together with its databases, with or without an operator restart in between, and a whole
 * namespace holding both.
 */
describe("deleting an instance together with its databases", function () {
  this.timeout(300_000);
  const namespaces = [TOGETHER, RESTART, NAMESPACE_GONE];
  const file = scenarioFile(namespaces);

  /** An instance and BATCH Ready databases on it in `namespace`. */
  const provision = async (namespace: string): Promise<void> => {
    const { env } = file;
    await apply(env, instanceManifests(env.srv, namespace, INSTANCE, directTarget(env.srv, env.srv.limitedAdmin)));
    await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace, timeoutSeconds: 120 });
    const names = numbered("db", BATCH);
    await apply(env, databaseManifests(namespace, INSTANCE, names));
    await waitReady(env, namespace, names, 120_000);
  };

  /** Both kinds gone from the namespace, and the invariant over it. */
  const settled = async (namespace: string): Promise<number> => {
    const { env } = file;
    const goneMs = await waitNoDatabases(env, namespace, 120_000);
    await waitGone(env, ["pginst", INSTANCE, "-n", namespace], 60_000);
    await file.invariant([namespace]);
    return goneMs;
  };

  before(async () => {
    await file.operators.start();
  });

  it("drops the databases and removes the instance when both are deleted at once under a running operator", async () => {
    const { env } = file;
    const started = Date.now();
    await provision(TOGETHER);
    await deleteNoWait(env, ["pgdb", "--all", "-n", TOGETHER]);
    await deleteNoWait(env, ["pginst", INSTANCE, "-n", TOGETHER]);
    const goneMs = await settled(TOGETHER);
    report("instance and databases deleted together", started, `all gone ${goneMs} ms after the deletion`);
  });

  it("drops the databases and removes the instance when both were deleted while the operator was down", async () => {
    const { env, operators } = file;
    const started = Date.now();
    await provision(RESTART);
    await operators.killAll();
    await deleteNoWait(env, ["pgdb", "--all", "-n", RESTART]);
    await deleteNoWait(env, ["pginst", INSTANCE, "-n", RESTART]);
    await operators.start();
    const goneMs = await settled(RESTART);
    report("instance and databases deleted with the operator down", started, `all gone ${goneMs} ms after the restart`);
  });

  it("finishes deleting a namespace that holds an instance and its databases", async function () {
    const { env } = file;
    if (!env.cp.garbageCollection) this.skip();
    const started = Date.now();
    await provision(NAMESPACE_GONE);
    await deleteNoWait(env, ["namespace", NAMESPACE_GONE]);
    const goneMs = await waitGone(env, ["namespace", NAMESPACE_GONE], 180_000);
    await file.invariant([NAMESPACE_GONE]);
    report("namespace holding both deleted", started, `namespace gone after ${goneMs} ms`);
  });
});
