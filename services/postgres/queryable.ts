/** One row of a query result, keyed by column name. */
export type Row = Record<string, unknown>;

/**
 * The part of a connected `pg.Client` the SQL units use: one connection, so that
 * BEGIN/COMMIT and `current_user` mean what they say (never pass a Pool).
 */
export interface Queryable {
  /** Runs one statement with `$n` parameters and resolves with its rows. */
  query<R extends Row = Row>(text: string, values?: readonly unknown[]): Promise<{ readonly rows: R[] }>;
}

/** Runs `fn` inside BEGIN/COMMIT on `db`, rolling back if it throws. */
export async function inTransaction<T>(db: Queryable, fn: () => Promise<T>): Promise<T> {
  await db.query("BEGIN");
  try {
    const result = await fn();
    await db.query("COMMIT");
    return result;
  } catch (err) {
    // A failed ROLLBACK (e.g. the connection is gone) must not hide the error that caused it.
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
