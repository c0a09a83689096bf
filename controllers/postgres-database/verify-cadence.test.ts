import { expect } from "chai";
import type { PostgresDatabase } from "../../api/v1alpha1/index.js";
import { VerifyCadence } from "./verify-cadence.js";

const HOUR = 3_600_000;

/** A PostgresDatabase at `generation`, Ready for it when `ready`. */
function database(generation: number, ready: boolean): PostgresDatabase {
  return {
    apiVersion: "kompost.chuge.li/v1alpha1",
    kind: "PostgresDatabase",
    metadata: { name: "app", namespace: "ns", generation },
    spec: { instanceRef: { name: "pg" } },
    status: {
      observedGeneration: ready ? generation : generation - 1,
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: "x",
          message: "",
          lastTransitionTime: "2026-11-30T00:00:00Z",
        },
      ],
    },
  };
}

describe("VerifyCadence", () => {
  it("checks a new or changed database at once, a passing one again one period later, and after a failure", () => {
    const cadence = new VerifyCadence({ periodMs: HOUR, random: () => 0.5 });
    expect(cadence.due("ns/app", database(1, false), 0)).to.equal(true);
    cadence.passed("ns/app", database(1, false), 0);
    expect(cadence.due("ns/app", database(1, true), HOUR - 1)).to.equal(false);
    expect(cadence.due("ns/app", database(1, true), HOUR)).to.equal(true);
    cadence.passed("ns/app", database(1, true), HOUR);
    expect(cadence.due("ns/app", database(2, false), HOUR + 1)).to.equal(true);
    cadence.passed("ns/app", database(2, true), HOUR + 1);
    expect(cadence.due("ns/app", database(2, true), HOUR + 2)).to.equal(false);
    cadence.failed("ns/app");
    expect(cadence.due("ns/app", database(2, true), HOUR + 3)).to.equal(true);
    cadence.passed("ns/app", database(2, true), HOUR + 3);
    // kubectl annotate (or label) asks for a check too.
    const annotated = database(2, true);
    annotated.metadata.annotations = { "kompost.chuge.li/verify": "now" };
    expect(cadence.due("ns/app", annotated, HOUR + 4)).to.equal(true);
  });

  it("after a start, spreads the first checks of Ready databases over the period instead of running them at once", () => {
    let seed = 11;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const cadence = new VerifyCadence({ periodMs: HOUR, random });
    const now = 1_000_000;
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) {
      expect(cadence.due(`ns/db-${i}`, database(3, true), now)).to.equal(false);
      buckets[Math.floor((cadence.dueAt(`ns/db-${i}`)! - now) / (HOUR / 10))]!++;
    }
    for (const count of buckets) expect(count).to.be.within(60, 140);
  });

  it("checks on every reconcile with a period of 0", () => {
    const cadence = new VerifyCadence({ periodMs: 0 });
    cadence.passed("ns/app", database(1, true), 0);
    expect(cadence.due("ns/app", database(1, true), 1)).to.equal(true);
  });

  it("treats a password as unconfirmed until this process saw it in sync: after a start, and after an edit", () => {
    const cadence = new VerifyCadence({ periodMs: HOUR });
    expect(cadence.passwordUnconfirmed("ns/app", "app_role", "first")).to.equal(true);
    cadence.passwordInSync("ns/app", "app_role", "first");
    expect(cadence.passwordUnconfirmed("ns/app", "app_role", "first")).to.equal(false);
    expect(cadence.passwordUnconfirmed("ns/app", "app_role", "edited")).to.equal(true);
    expect(cadence.passwordUnconfirmed("ns/app", "inspector_role", "first")).to.equal(true);
    cadence.forget("ns/app");
    expect(cadence.passwordUnconfirmed("ns/app", "app_role", "first")).to.equal(true);
  });
});
