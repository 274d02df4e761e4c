/**
 * What the SQL tools do on a session, independent of MCP and of Neon: check a statement, run one
 * statement, a transaction, a script or an EXPLAIN with read-only mode and the row cap applied, and
 * shape results with the untrusted-data fence. Finding the session's database is the domain layer's
 * part (src/neon/resolver.ts).
 */
import { SqlError } from './errors.js';
import { checkCatalog, checkReadOnly, checkShape, type Inspection, inspect } from './guard.js';
import { readerWall } from './readonly-role.js';
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

/**
 * The walls of a read-only call on its server, before its transaction starts: the privilege wall (the
 * role to run as, readonly-role.ts) and the catalog check of every function the text calls (stricter
 * where that role cannot be had). Returns the role for {@link Session.beginReadOnly}.
 */
async function readOnlyWalls(
  s: Session,
  sql: string,
  what: string,
  found?: Inspection,
): Promise<string | undefined> {
  const wall = await readerWall(s);
  await checkCatalog(s, found ?? (await inspect(sql)), what, !wall.ok);
  return wall.ok ? wall.role : undefined;
}

interface RunOptions {
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
  s.beginReadOnly(await readOnlyWalls(s, sql, opts.what));
  const res = await s.run(sql, opts.params, {
    maxRows: opts.maxRows,
    what: opts.what,
    autocommit: false,
  });
  s.rollbackLater();
  return res;
}

interface TxStatement {
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
  let role: string | undefined;
  if (opts.readOnly) {
    // Every statement through the parser first: a refusal there needs no connection.
    for (const [i, st] of statements.entries())
      await checkReadOnly(st.sql, `${opts.tool} (statement ${i + 1})`);
    for (const [i, st] of statements.entries())
      role = await readOnlyWalls(s, st.sql, `${opts.tool} (statement ${i + 1})`);
  }
  if (opts.readOnly) s.beginReadOnly(role);
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

interface ExplainOptions {
  params?: readonly unknown[];
  analyze: boolean;
  format: 'text' | 'json';
  /**
   * Everything runs in READ ONLY transactions behind the walls of read-only calls (explain_sql, and
   * everything under --read-only). False only for EXPLAIN ANALYZE of a write on a temporary branch
   * (prepare_query_tuning), which runs read-write and is rolled back.
   */
  readOnly: boolean;
  what: string;
}

interface ExplainResult {
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
  let role: string | undefined;
  if (opts.readOnly || !opts.analyze) {
    const wall = await readerWall(s);
    if (opts.analyze && opts.readOnly) {
      if (!wall.ok) {
        throw new SqlError(
          `${opts.what}: analyze is refused on ${s.target.where}: it runs the statement, and this server has no ` +
            'read-only role for neon-mcp (the role it connects as cannot create one; see the log), so nothing but the ' +
            'transaction mode would stand between the statement and the database. Call again without analyze for the plan.',
        );
      }
      await checkCatalog(s, found, opts.what, false);
    }
    // Without analyze nothing runs but what the planner folds; it runs as the reader all the same.
    role = wall.ok ? wall.role : undefined;
  }
  const options = [
    opts.analyze ? 'ANALYZE true, BUFFERS true' : '',
    `FORMAT ${opts.format === 'json' ? 'JSON' : 'TEXT'}`,
  ]
    .filter(Boolean)
    .join(', ');
  const readOnly = opts.readOnly || !opts.analyze;
  if (readOnly) s.beginReadOnly(role);
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
  } catch (e) {
    if (e instanceof SqlError && e.code === '25006' && opts.analyze) {
      throw new SqlError(
        `${e.message}\nexplain_sql runs the statement READ ONLY. To measure a write, run EXPLAIN ANALYZE … ` +
          'with run_sql on a branch made for it (create_branch), where the write is applied to the copy only.',
        e.code,
      );
    }
    throw e;
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
