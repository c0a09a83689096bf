import { expect } from "chai";
import { parseDevArgs } from "./args.js";

describe("parseDevArgs", () => {
  it("waits 180 s for each sample unless told otherwise", () => {
    expect(parseDevArgs([])).to.deep.equal({ readyTimeoutMs: 180_000, help: false });
  });

  it("takes --ready-timeout in seconds, as a separate or an inline value", () => {
    expect(parseDevArgs(["--ready-timeout", "30"]).readyTimeoutMs).to.equal(30_000);
    expect(parseDevArgs(["--ready-timeout=2.5"]).readyTimeoutMs).to.equal(2_500);
  });

  it("asks for help with --help or -h", () => {
    expect(parseDevArgs(["--help"]).help).to.equal(true);
    expect(parseDevArgs(["-h"]).help).to.equal(true);
  });

  it("rejects a missing or non-positive timeout and unknown flags, showing the usage", () => {
    expect(() => parseDevArgs(["--ready-timeout"])).to.throw(/positive number of seconds.*\n\nUsage: make dev/s);
    expect(() => parseDevArgs(["--ready-timeout=0"])).to.throw(/positive number of seconds, not "0"/);
    expect(() => parseDevArgs(["--ready-timeout", "soon"])).to.throw(/not "soon"/);
    expect(() => parseDevArgs(["--verbose"])).to.throw(/unknown flag "--verbose"/);
  });
});
