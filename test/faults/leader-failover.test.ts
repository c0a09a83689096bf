import { expect } from "chai";
import { getJson, waitFor } from "../e2e/kubectl.js";
import type { LogLine, OperatorProcess } from "../e2e/operator-process.js";
import { eventually } from "../support/eventually.js";
import {
  apply,
  databaseManifests,
  directTarget,
  instanceManifests,
  numbered,
  report,
  scenarioFile,
  sqlPrefix,
  waitReady,
  waitServerDatabases,
} from "./scenario-support.js";

const NAMESPACE = "fault-leader";
const INSTANCE = "leader-instance";
/** The Deployment's flags (leader election on) with the reconcile log lines that show who worked when. */
const REPLICA_ARGS = ["--log-level=debug"];

/** One reading of the Lease. */
interface LeaseReading {
  readonly at: number;
  readonly holder: string;
  readonly transitions: number;
}

/** The first line with this message, as a time in ms; undefined if the replica never logged it. */
function firstTime(operator: OperatorProcess, message: string): number | undefined {
  const line = operator.logLines().find((entry) => entry.message === message);
  return line ? Date.parse(line.timestamp as string) : undefined;
}

/** The times of the lines that show a replica working on resources: reconciles and their failures. */
function workTimes(operator: OperatorProcess): number[] {
  const working = (entry: LogLine) =>
    entry.message.startsWith("Reconciled ") ||
    entry.message.startsWith("Reconcile failed") ||
    entry.message.startsWith("Released ");
  return operator
    .logLines()
    .filter(working)
    .map((entry) => Date.parse(entry.timestamp as string));
}

/**
 * Two replicas with leader election, as the Deployment runs them; the leader is SIGKILLed in the
 * middle of a batch. The standby takes over once the Lease expires and finishes the batch, and at
 * no time do both work: the Lease names one holder after the other, and the standby starts its
 * controllers, and logs its first reconcile, only after the leader was killed and it acquired the Lease.
 */
describe("leader election when the leader is SIGKILLed in the middle of a batch", function () {
  this.timeout(300_000);
  const file = scenarioFile([NAMESPACE]);

  it("hands the batch to the standby, which finishes it, and never lets both replicas work at once", async () => {
    const { env, operators } = file;
    const started = Date.now();
    const { namespace, leaseName } = env.deployment;
    const readLease = async (): Promise<LeaseReading> => {
      type Lease = { spec?: { holderIdentity?: string; leaseTransitions?: number } };
      const lease = await getJson<Lease>(env.cp, ["lease", "-n", namespace, leaseName]).catch((): Lease => ({}));
      return {
        at: Date.now(),
        holder: lease.spec?.holderIdentity ?? "",
        transitions: lease.spec?.leaseTransitions ?? 0,
      };
    };

    const replicas = [await operators.start(REPLICA_ARGS), await operators.start(REPLICA_ARGS)];
    const identities = await Promise.all(replicas.map((replica) => replica.identity()));
    const leaderIndex = await eventually(async () => {
      const index = identities.indexOf((await readLease()).holder);
      if (index < 0) throw new Error("neither replica holds the Lease yet");
      return index;
    }, 60_000);
    const leader = replicas[leaderIndex]!;
    const standby = replicas[1 - leaderIndex]!;
    await apply(env, instanceManifests(env.srv, NAMESPACE, INSTANCE, directTarget(env.srv)));
    await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });

    // The Lease's history, read every 250 ms from before the batch until it is done.
    const history: LeaseReading[] = [await readLease()];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        history.push(await readLease());
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    const names = numbered("failover", 30);
    await apply(env, databaseManifests(NAMESPACE, INSTANCE, names));
    await waitServerDatabases(env, `${sqlPrefix(NAMESPACE)}failover_`, 5, 60_000);
    const leaderWork = workTimes(leader).length;
    const killedAt = Date.now();
    await leader.kill();
    const readyMs = await waitReady(env, NAMESPACE, names, 180_000);
    watching = false;
    await watcher;
    await file.invariant();

    // The Lease went from the leader to the standby, once, and never back.
    const holders = history.map((reading) => reading.holder).filter((holder, i, all) => holder !== all[i - 1]);
    expect(holders).to.deep.equal([identities[leaderIndex], identities[1 - leaderIndex]]);
    expect(history.at(-1)!.transitions - history[0]!.transitions).to.equal(1);

    // The standby did nothing before it held the Lease, and got it only after the leader was killed.
    const acquired = firstTime(standby, "Acquired lease");
    const controllersStarted = firstTime(standby, "Starting controllers");
    const standbyWork = workTimes(standby);
    expect(leaderWork, "the leader reconciled before it was killed").to.be.greaterThan(0);
    expect(acquired, "the standby acquired the Lease").to.be.a("number");
    expect(acquired!).to.be.greaterThan(killedAt);
    expect(controllersStarted!).to.be.at.least(acquired!);
    expect(standbyWork.length, "the standby finished the batch").to.be.greaterThan(0);
    expect(Math.min(...standbyWork)).to.be.at.least(acquired!);
    report(
      "leader SIGKILLed mid-batch",
      started,
      `standby acquired the Lease ${acquired! - killedAt} ms after the kill; all 30 Ready ${readyMs} ms after it; ` +
        `${history.length} Lease readings, holders ${holders.length}, leader reconciles ${leaderWork}, standby ${standbyWork.length}`,
    );
  });
});
