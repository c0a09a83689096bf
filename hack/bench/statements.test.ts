import { expect } from "chai";
import { classifyStatements, connectionsOf, parseLog, statementsIn, statementsOf } from "./statements.js";

describe("benchmark PostgreSQL log reading", () => {
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

  it("counts a driver's empty ping statement as a statement but not as a write", () => {
    const log = [
      "2026-11-24 06:00:00.000 UTC [1] kompost_super@db LOG:  statement: ;",
      '2026-11-24 06:00:00.000 UTC [1] kompost_super@db LOG:  statement: GRANT USAGE ON SCHEMA "public" TO "r"',
    ].join("\n");
    expect(classifyStatements(statementsIn(log))).to.deep.include({ reads: 1, writes: 1 });
  });

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

  it("gives each statement its session, database and parameters, even when sessions interleave", () => {
    const log = [
      "2026-11-24 06:00:00.000 UTC [7] admin@postgres LOG:  execute <unnamed>: SELECT $1::pg_catalog.text, $2::pg_catalog.text",
      "2026-11-24 06:00:00.001 UTC [8] admin@bench_db_0 LOG:  statement: BEGIN",
      "2026-11-24 06:00:00.002 UTC [7] admin@postgres DETAIL:  parameters: $1 = 'it''s', $2 = NULL",
      "2026-11-24 06:00:00.250 UTC [8] admin@bench_db_0 LOG:  execute S_1: SELECT $1",
      "2026-11-24 06:00:00.251 UTC [8] admin@bench_db_0 DETAIL:  parameters: $1 = 'two",
      "lines'",
    ].join("\n");
    const statements = statementsOf(parseLog(log));
    expect(statements.map(({ pid, database, params }) => ({ pid, database, params }))).to.deep.equal([
      { pid: 7, database: "postgres", params: ["it's", null] },
      { pid: 8, database: "bench_db_0", params: [] },
      { pid: 8, database: "bench_db_0", params: ["two\nlines"] },
    ]);
    expect(statements[2]!.at - statements[0]!.at).to.equal(250);
  });

  it("counts the sessions that logged in, not the attempts or background processes", () => {
    const log = [
      "2026-11-24 06:00:00.000 UTC [30] LOG:  checkpoint starting: time",
      "2026-11-24 06:00:00.000 UTC [31] [unknown]@[unknown] LOG:  connection received: host=127.0.0.1 port=50000",
      "2026-11-24 06:00:00.010 UTC [31] admin@bench_db_0 LOG:  connection authorized: user=admin database=bench_db_0 SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)",
      "2026-11-24 06:00:00.020 UTC [32] [unknown]@[unknown] LOG:  connection received: host=127.0.0.1 port=50001",
      '2026-11-24 06:00:00.030 UTC [32] bob@postgres FATAL:  password authentication failed for user "bob"',
    ].join("\n");
    expect(connectionsOf(parseLog(log))).to.deep.equal([
      { at: Date.parse("2026-11-24T06:00:00.010Z"), pid: 31, user: "admin", database: "bench_db_0" },
    ]);
  });
});
