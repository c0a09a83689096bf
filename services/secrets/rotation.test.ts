import { expect } from "chai";
import { decideRotation, rotationPeriodMs } from "./rotation.js";

const DAY = 86_400_000;
const now = Date.UTC(2026, 10, 29);

describe("password rotation decisions", () => {
  it("reads periods in minutes, hours and days, and refuses anything else saying what to write", () => {
    expect(rotationPeriodMs("90d")).to.equal(90 * DAY);
    expect(rotationPeriodMs("12h")).to.equal(12 * 3_600_000);
    expect(rotationPeriodMs("30m")).to.equal(30 * 60_000);
    for (const text of ["0d", "90", "1w", "-1d", "1.5d", " 1d", "1234567d"]) {
      expect(() => rotationPeriodMs(text), text).to.throw("write a number and m, h or d, e.g. 90d");
    }
  });

  it("rotates once for each new rotate-password token, and not for a token already applied or none", () => {
    const base = { periodMs: undefined, setAtMs: now - DAY, nowMs: now };
    expect(decideRotation({ ...base, requestedToken: "1", appliedToken: undefined })).to.deep.equal({ cause: "token" });
    expect(decideRotation({ ...base, requestedToken: "2", appliedToken: "1" })).to.deep.equal({ cause: "token" });
    expect(decideRotation({ ...base, requestedToken: "2", appliedToken: "2" })).to.deep.equal({});
    expect(decideRotation({ ...base, requestedToken: undefined, appliedToken: "2" })).to.deep.equal({});
  });

  it("rotates when the period has passed since the password was set, and says when it falls due next", () => {
    const base = { requestedToken: undefined, appliedToken: undefined, periodMs: 90 * DAY, nowMs: now };
    expect(decideRotation({ ...base, setAtMs: now - 10 * DAY })).to.deep.equal({ nextDueMs: now + 80 * DAY });
    expect(decideRotation({ ...base, setAtMs: now - 90 * DAY })).to.deep.equal({
      cause: "schedule",
      nextDueMs: now + 90 * DAY,
    });
    expect(decideRotation({ ...base, setAtMs: undefined })).to.deep.equal({ nextDueMs: now + 90 * DAY });
  });

  it("counts the schedule from now after a token rotation", () => {
    const decision = decideRotation({
      requestedToken: "x",
      appliedToken: undefined,
      periodMs: DAY,
      setAtMs: now - 5 * DAY,
      nowMs: now,
    });
    expect(decision).to.deep.equal({ cause: "token", nextDueMs: now + DAY });
  });
});
