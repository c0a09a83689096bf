import { expect } from "chai";
import { mergePatchBetween } from "./merge-patch.js";

describe("mergePatchBetween", () => {
  it("is undefined for equal documents, ignoring undefined fields", () => {
    expect(mergePatchBetween({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] }, d: undefined })).to.equal(undefined);
  });

  it("carries only changed fields, nulls removed ones and replaces arrays whole", () => {
    const patch = mergePatchBetween(
      { keep: 1, change: "a", drop: true, nested: { x: 1, y: 2 }, list: [1, 2, 3] },
      { keep: 1, change: "b", nested: { x: 1, y: 3 }, list: [1, 2], added: { z: 0 } },
    );
    expect(patch).to.deep.equal({ change: "b", drop: null, nested: { y: 3 }, list: [1, 2], added: { z: 0 } });
  });
});
