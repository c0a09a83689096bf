import { expect } from "chai";
import { summarize } from "./profile.js";

describe("benchmark CPU profile summary", () => {
  it("shares CPU time (not idle time) out by function and by package, node module or own file", () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(garbage collector)", "") },
        { id: 2, callFrame: frame("connect", "file:///app/node_modules/pg/lib/client.js") },
        { id: 3, callFrame: frame("", "file:///app/dist/runtime/kube-client.js") },
        { id: 4, callFrame: frame("createSecureContext", "node:_tls_common") },
        { id: 5, callFrame: frame("(idle)", "") },
      ],
      samples: [2, 3, 4, 4, 1, 5],
      timeDeltas: [100, 100, 100, 100, 600, 5000],
    };
    const summary = summarize([profile], 3);
    expect(summary.places).to.deep.equal([
      { name: "(garbage collector)", percent: 60 },
      { name: "node:_tls_common", percent: 20 },
      { name: "pg", percent: 10 },
    ]);
    expect(summary.functions.map((share) => share.name)).to.include("createSecureContext node:_tls_common:10");
  });
});
