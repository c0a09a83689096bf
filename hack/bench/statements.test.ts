import { expect } from "chai";
import { classifyStatements, statementsIn } from "./statements.js";

describe("benchmark statement counting", () => {
  it("counts simple and extended-protocol statements, and tells reads from writes", () => {
    const log = [
      "2026-11-24 06:00:00.000 UTC [1] kompost_super@postgres LOG:  statement: SELECT 1",
      "2026-11-24 06:00:00.000 UTC [1] kompost_super@postgres LOG:  execute <unnamed>: SELECT datname FROM pg_catalog.pg_database WHERE datname = $1",
      "2026-11-24 06:00:00.000 UTC [1] kompost_super@postgres DETAIL:  parameters: $1 = 'x'",
      '2026-11-24 06:00:00.000 UTC [1] kompost_super@postgres LOG:  statement: GRANT CONNECT ON DATABASE "x" TO "y"',
    ].join("\n");
    const counts = classifyStatements(statementsIn(log));
    expect(counts.reads).to.equal(2);
    expect(counts.writes).to.equal(1);
    expect(counts.examples[0]).to.match(/^"GRANT/);
  });
});

describe("benchmark statement parsing", () => {
  it("reads a statement that spans several lines as one", () => {
    const log = [
      "2026-11-24 06:00:00.000 UTC [1] kompost_super@postgres LOG:  execute <unnamed>: ",
      "  SELECT 1",
      "  FROM pg_catalog.pg_roles",
      "2026-11-24 06:00:00.001 UTC [1] kompost_super@postgres LOG:  statement: COMMIT",
    ].join("\n");
    expect(statementsIn(log)).to.deep.equal(["SELECT 1\n  FROM pg_catalog.pg_roles", "COMMIT"]);
    expect(classifyStatements(statementsIn(log)).writes).to.equal(0);
  });
});
