import { expect } from "chai";
import { extractTemplate, probePattern, renameFor, writesOnly } from "./floor-template.js";
import { parseLog, statementsOf } from "./statements.js";

const LOG = [
  // Pool session 7 works for db-0 and db-10 in turn; session 9 is db-0's own database.
  "2026-11-24 06:00:00.000 UTC [7] admin@postgres LOG:  execute <unnamed>: SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
  "2026-11-24 06:00:00.000 UTC [7] admin@postgres DETAIL:  parameters: $1 = 'bench_db_0'",
  '2026-11-24 06:00:00.001 UTC [7] admin@postgres LOG:  statement: CREATE DATABASE "kompost_pending_a0f3"',
  "2026-11-24 06:00:00.002 UTC [7] admin@postgres LOG:  statement: BEGIN",
  "2026-11-24 06:00:00.003 UTC [7] admin@postgres LOG:  statement: COMMENT ON DATABASE \"kompost_pending_a0f3\" IS 'for bench/db-0'",
  '2026-11-24 06:00:00.004 UTC [7] admin@postgres LOG:  statement: ALTER DATABASE "kompost_pending_a0f3" RENAME TO "bench_db_0"',
  "2026-11-24 06:00:00.005 UTC [7] admin@postgres LOG:  statement: COMMIT",
  '2026-11-24 06:00:00.006 UTC [7] admin@postgres LOG:  statement: CREATE ROLE "bench_db_10_app"',
  "2026-11-24 06:00:00.007 UTC [9] admin@bench_db_0 LOG:  statement: SELECT pg_catalog.current_database()",
  '2026-11-24 06:00:00.008 UTC [9] admin@bench_db_0 LOG:  statement: GRANT CONNECT ON DATABASE "bench_db_0" TO "bench_db_0_app"',
].join("\n");

describe("benchmark floor template", () => {
  it("takes the probe's statements, its pending name's and its transactions, and none of another database's", () => {
    const template = extractTemplate(statementsOf(parseLog(LOG)), probePattern(0));
    expect(template.aliases).to.deep.equal(["kompost_pending_a0f3"]);
    expect(template.steps.map((step) => [step.tenant, step.sql.split(" ")[0]])).to.deep.equal([
      [false, "SELECT"],
      [false, "CREATE"],
      [false, "BEGIN"],
      [false, "COMMENT"],
      [false, "ALTER"],
      [false, "COMMIT"],
      [true, "SELECT"],
      [true, "GRANT"],
    ]);
    expect(writesOnly(template.steps)).to.have.length(6);
  });

  it("renames every spelling of the probe's names, and its pending name, for another database", () => {
    const names = { probe: probePattern(0), aliases: ["kompost_pending_a0f3"] };
    const text = 'GRANT "bench_db_0" TO "bench_db_0_app"; psql-db-0-app; db-01; "kompost_pending_a0f3"';
    expect(renameFor(text, names, 7)).to.equal(
      'GRANT "bench_floor_7" TO "bench_floor_7_app"; psql-floor-7-app; db-01; "kompost_pending_floor_7"',
    );
  });
});
