import { expect } from "chai";
import { DatabaseReason } from "../../controllers/constants.js";
import { ALLOWED_NAMESPACES_ANNOTATION } from "../../services/access/allowed-namespaces.js";
import { delay } from "../support/eventually.js";
import { type OperatorWorld, operatorWorld, sqlPrefix } from "./access-fixture.js";

/** Catastrophic backtracking for a backtracking engine: 2^63 ways to fail on a 63-character name. */
const HOSTILE_PATTERN = "(.|.)*!";

/** Probes /healthz every quarter second until stopped; collects every failure. */
class HealthWatch {
  readonly failures: string[] = [];
  answered = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly world: OperatorWorld) {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const status = await this.world.healthz();
        if (status === 200) this.answered++;
        else this.failures.push(`/healthz answered ${status}`);
      } catch (err) {
        this.failures.push(`/healthz did not answer: ${err instanceof Error ? err.message : String(err)}`);
      }
      await delay(250);
    }
  }
}

describe("a hostile allowed-namespaces pattern (operator process)", function () {
  this.timeout(240_000);
  const world = operatorWorld();

  for (const kind of ["PostgresInstance", "PostgresClusterInstance"] as const) {
    it(`on a ${kind}, is matched in linear time: a 63-character namespace gets its answer, /healthz keeps answering, another tenant becomes Ready`, async () => {
      const owner = await world().namespace("pat-owner");
      const hostile = await world().namespace("pat-hostile", 63);
      expect(hostile).to.have.length(63);
      const name = kind === "PostgresInstance" ? "shared" : `${owner}-shared`;
      const annotations = { [ALLOWED_NAMESPACES_ANNOTATION]: HOSTILE_PATTERN };
      const ref =
        kind === "PostgresInstance" ? { instanceRef: { name, namespace: owner } } : { clusterInstanceRef: { name } };
      await world().apply(
        world().instance({
          name,
          admin: "superuser",
          annotations,
          ...(kind === "PostgresInstance" ? { namespace: owner } : {}),
        }),
      );
      const resource = kind === "PostgresInstance" ? "pginst" : "pgcinst";
      const instanceNamespace = kind === "PostgresInstance" ? owner : undefined;
      await world().condition(resource, name, instanceNamespace, { type: "Ready", status: "True" });

      const health = new HealthWatch(world());
      try {
        await world().apply(world().database(hostile, "probe", ref));
        await world().condition("pgdb", "probe", hostile, {
          type: "Connection",
          status: "False",
          reason: DatabaseReason.InstanceNotAllowed,
        });
        // Another tenant, allowed by the instance's own namespace (or by a second cluster instance).
        if (kind === "PostgresInstance") {
          await world().apply(world().database(owner, "neighbour", ref));
          await world().ready(owner, "neighbour");
        } else {
          const open = `${owner}-open`;
          await world().apply(world().instance({ name: open, admin: "superuser" }));
          await world().apply(world().database(owner, "neighbour", { clusterInstanceRef: { name: open } }));
          await world().ready(owner, "neighbour");
          await world().kubectl(["delete", "pgdb", "neighbour", "-n", owner, "--wait=true", "--timeout=60s"]);
          await world().kubectl(["delete", "pgcinst", open, "--wait=false"]);
        }
      } finally {
        await health.stop();
      }
      expect(health.failures).to.deep.equal([]);
      expect(health.answered).to.be.greaterThan(0);
      expect(await world().serverObjects(sqlPrefix(hostile))).to.deep.equal([]);

      await world().kubectl(["delete", "pgdb", "--all", "-n", owner, "--wait=true", "--timeout=60s"]);
      await world().kubectl(["delete", "pgdb", "--all", "-n", hostile, "--wait=true", "--timeout=60s"]);
      await world().kubectl(["delete", resource, name, ...(instanceNamespace ? ["-n", instanceNamespace] : [])]);
    });
  }
});
