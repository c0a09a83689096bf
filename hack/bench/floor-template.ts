/**
 * The statements Kompost sent for one database, cut out of the PostgreSQL log of a bench run and
 * turned into a template that hack/bench/floor.ts replays for other names.
 */
import { isWrite, type Statement } from "./statements.js";

/** One statement of the template, and the connection it ran on. */
export interface TemplateStep {
  /** The database the statement ran in, e.g. "postgres" or the probe's "bench_db_0". */
  readonly database: string;
  /** True when that is the probe's own database (replayed on a new session into each new database). */
  readonly tenant: boolean;
  readonly sql: string;
  readonly params: readonly (string | null)[];
}

/** Matches the probe's names in every spelling Kompost uses: "db-0", "bench_db_0", "bench_db_0_app", "psql-db-0-app". */
export function probePattern(probeIndex: number, stem = "db"): RegExp {
  return new RegExp(`(?<![a-z0-9])${stem}([-_])${probeIndex}(?!\\d)`, "g");
}

/** A database's template: its steps, and the other names Kompost gave its objects on the way. */
export interface Template {
  readonly steps: readonly TemplateStep[];
  /** Names that do not contain the probe's, such as the temporary "kompost_pending_<hex>" of a database being created. */
  readonly aliases: readonly string[];
}

/** Temporary names Kompost gives an object while it creates it (renamed once it is complete). */
const ALIAS = /\bkompost_pending_[0-9a-f]+\b/g;

/**
 * The steps for the database whose names match `probe`: every statement of sessions connected to
 * its own database, and the statements of other sessions (the admin's pool) that name it or one of
 * its aliases, with the BEGIN/COMMIT of the transaction they were part of.
 */
export function extractTemplate(statements: readonly Statement[], probe: RegExp): Template {
  const inTenant = (statement: Statement) => matches(probe, statement.database);
  const first = choose(statements, (statement) => inTenant(statement) || mentions(statement, [probe]));
  const aliases = [...new Set(first.flatMap((statement) => statement.sql.match(ALIAS) ?? []))];
  const aliasPatterns = aliases.map((alias) => new RegExp(`\\b${alias}\\b`));
  const chosen = choose(
    statements,
    (statement) => inTenant(statement) || mentions(statement, [probe, ...aliasPatterns]),
  );
  const steps = chosen.map((statement) => ({
    database: statement.database,
    tenant: inTenant(statement),
    sql: statement.sql,
    params: statement.params,
  }));
  return { steps, aliases };
}

function choose(statements: readonly Statement[], belongs: (statement: Statement) => boolean): Statement[] {
  const chosen = new Set<Statement>();
  for (const block of transactionBlocks(statements)) {
    if (block.some(belongs)) for (const statement of block) chosen.add(statement);
  }
  return statements.filter((statement) => chosen.has(statement));
}

function mentions(statement: Statement, patterns: readonly RegExp[]): boolean {
  const texts = [statement.sql, statement.database, ...statement.params];
  return texts.some((text) => text !== null && patterns.some((pattern) => matches(pattern, text)));
}

/** The template without the statements that only read (the "floor without catalogue reads"), transaction control kept. */
export function writesOnly(template: readonly TemplateStep[]): TemplateStep[] {
  return template.filter((step) => isWrite(step.sql) || /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i.test(step.sql));
}

/**
 * Replaces the probe's names by those of database `index` ("db-0" → "floor-7", "bench_db_0_app" →
 * "bench_floor_7_app") and each alias by one of its own ("kompost_pending_a0f3…" → "kompost_pending_floor_7").
 */
export function renameFor(
  text: string,
  names: { readonly probe: RegExp; readonly aliases: readonly string[] },
  index: number,
  stem = "floor",
): string {
  let renamed = text;
  for (const alias of names.aliases)
    renamed = renamed.replaceAll(alias, alias.replace(/[0-9a-f]+$/, `${stem}_${index}`));
  return renamed.replace(new RegExp(names.probe.source, "g"), (_, separator: string) => `${stem}${separator}${index}`);
}

/** Statements grouped per session into transactions (BEGIN … COMMIT/ROLLBACK) and single statements outside one. */
function transactionBlocks(statements: readonly Statement[]): Statement[][] {
  const open = new Map<number, Statement[]>();
  const blocks: Statement[][] = [];
  for (const statement of statements) {
    const current = open.get(statement.pid);
    if (current) {
      current.push(statement);
      if (/^(COMMIT|ROLLBACK|END)\b/i.test(statement.sql)) open.delete(statement.pid);
    } else if (/^(BEGIN|START TRANSACTION)\b/i.test(statement.sql)) {
      const block = [statement];
      blocks.push(block);
      open.set(statement.pid, block);
    } else blocks.push([statement]);
  }
  return blocks;
}

function matches(pattern: RegExp, text: string): boolean {
  return new RegExp(pattern.source).test(text);
}
