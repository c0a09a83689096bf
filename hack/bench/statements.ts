/**
 * Reads the PostgreSQL log the test harness writes (log_line_prefix '%m [%p] %q%u@%d ',
 * log_statement=all, log_connections=on): statements with their session and parameters, and
 * connections.
 */

/** One log entry: its first line's prefix and the whole message (continuation lines included). */
export interface LogEntry {
  /** Milliseconds since the epoch (the log's timestamp read as UTC). */
  readonly at: number;
  readonly pid: number;
  /** Empty for entries of processes without a session. */
  readonly user: string;
  readonly database: string;
  /** LOG, DETAIL, ERROR, STATEMENT, ... */
  readonly severity: string;
  readonly message: string;
}

/** A statement a session sent, with the values of its `$n` parameters (extended protocol). */
export interface Statement {
  readonly at: number;
  readonly pid: number;
  readonly user: string;
  readonly database: string;
  readonly sql: string;
  /** `$1` is params[0]; null for SQL NULL. */
  readonly params: readonly (string | null)[];
}

/** A session that got past authentication. */
export interface Connection {
  readonly at: number;
  readonly pid: number;
  readonly user: string;
  readonly database: string;
}

const PREFIX = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) \S+ \[(\d+)\] (?:(\S*)@(\S*) )?([A-Z]+\d?):\s+([\s\S]*)$/;

/** Splits a log into entries; a line that does not start with a prefix continues the entry before it. */
export function parseLog(text: string): LogEntry[] {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (PREFIX.test(line) || lines.length === 0) lines.push(line);
    else lines[lines.length - 1] += `\n${line}`;
  }
  return lines.flatMap((line) => {
    const match = PREFIX.exec(line);
    if (!match) return [];
    const [, date, time, pid, user, database, severity, message] = match;
    return [
      {
        at: Date.parse(`${date}T${time}Z`),
        pid: Number(pid),
        user: user ?? "",
        database: database ?? "",
        severity: severity!,
        message: message!.trimEnd(),
      },
    ];
  });
}

/** Every `statement:` and `execute` entry, with the parameters of the DETAIL line that follows it in its session. */
export function statementsOf(entries: readonly LogEntry[]): Statement[] {
  const statements: Statement[] = [];
  const lastOfSession = new Map<number, number>();
  for (const entry of entries) {
    if (entry.severity === "DETAIL" && entry.message.startsWith("parameters: ")) {
      const index = lastOfSession.get(entry.pid);
      if (index !== undefined) {
        const statement = statements[index]!;
        statements[index] = { ...statement, params: parseParameters(entry.message.slice("parameters: ".length)) };
      }
      continue;
    }
    if (entry.severity !== "LOG") continue;
    const match = /^(?:statement|execute [^:]*): ([\s\S]*)$/.exec(entry.message);
    if (!match) continue;
    lastOfSession.set(entry.pid, statements.length);
    const { at, pid, user, database } = entry;
    statements.push({ at, pid, user, database, sql: match[1]!.trim(), params: [] });
  }
  return statements;
}

/** `$1 = 'a', $2 = NULL` → ["a", null]; quotes inside values are doubled in the log. */
export function parseParameters(text: string): (string | null)[] {
  const params: (string | null)[] = [];
  for (const match of text.matchAll(/\$(\d+) = (?:NULL|'((?:[^']|'')*)')/g)) {
    params[Number(match[1]) - 1] = match[2] === undefined ? null : match[2].replaceAll("''", "'");
  }
  return params;
}

/** Every `connection authorized` entry (log_connections=on): one per session that logged in. */
export function connectionsOf(entries: readonly LogEntry[]): Connection[] {
  return entries.flatMap((entry) => {
    if (entry.severity !== "LOG") return [];
    const match = /^connection authorized: user=(\S+)(?: database=(\S+))?/.exec(entry.message);
    if (!match) return [];
    return [{ at: entry.at, pid: entry.pid, user: match[1]!, database: match[2] ?? "" }];
  });
}

/** The SQL of every statement in a log (see statementsOf). */
export function statementsIn(log: string): string[] {
  return statementsOf(parseLog(log)).map((statement) => statement.sql);
}

/** Statements that only read, or only set up the session or a transaction; or empty (a driver's ping, such as lib/pq's ";"). */
const READ_ONLY = /^(?:;?\s*$|(SELECT|SHOW|SET|RESET|BEGIN|COMMIT|ROLLBACK|START TRANSACTION|DISCARD)\b)/i;

/** True for a statement that changes something on the server (DDL, DCL or DML). */
export function isWrite(sql: string): boolean {
  return !READ_ONLY.test(sql.trimStart());
}

/** How many statements only read, how many changed something, and a few of the latter as examples. */
export function classifyStatements(statements: readonly string[]): {
  reads: number;
  writes: number;
  examples: string[];
} {
  const writes = statements.filter(isWrite);
  return {
    reads: statements.length - writes.length,
    writes: writes.length,
    examples: writes.slice(0, 3).map((statement) => JSON.stringify(statement.slice(0, 60))),
  };
}
