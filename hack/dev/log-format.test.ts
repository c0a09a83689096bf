import { expect } from "chai";
import { formatLogLine } from "./log-format.js";

describe("formatLogLine", () => {
  it("shows time, level, message and the other fields of a JSON log line", () => {
    const timestamp = "2026-11-24T06:06:05.123Z";
    const line = JSON.stringify({
      level: "info",
      message: "Created database",
      namespace: "team-a",
      name: "staging",
      reason: "two words",
      controllers: ["a", "b"],
      timestamp,
    });
    const time = new Date(timestamp).toTimeString().slice(0, 8);
    expect(formatLogLine(line)).to.equal(
      `${time} INFO  Created database namespace=team-a name=staging reason="two words" controllers=["a","b"]`,
    );
  });

  it("puts an error's stack on indented lines below", () => {
    const line = JSON.stringify({ level: "error", message: "Failed", stack: "Error: boom\n    at x" });
    expect(formatLogLine(line)).to.equal("ERROR Failed\n    Error: boom\n        at x");
  });

  it("passes lines that are not JSON objects through unchanged", () => {
    for (const line of ["plain text", "{not json", "[1,2]", ""]) expect(formatLogLine(line)).to.equal(line);
  });
});
