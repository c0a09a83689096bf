import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import {
  readyCondition,
  setCondition,
  setConditions,
  type Condition,
  type ConditionInput,
  type StatusWithConditions,
} from "./conditions.js";
import { computeStatus } from "./status.js";

const t0 = new Date("2026-01-01T00:00:00.000Z");
const at = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000);
const minute = 60_000;

describe("conditions", () => {
  const connected = { type: "Connected", status: "True", reason: "Connected", message: "ok" } as const;

  it("adds a new condition with both times set to now", () => {
    const [condition] = setCondition(undefined, connected, { now: t0, observedGeneration: 3 });
    expect(condition).to.deep.equal({
      ...connected,
      lastTransitionTime: "2026-01-01T00:00:00Z",
      lastHeartbeatTime: "2026-01-01T00:00:00Z",
      observedGeneration: 3,
    });
  });

  it("keeps the very same entry when nothing changed within the heartbeat interval", () => {
    const first = setCondition(undefined, connected, { now: t0 });
    const second = setCondition(first, connected, { now: at(60), heartbeatIntervalMs: 5 * minute });
    expect(second[0]).to.equal(first[0]);
  });

  it("refreshes only the heartbeat of an unchanged condition once the interval passed", () => {
    const first = setCondition(undefined, connected, { now: t0 });
    const [later] = setCondition(first, connected, { now: at(301), heartbeatIntervalMs: 5 * minute });
    expect(later!.lastTransitionTime).to.equal("2026-01-01T00:00:00Z");
    expect(later!.lastHeartbeatTime).to.equal("2026-01-01T00:05:01Z");
  });

  it("keeps lastTransitionTime when only the message changes, and moves it when the status flips", () => {
    const first = setCondition(undefined, connected, { now: t0 });
    const reworded = setCondition(first, { ...connected, message: "still ok" }, { now: at(10) });
    expect(reworded[0]!.lastTransitionTime).to.equal("2026-01-01T00:00:00Z");
    expect(reworded[0]!.lastHeartbeatTime).to.equal("2026-01-01T00:00:10Z");
    const flipped = setCondition(reworded, { ...connected, status: "False", reason: "Refused" }, { now: at(20) });
    expect(flipped[0]!.lastTransitionTime).to.equal("2026-01-01T00:00:20Z");
    expect(flipped[0]!.reason).to.equal("Refused");
  });

  it("counts a new observedGeneration as a change", () => {
    const first = setCondition(undefined, connected, { now: t0, observedGeneration: 1 });
    const second = setCondition(first, connected, { now: at(1), observedGeneration: 2 });
    expect(second[0]).to.not.equal(first[0]);
    expect(second[0]!.observedGeneration).to.equal(2);
  });

  it("leaves other conditions untouched and in order", () => {
    const list = setCondition(setCondition(undefined, connected, { now: t0 }), { ...connected, type: "Privileged" });
    const updated = setCondition(list, { ...connected, status: "False" }, { now: at(5) });
    expect(updated.map((c) => c.type)).to.deep.equal(["Connected", "Privileged"]);
    expect(updated[1]).to.equal(list[1]);
  });

  describe("readyCondition", () => {
    const make = (type: string, status: Condition["status"], reason = type): Condition => ({
      type,
      status,
      reason,
      message: `${type} says ${status}`,
      lastTransitionTime: "",
      lastHeartbeatTime: "",
    });

    it("is True when every listed condition is True", () => {
      expect(readyCondition([make("A", "True"), make("B", "True")], ["A", "B"]).status).to.equal("True");
    });

    it("is False with the reason and message of the first condition that is not True", () => {
      const ready = readyCondition(
        [make("A", "True"), make("B", "False", "NoB"), make("C", "Unknown")],
        ["A", "B", "C"],
      );
      expect(ready).to.deep.equal({ type: "Ready", status: "False", reason: "NoB", message: "B says False" });
    });

    it("is False when a listed condition is missing", () => {
      const ready = readyCondition([make("A", "True")], ["A", "B"]);
      expect(ready.status).to.equal("False");
      expect(ready.message).to.contain("B");
    });
  });

  describe("setConditions as a status mutator", () => {
    type Obj = KubernetesObject & { status?: StatusWithConditions & { observedGeneration?: number } };
    const obj = (status?: Obj["status"]): Obj => ({ metadata: { name: "x", generation: 7 }, status });

    it("sets the conditions, Ready and observedGeneration", () => {
      const status = computeStatus(obj(), [setConditions<Obj>([connected], { now: t0, readyFrom: ["Connected"] })]);
      expect(status.observedGeneration).to.equal(7);
      expect(status.conditions!.map((c) => [c.type, c.status, c.observedGeneration])).to.deep.equal([
        ["Connected", "True", 7],
        ["Ready", "True", 7],
      ]);
    });

    it("produces a deep-equal status when applied again before the heartbeat is due", () => {
      const mutator = (now: Date) => setConditions<Obj>([connected], { now, readyFrom: ["Connected"] });
      const first = computeStatus(obj(), [mutator(t0)]);
      const again = computeStatus(obj(first), [mutator(at(30))]);
      expect(again).to.deep.equal(first);
      const later = computeStatus(obj(first), [mutator(at(600))]);
      expect(later).to.not.deep.equal(first);
    });
  });

  describe("setConditions with kstatus's Reconciling and Stalled", () => {
    type Obj = KubernetesObject & { status?: StatusWithConditions & { observedGeneration?: number } };
    const obj = (status?: Obj["status"]): Obj => ({ metadata: { name: "x", generation: 4 }, status });
    const stalledReasons = new Set(["Forbidden"]);
    const apply = (status: Obj["status"], input: ConditionInput, now = t0) =>
      computeStatus(obj(status), [setConditions<Obj>([input], { now, readyFrom: ["Connected"], stalledReasons })]);
    const types = (status: Obj["status"]) => status!.conditions!.map((c) => [c.type, c.status, c.reason]);
    const refused = { ...connected, status: "False", reason: "Refused", message: "no answer" } as const;
    const forbidden = { ...connected, status: "False", reason: "Forbidden", message: "not allowed" } as const;

    it("sets Reconciling True with Ready's reason and message while Ready is False for a reason that fixes itself", () => {
      const status = apply(undefined, refused);
      expect(types(status)).to.deep.equal([
        ["Connected", "False", "Refused"],
        ["Ready", "False", "Refused"],
        ["Reconciling", "True", "Refused"],
      ]);
      expect(status.conditions![2]).to.include({ message: "no answer", observedGeneration: 4 });
    });

    it("sets Stalled True instead, and drops Reconciling, when Ready's reason is one that needs a change", () => {
      const status = apply(apply(undefined, refused), forbidden, at(10));
      expect(types(status)).to.deep.equal([
        ["Connected", "False", "Forbidden"],
        ["Ready", "False", "Forbidden"],
        ["Stalled", "True", "Forbidden"],
      ]);
      expect(status.conditions![2]).to.include({ message: "not allowed", lastTransitionTime: "2026-01-01T00:00:10Z" });
    });

    it("removes Reconciling and Stalled once Ready is True", () => {
      expect(types(apply(apply(undefined, forbidden), connected))).to.deep.equal([
        ["Connected", "True", "Connected"],
        ["Ready", "True", "Ready"],
      ]);
      expect(types(apply(apply(undefined, refused), connected)).map(([type]) => type)).to.deep.equal([
        "Connected",
        "Ready",
      ]);
    });

    it("keeps the same Reconciling entry, and so writes nothing, while nothing changed", () => {
      const first = apply(undefined, refused);
      expect(apply(first, refused, at(30))).to.deep.equal(first);
    });

    it("follows a Ready that the inputs set themselves (no readyFrom)", () => {
      const blocked = { type: "Ready", status: "False", reason: "Blocked", message: "waiting" } as const;
      const status = computeStatus(obj(), [setConditions<Obj>([blocked], { now: t0, stalledReasons })]);
      expect(types(status)).to.deep.equal([
        ["Ready", "False", "Blocked"],
        ["Reconciling", "True", "Blocked"],
      ]);
    });

    it("writes neither without stalledReasons, as before", () => {
      const status = computeStatus(obj(), [setConditions<Obj>([refused], { now: t0, readyFrom: ["Connected"] })]);
      expect(status.conditions!.map((c) => c.type)).to.deep.equal(["Connected", "Ready"]);
    });
  });
});
