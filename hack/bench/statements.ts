/** A log line's start: the timestamp of log_line_prefix '%m ...'. */
const ENTRY_START = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

/** The SQL of every `statement:` and `execute` entry of a PostgreSQL log written with log_statement=all. */
export function statementsIn(log: string): string[] {
  const entries: string[] = [];
  for (const line of log.split("\n")) {
    if (ENTRY_START.test(line) || entries.length === 0) entries.push(line);
    else entries[entries.length - 1] += `\n${line}`; // a statement that spans lines
  }
  return entries.flatMap((entry) => {
    const match = /\bLOG:\s+(?:statement|execute [^:]*): ([\s\S]*)$/.exec(entry);
    return match ? [match[1]!.trim()] : [];
  });
}

/** Statements that only read, or only set up the session or a transaction. */
const READ_ONLY = /^(SELECT|SHOW|SET|BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i;

/** How many statements only read, how many changed something, and a few of the latter as examples. */
export function classifyStatements(statements: readonly string[]): {
  reads: number;
  writes: number;
  examples: string[];
} {
  const writes = statements.filter((statement) => !READ_ONLY.test(statement));
  return {
    reads: statements.length - writes.length,
    writes: writes.length,
    examples: writes.slice(0, 3).map((statement) => JSON.stringify(statement.slice(0, 60))),
  };
}
