/**
 * What the SQL tools do on a session, independent of MCP and of Neon: check a statement, run one
 * statement, a transaction, a script or an EXPLAIN with read-only mode and the row cap applied, and
 * shape results with the untrusted-data fence. Finding the session's database is the domain layer's
 * part (src/neon/connection.ts).
 */
import { SqlError } from './errors.js';
import { checkReadOnly, checkShape, inspect } from './guard.js';
import { INTERNAL_MARK, type Session, type StatementResult } from './session.js';
import { untrusted } from './untrusted.js';

/**
 * Refuses SQL that a tool cannot run, with the reason and the alternative: empty text, transaction
 * control, COPY with a client-side stream, and — with `readOnly` — effects outside the transaction
 * (guard.ts). Decided on PostgreSQL's own parse tree.
 */
export async function checkStatement(
  sql: string,
  tool: string,
  opts: { inTransaction: boolean; readOnly?: boolean },
): Promise<void> {
  const found = await inspect(sql);
  checkShape(found, tool, opts.inTransaction ? 'own transaction' : 'session');
  if (opts.readOnly) await checkReadOnly(sql, tool, found);
}

/** Refuses a migration script that is empty, controls the transaction or needs a COPY stream. */
export async function checkScript(sql: string, tool: string): Promise<void> {
  checkShape(await inspect(sql), tool, 'migration');
}

export interface RunOptions {
  params?: readonly unknown[];
  maxRows: number;
  readOnly: boolean;
  what: string;
}

/**
 * One statement. Read-only: inside `BEGIN READ ONLY`, sent in the same round trip, and rolled back.
 * Otherwise on its own (autocommit), so statements that refuse transaction blocks (CREATE DATABASE,
 * VACUUM, CREATE INDEX CONCURRENTLY) work.
 */
export async function runOne(s: Session, sql: string, opts: RunOptions): Promise<StatementResult> {
  // Every read-only path goes through here (or runTransaction/explain), so none can skip the guard.
  if (opts.readOnly) await checkReadOnly(sql, opts.what);
  if (!opts.readOnly) {
    return s.run(sql, opts.params, {
      maxRows: opts.maxRows,
      what: opts.what,
      autocommit: true,
    });
  }
  s.beginReadOnly();
  const res = await s.run(sql, opts.params, {
    maxRows: opts.maxRows,
    what: opts.what,
    autocommit: false,
  });
  s.rollbackLater();
  return res;
}

export interface TxStatement {
  sql: string;
  params?: readonly unknown[];
}

/**
 * Several statements in one transaction, committed only when all succeed. Read-only: `BEGIN READ ONLY`
 * and always rolled back. Rows are capped over the whole transaction.
 */
export async function runTransaction(
  s: Session,
  statements: TxStatement[],
  opts: { maxRows: number; readOnly: boolean; tool: string },
): Promise<{ results: StatementResult[]; committed: boolean }> {
  if (opts.readOnly) {
    for (const [i, st] of statements.entries())
      await checkReadOnly(st.sql, `${opts.tool} (statement ${i + 1})`);
  }
  if (opts.readOnly) s.beginReadOnly();
  else s.begin();
  const results: StatementResult[] = [];
  let budget = opts.maxRows;
  for (const [i, st] of statements.entries()) {
    try {
      const res = await s.run(st.sql, st.params, {
        maxRows: budget,
        what: `${opts.tool} (statement ${i + 1} of ${statements.length})`,
        autocommit: false,
      });
      budget = Math.max(0, budget - res.rows.length);
      results.push(res);
    } catch (e) {
      s.rollbackLater();
      if (e instanceof SqlError && e.code) {
        throw new SqlError(
          `${e.message}\nThe transaction was rolled back: none of the ${statements.length} statements was applied.`,
          e.code,
        );
      }
      throw e;
    }
  }
  if (opts.readOnly) {
    s.rollbackLater();
    return { results, committed: false };
  }
  try {
    await s.commit(`${opts.tool} (COMMIT)`);
  } catch (e) {
    if (e instanceof SqlError && e.code) {
      throw new SqlError(`${e.message}\nThe COMMIT failed, so nothing was applied.`, e.code);
    }
    throw e;
  }
  return { results, committed: true };
}

/**
 * A multi-statement script (a migration) in one transaction; rolled back when any part fails. The
 * script was checked by PostgreSQL 18's parser with standard_conforming_strings on; the same setting
 * here makes the server split it into the same statements (all of a simple-protocol message is parsed
 * before any of it runs, so a SET inside the script cannot change that).
 */
