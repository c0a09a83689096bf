/** Positions in the audit log and the PostgreSQL log, and what happened between two of them. */
import { open, stat } from "node:fs/promises";
import { type ApiRequest, countByVerbAndResource, parseAuditLog, WRITE_VERBS } from "./audit-log.js";
import { connectionsOf, isWrite, parseLog, type Statement, statementsOf } from "./statements.js";

/** Byte offsets into both logs at one moment, and the moment. */
export interface Mark {
  readonly audit: number;
  readonly postgres: number;
  readonly time: number;
}

/** What one party did between two marks. */
export interface Activity {
  readonly requests: readonly ApiRequest[];
  readonly statements: readonly Statement[];
  readonly connections: number;
}

/** Figures of an Activity, as they go into the results. */
export interface ActivityFigures {
  readonly apiRequests: number;
  readonly apiWrites: number;
  readonly apiByVerb: Record<string, number>;
  readonly sqlStatements: number;
  readonly sqlWrites: number;
  readonly connections: number;
  /** The most statements in any one second: a burst shows here. */
  readonly peakStatementsPerSecond: number;
}

/** The two logs of one bench run. */
export class BenchLogs {
  constructor(
    private readonly auditPath: string,
    private readonly postgresPath: string,
  ) {}

  async mark(): Promise<Mark> {
    const time = Date.now();
    return { audit: (await stat(this.auditPath)).size, postgres: (await stat(this.postgresPath)).size, time };
  }

  /**
   * What `apiUser` asked of the API server and `pgUser` sent to PostgreSQL between two marks. A
   * request received before `from` (a watch that ended in between) belongs to an earlier window.
   */
  async between(from: Mark, to: Mark, who: { apiUser: string; pgUser: string }): Promise<Activity> {
    const [audit, postgres] = await Promise.all([
      slice(this.auditPath, from.audit, to.audit),
      slice(this.postgresPath, from.postgres, to.postgres),
    ]);
    const entries = parseLog(postgres);
    return {
      requests: parseAuditLog(audit).filter((request) => request.user === who.apiUser && request.at >= from.time),
      statements: statementsOf(entries).filter((statement) => statement.user === who.pgUser),
      connections: connectionsOf(entries).filter((connection) => connection.user === who.pgUser).length,
    };
  }
}

/** The figures the report shows for an Activity. */
export function figures(activity: Activity): ActivityFigures {
  const perSecond = new Map<number, number>();
  for (const statement of activity.statements) {
    const second = Math.floor(statement.at / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  return {
    apiRequests: activity.requests.length,
    apiWrites: activity.requests.filter((request) => WRITE_VERBS.has(request.verb)).length,
    apiByVerb: countByVerbAndResource(activity.requests),
    sqlStatements: activity.statements.length,
    sqlWrites: activity.statements.filter((statement) => isWrite(statement.sql)).length,
    connections: activity.connections,
    peakStatementsPerSecond: Math.max(0, ...perSecond.values()),
  };
}

async function slice(file: string, from: number, to: number): Promise<string> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(Math.max(0, to - from));
    await handle.read(buffer, 0, buffer.length, from);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}
