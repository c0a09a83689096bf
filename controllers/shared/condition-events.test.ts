import { expect } from "chai";
import type { ConditionInput } from "../../runtime/conditions.js";
import { ConditionChanges, type EventNote } from "./condition-events.js";

const refused: ConditionInput = { type: "Connection", status: "False", reason: "Unreachable", message: "no server" };
const connected: ConditionInput = { type: "Connection", status: "True", reason: "Connected", message: "ok" };
const warning: EventNote = { type: "Warning", reason: "Unreachable", message: "no server" };
const created: EventNote = { type: "Normal", reason: "SecretCreated", message: "Created Secret" };

describe("which Events a reconcile's conditions are worth (both controllers)", () => {
  const stored = (condition: ConditionInput) => [{ ...condition, lastTransitionTime: "", lastHeartbeatTime: "" }];

  it("reports a failure once: not again from the stored status, nor from a stale cache that lacks it", () => {
    const changes = new ConditionChanges();
    const first = changes.changed("ns/db", undefined, [refused]);
    expect(changes.withoutShownWarnings([warning, created], [refused], first)).to.deep.equal([warning, created]);
    const stale = changes.changed("ns/db", undefined, [refused]);
    expect(changes.withoutShownWarnings([warning], [refused], stale)).to.deep.equal([]);
    const fromStatus = new ConditionChanges().changed("ns/db", stored(refused), [refused]);
    expect(changes.withoutShownWarnings([warning], [refused], fromStatus)).to.deep.equal([]);
  });

  it("reports the same failure again once the condition was True in between, and counts the last entry of a type", () => {
    const changes = new ConditionChanges();
    changes.changed("ns/db", undefined, [refused]);
    expect(changes.changed("ns/db", stored(refused), [refused, connected])).to.deep.equal([connected]);
    expect(changes.changed("ns/db", stored(connected), [refused])).to.deep.equal([refused]);
    changes.forget("ns/db");
    expect(changes.changed("ns/db", stored(refused), [refused])).to.deep.equal([]);
  });
});