export async function runScript(s: Session, sql: string, what: string) {
  await checkScript(sql, what);
  await s.exec(
    `BEGIN; SET LOCAL standard_conforming_strings = on ${INTERNAL_MARK}`,
    undefined,
    'starting the transaction',
  );
  try {
    const res = await s.script(sql, what);
    await s.commit(`${what} (COMMIT)`);
    return res;
  } catch (e) {
    await s.exec('ROLLBACK', undefined, 'rolling back').catch(() => undefined);
    throw e;
  }
}

export interface ExplainOptions {
  params?: readonly unknown[];
  analyze: boolean;
  format: 'text' | 'json';
  /** The server is read-only: everything runs in READ ONLY transactions. */
  readOnly: boolean;
  what: string;
}

export interface ExplainResult {
  /** Text: the plan's lines joined; JSON: Postgres's plan object. */
  plan: unknown;
  duration_ms: number;
}

/**
 * EXPLAIN of a statement, always inside a transaction that is rolled back: with ANALYZE the statement
 * really runs (a DELETE deletes), and the rollback undoes it.
 */
export async function explain(s: Session, sql: string, opts: ExplainOptions): Promise<ExplainResult> {
  const found = await inspect(sql);
  if (found.explain) {
    throw new SqlError(`${opts.what}: pass the statement without EXPLAIN; set analyze and format instead.`);
  }
  checkShape(found, opts.what, 'own transaction');
  // With ANALYZE the statement runs, and the rollback that follows cannot undo effects outside it.
  if (opts.analyze) await checkReadOnly(sql, opts.what, found);
  const options = [
    opts.analyze ? 'ANALYZE true, BUFFERS true' : '',
    `FORMAT ${opts.format === 'json' ? 'JSON' : 'TEXT'}`,
  ]
    .filter(Boolean)
    .join(', ');
  const readOnly = opts.readOnly || !opts.analyze;
  if (readOnly) s.beginReadOnly();
  else s.begin();
  try {
    const res = await s.run(`EXPLAIN (${options}) ${sql}`, opts.params, {
      maxRows: 10_000,
      what: opts.what,
      autocommit: false,
      // A plan is parsed (JSON) and summarised, never shown raw row by row: it must stay whole.
      maxBytes: Number.POSITIVE_INFINITY,
    });
    const values = res.rows.map((r) => Object.values(r)[0]);
    const plan =
      opts.format === 'json'
        ? Array.isArray(values[0])
          ? values[0][0]
          : values[0]
        : values.map(String).join('\n');
    return { plan, duration_ms: res.duration_ms };
  } finally {
    s.rollbackLater();
  }
}

/** A statement's result for the agent: rows fenced as untrusted, counts and notices outside. */
export function rowsResult(
  r: StatementResult,
  maxRows: number,
  meta: Record<string, unknown> = {},
): Record<string, unknown> {
  return untrusted(
    { columns: r.columns, rows: r.rows },
    {
      command: r.command,
      row_count: r.row_count,
      ...(r.more || r.bytes ? { truncated: truncatedNotice(r, maxRows) } : {}),
      duration_ms: r.duration_ms,
      ...meta,
    },
  );
}

export function truncatedNotice(
  r: Pick<StatementResult, 'more' | 'moreIsLowerBound' | 'bytes'>,
  maxRows: number,
): string {
  const rows = r.more ? `${r.more}${r.moreIsLowerBound ? ' or more' : ''} more rows not shown` : '';
  if (!r.bytes) {
    return (
      `truncated: ${rows} ` +
      `(at most ${maxRows} rows are returned; --sql-max-rows). Narrow the query with WHERE, LIMIT/OFFSET or an aggregate.`
    );
  }
  const cut = r.bytes.cutValues
    ? `${r.bytes.cutValues} long value${r.bytes.cutValues === 1 ? '' : 's'} cut (each ends with "…[cut: N bytes]", N its full length)`
    : '';
  return (
    `truncated: ${[rows, cut].filter(Boolean).join('; ')} ` +
    `(at most ${r.bytes.max} bytes of values, --sql-max-bytes, and ${maxRows} rows, --sql-max-rows, are returned). ` +
    'Select fewer or shorter columns (e.g. left(col, 200), length(col)), or narrow the query with WHERE, LIMIT/OFFSET or an aggregate.'
  );
}
