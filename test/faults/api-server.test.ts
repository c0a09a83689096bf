import { expect } from "chai";
import { waitFor } from "../e2e/kubectl.js";
import { TcpProxy } from "../../runtime/testing/tcp-proxy.js";
import { eventually } from "../support/eventually.js";
import {
  apply,
  databaseManifests,
  directTarget,
  instanceManifests,
  kubeconfigVia,
  numbered,
  report,
  scenarioFile,
  SINGLE_REPLICA_ARGS,
  sqlPrefix,
  waitReady,
  waitServerDatabases,
} from "./scenario-support.js";

const NAMESPACE = "fault-api";
const INSTANCE = "api-instance";

/**
 * The API server goes away under a running operator in the middle of a batch: restarted, or the
 * operator's connection to it cut while etcd is compacted, so that its watches resume from a
 * resourceVersion that no longer exists (410 Gone) and must relist.
 */
describe("API server faults in the middle of a batch", function () {
  this.timeout(300_000);
  const file = scenarioFile([NAMESPACE]);
  let proxy: TcpProxy | undefined;

  before(async () => {
    const { env } = file;
    await apply(env, instanceManifests(env.srv, NAMESPACE, INSTANCE, directTarget(env.srv)));
  });

  afterEach(async () => {
    await file.operators.killAll();
  });

  after(async () => {
    await proxy?.close();
  });

  it("finishes a 20-database batch after the API server was restarted in its middle, without the operator exiting", async () => {
    const { env, operators } = file;
    const started = Date.now();
    const operator = await operators.start();
    await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
    const names = numbered("restart", 20);
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, names));
    await waitServerDatabases(env, `${sqlPrefix(NAMESPACE)}restart_`, 3, 60_000);
    await env.cp.stopApiServer();
    await env.cp.startApiServer();
    const readyMs = await waitReady(env, NAMESPACE, names, 180_000);
    expect(operator.running, "the operator survives the API server restart").to.equal(true);
    await file.invariant();
    report("API server restarted mid-batch", started, `all 20 Ready ${readyMs} ms after the restart`);
  });

  it("relists after its watch was cut and etcd compacted in the middle of a batch, and finishes both halves of it", async () => {
    const { env, operators } = file;
    const started = Date.now();
    proxy = await TcpProxy.start("127.0.0.1", Number(new URL(env.cp.server).port));
    const operator = await operators.start(SINGLE_REPLICA_ARGS, await kubeconfigVia(env.deployment, proxy.port));
    const first = numbered("cut-a", 10);
    const second = numbered("cut-b", 10);
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, first));
    await waitServerDatabases(env, `${sqlPrefix(NAMESPACE)}cut_a_`, 3, 60_000);
    proxy.cut();
    // Created while the operator sees nothing; the compaction removes the revisions its watch would resume from.
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, second));
    await env.cp.compactEtcd();
    proxy.restore();
    const readyMs = await waitReady(env, NAMESPACE, [...first, ...second], 180_000);
    expect(operator.running, "the operator survives the cut").to.equal(true);
    await eventually(() => expect(operator.logs).to.include("Watch expired, relisting"), 30_000);
    await file.invariant();
    report("watch cut and etcd compacted mid-batch", started, `relisted; all 20 Ready ${readyMs} ms after the restore`);
  });
});
