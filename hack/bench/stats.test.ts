import { expect } from "chai";
import { summarize } from "./stats.js";

describe("benchmark statistics", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    expect(summarize(values)).to.deep.equal({ count: 20, p50: 100, p95: 190, max: 200 });
  });

  it("refuses an empty list rather than report a made-up number", () => {
    expect(() => summarize([])).to.throw("no values");
  });
});
