import { waitFor } from "../e2e/kubectl.js";
import { delay } from "../support/eventually.js";
import {
  apply,
  databaseManifests,
  deleteNoWait,
  directTarget,
  instanceManifests,
  numbered,
  report,
  scenarioFile,
  SeededRandom,
  waitNoDatabases,
  waitReady,
} from "./scenario-support.js";

const NAMESPACE = "fault-kill";
const INSTANCE = "kill-instance";
const BATCH = 30;
const ROUNDS = 10;
/** The kill falls this long after the batch was applied: from before its first statement to near its end. */
const CREATE_KILL_DELAY_MS = { min: 0, max: 9_000 };
/** The same for a deletion, which takes a few seconds for the whole batch. */
const DELETE_KILL_DELAY_MS = { min: 0, max: 3_000 };

/**
 * SIGKILL of the operator at seeded random points of a batch: each round applies (odd rounds) or
 * deletes (even rounds) 30 PostgresDatabases, kills the operator after a random delay, starts a
 * new one, and checks the invariant once the batch has settled. KOMPOST_FAULT_SEED replays a run.
 */
describe("SIGKILL of the operator at random points of a 30-database batch", function () {
  this.timeout(600_000);
  const random = SeededRandom.fromEnvironment();
  const file = scenarioFile([NAMESPACE]);

  before(async function () {
    this.timeout(180_000);
    const { env, operators } = file;
    await apply(env, instanceManifests(env.srv, NAMESPACE, INSTANCE, directTarget(env.srv, env.srv.limitedAdmin)));
    await operators.start();
    await waitFor(env.cp, `pginst/${INSTANCE}`, "condition=Ready", { namespace: NAMESPACE, timeoutSeconds: 120 });
  });

  it(`settles every round: all databases Ready or dropped, nothing orphaned, after ${ROUNDS} kills at seeded random points (seed printed)`, async () => {
    const { env, operators } = file;
    console.log(`      [faults] seed ${random.seed} (replay with KOMPOST_FAULT_SEED=${random.seed})`);
    const started = Date.now();
    const delays: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const creating = round % 2 === 1;
      const names = numbered(`r${creating ? round : round - 1}`, BATCH);
      const range = creating ? CREATE_KILL_DELAY_MS : DELETE_KILL_DELAY_MS;
      const killAfterMs = random.between(range.min, range.max);
      delays.push(killAfterMs);
      if (creating) await apply(env, databaseManifests(NAMESPACE, INSTANCE, names));
      else await deleteNoWait(env, ["pgdb", ...names, "-n", NAMESPACE]);
      await delay(killAfterMs);
      await operators.all.at(-1)!.kill();
      const killedAt = Date.now();
      await operators.start();
      if (creating) await waitReady(env, NAMESPACE, names, 120_000);
      else await waitNoDatabases(env, NAMESPACE, 120_000);
      const settledMs = Date.now() - killedAt;
      const checkedAt = Date.now();
      await file.invariant();
      console.log(
        `      [faults] round ${round}: ${creating ? "creating" : "deleting"} ${BATCH}, SIGKILL after ${killAfterMs} ms, settled ${settledMs} ms after the kill, invariant ${Date.now() - checkedAt} ms`,
      );
    }
    report("SIGKILL at random points", started, `kill delays ${delays.join(", ")} ms; every round settled`);
  });
});
