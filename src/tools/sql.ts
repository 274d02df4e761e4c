/**
 * SQL on a branch's database: statements, transactions, table listings and descriptions, EXPLAIN and
 * pg_stat_statements. The pg layer is in src/sql/ (loaded on the first call).
 *
 * Read-only design: hints are fixed per tool, and the registry hides tools whose readOnlyHint is false
 * in read-only mode. So SQL comes as two tools with honest hints: run_sql (and run_sql_transaction) can
 * write and are hidden in read-only mode; run_sql_readonly always runs in a READ ONLY transaction, is
 * truly read-only, and stays available everywhere (and clients may approve it without asking). In
 * read-only mode every other SQL path also runs READ ONLY.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import { AS_OF_OPERATIONS, readAsOf, refuseAsOf } from '../neon/as-of.js';
import type { NeonContext } from '../neon/context.js';
import { LEDGER_WRITE_OPERATIONS, PendingChange, recorded } from '../neon/ledger.js';
import { type AnyDb, CONNECT_OPERATIONS, onDatabase } from '../neon/resolver.js';
import {
  describeTable,
  findRelation,
  LIST_TABLES_BUDGET,
  listTables,
  slowQueries,
  statStatementsSchema,
} from '../sql/catalog.js';
import { SqlError } from '../sql/errors.js';
import { summarizePlan } from '../sql/plan.js';
import { checkStatement, explain, rowsResult, runOne, runTransaction, truncatedNotice } from '../sql/run.js';
import type { Session } from '../sql/session.js';
import { untrusted } from '../sql/untrusted.js';
import { asOf, connectionFields, pgName, sqlParams, sqlText } from './fields.js';
import { anyObject, defineTool, type Hints, item, items, output } from './framework.js';

/** Writes also record themselves in the change ledger (src/neon/ledger.ts). */
const WRITE_OPERATIONS = [...new Set([...CONNECT_OPERATIONS, ...LEDGER_WRITE_OPERATIONS])];
/** Reads that take `as_of` also make (and delete) a temporary branch at that moment (src/neon/as-of.ts). */
const AS_OF_READ_OPERATIONS = [...new Set([...CONNECT_OPERATIONS, ...AS_OF_OPERATIONS])];

/**
 * Runs `read` on the branch named by `target`, or, with `as_of`, on a temporary branch made as that
 * branch was at that moment (deleted after; it expires by itself if neon-mcp dies first). The answer
 * then names the branch read (not the temporary one) and the moment (`as_of`).
 *
 * The tools taking `as_of` keep readOnlyHint true: no data of any branch is changed, and the temporary
 * branch is deleted after the read and expires in any case. A --read-only server still makes no change
 * to the account at all, so it refuses `as_of` (before anything is sent) and serves the tools without it.
 */
async function readMaybeAsOf<T extends Record<string, unknown>>(
  ctx: NeonContext,
  tool: string,
  target: { project_id: string; branch_id?: string; database?: string; role?: string },
  as_of: string | undefined,
  read: (s: Session, db: AnyDb) => Promise<T>,
): Promise<T> {
  if (as_of === undefined) return onDatabase(ctx, target, read);
  refuseAsOf(ctx, tool);
  return readAsOf(ctx, target, as_of, (temp, moment, of_branch) =>
    onDatabase(ctx, { ...target, branch_id: temp }, async (s, db: AnyDb) => {
      const answer = await read(s, db);
      return { ...answer, branch_id: of_branch, as_of: moment };
    }),
  );
}

/** Can change data and schema; results are untrusted database content. */
export const SQL_WRITE: Hints = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};
/** Reads in a READ ONLY transaction; results are untrusted database content. */
export const SQL_READ: Hints = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
};

/*
 * Output schemas name only the main keys (they cost tokens in every tools/list). Every result that
 * carries database content also has `untrusted` (the notice of the untrusted-data fence, src/sql/untrusted.ts),
 * plus counts, duration_ms, branch_id and database.
 */
const column = item({ name: z.string(), type: z.string() });
/**
 * A row's keys are its columns' names (see columns), so they cannot be listed here; declared as a map
 * of any values so a client can tell a row is one.
 */
const row = anyObject.meta({ additionalProperties: true });
const statementResult = {
  command: z.string(),
  row_count: z.number().nullable(),
  columns: z.array(column),
  rows: z.array(row),
  truncated: z.string().optional(),
};
const ROWS_OUTPUT = output(statementResult);

export const runSql = defineTool({
  name: 'run_sql',
  title: 'Run SQL',
  description: 'Run one SQL statement (may write); returns rows and column types.',
  toolset: 'sql',
  operations: WRITE_OPERATIONS,
  anyPostgres: true,
  // `sql` is undescribed: "one SQL statement" is the tool's description (tokens of the default list).
  input: { ...connectionFields, sql: sqlText, params: sqlParams },
  output: ROWS_OUTPUT,
  hints: SQL_WRITE,
  async handler({ sql, params, ...target }, ctx) {
    const { sqlMaxRows: maxRows, readOnly } = ctx.settings;
    await checkStatement(sql, 'run_sql', { inTransaction: false, readOnly });
    // A write is recorded with a restore point taken just before it (src/neon/ledger.ts).
    const change = readOnly ? undefined : await PendingChange.start(ctx, target, 'run_sql', [sql]);
    return onDatabase(ctx, { ...target, branch_id: change?.branch_id ?? target.branch_id }, (s, db: AnyDb) =>
      recorded(change, s, db.database, async () => {
        const r = await runOne(s, sql, { params, maxRows, readOnly, what: 'run_sql' });
        return rowsResult(r, maxRows, { branch_id: db.branch_id, database: db.database });
      }),
    );
  },
});

export const runSqlReadonly = defineTool({
  name: 'run_sql_readonly',
  title: 'Run read-only SQL',
  description: 'Run one SQL query in a READ ONLY transaction.',
  toolset: 'sql',
  operations: AS_OF_READ_OPERATIONS,
  anyPostgres: true,
  // `sql` is undescribed: "one SQL query" is the tool's description (tokens of the default list).
  input: { ...connectionFields, sql: sqlText, params: sqlParams, as_of: asOf },
  output: ROWS_OUTPUT,
  // Read-only with as_of too (readMaybeAsOf says why).
  hints: SQL_READ,
  async handler({ sql, params, as_of, ...target }, ctx) {
    await checkStatement(sql, 'run_sql_readonly', { inTransaction: true, readOnly: true });
    const maxRows = ctx.settings.sqlMaxRows;
    return readMaybeAsOf(ctx, 'run_sql_readonly', target, as_of, async (s, db: AnyDb) => {
      const r = await runOne(s, sql, { params, maxRows, readOnly: true, what: 'run_sql_readonly' });
      return rowsResult(r, maxRows, { branch_id: db.branch_id, database: db.database });
    });
  },
});

export const runSqlTransaction = defineTool({
  name: 'run_sql_transaction',
  title: 'Run SQL transaction',
  description: 'Run SQL statements in one transaction: all or nothing.',
  toolset: 'sql',
  operations: WRITE_OPERATIONS,
  anyPostgres: true,
  input: {
    ...connectionFields,
    statements: z
      .array(sqlText)
      .refine((a) => a.length >= 1 && a.length <= 100, { message: 'must hold 1 to 100 statements' })
      .describe('In order'),
  },
  output: output({ results: items({ statement: z.number(), ...statementResult }), committed: z.boolean() }),
  hints: SQL_WRITE,
  async handler({ statements, ...target }, ctx) {
    const list = statements.map((sql) => ({ sql }));
    const { sqlMaxRows: maxRows, readOnly } = ctx.settings;
    for (const [i, st] of list.entries()) {
      await checkStatement(st.sql, `run_sql_transaction (statement ${i + 1})`, {
        inTransaction: true,
        readOnly,
      });
    }
    const change = readOnly
      ? undefined
      : await PendingChange.start(ctx, target, 'run_sql_transaction', statements);
    const target_ = { ...target, branch_id: change?.branch_id ?? target.branch_id };
    return onDatabase(ctx, target_, (s, db: AnyDb) =>
      recorded(
        change,
        s,
        db.database,
        async () => {
          const started = performance.now();
          const { results, committed } = await runTransaction(s, list, {
            maxRows,
            readOnly,
            tool: 'run_sql_transaction',
          });
          return untrusted(
            {
              results: results.map((r, i) => ({
                statement: i + 1,
                command: r.command,
                row_count: r.row_count,
                columns: r.columns,
                rows: r.rows,
                ...(r.more || r.bytes ? { truncated: truncatedNotice(r, maxRows) } : {}),
              })),
            },
            {
              committed,
              ...(readOnly
                ? { read_only: 'this server is read-only: the transaction ran READ ONLY and was rolled back' }
                : {}),
              duration_ms: Math.round(performance.now() - started),
              branch_id: db.branch_id,
              database: db.database,
            },
          );
        },
        (r) => ({
          wrote: r.committed === true,
          rows: (r.results as { command: string; row_count: number | null }[])
            .filter((x) => x.command !== 'SELECT')
            .reduce((n, x) => n + (x.row_count ?? 0), 0),
        }),
      ),
    );
  },
});

export const listTablesTool = defineTool({
  name: 'list_tables',
  title: 'List tables',
  description: 'List schemas, tables and views with row estimates and sizes.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  anyPostgres: true,
  input: {
    ...connectionFields,
    schema: pgName('schema').optional().describe('Only this schema'),
    // The next_offset of the last page: checked in the handler, which keeps the schema within the
    // default tool list's token budget. (Narrowing by name is run_sql_readonly on the catalog.)
    offset: z.number().optional().describe('Offset'),
  },
  // Also returns total (tables matching), and next_offset with a note when more are left.
  output: output({ tables: items({ schema: z.string(), name: z.string() }) }),
  hints: SQL_READ,
  async handler({ schema, offset = 0, ...target }, ctx) {
    const maxRows = ctx.settings.sqlMaxRows;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidArgumentError(
        `list_tables: offset is a whole number from 0 (next_offset of the last page), not ${offset}.`,
      );
    return onDatabase(ctx, target, async (s, db: AnyDb) => {
      s.beginReadOnly();
      const list = await listTables(s, {
        schema,
        offset,
        limit: maxRows,
        maxBytes: ctx.settings.sqlMaxBytes,
      });
      const next = offset + list.tables.length;
      const more = list.total - next;
      const schemasLeft = list.schemas_total - list.schemas.length;
      return untrusted(
        { schemas: list.schemas, tables: list.tables },
        {
          total: list.total,
          ...(more > 0
            ? {
                next_offset: next,
                truncated:
                  `${more} more tables not shown (${
                    list.tables.length >= maxRows
                      ? `at most ${maxRows} per answer; --sql-max-rows`
                      : `each answer holds about ${LIST_TABLES_BUDGET.toLocaleString('en-US')} characters of tables`
                  }). ` + `Pass offset ${next} for the next page, or schema to list one schema.`,
              }
            : {}),
          ...(schemasLeft > 0
            ? { schemas_note: `${schemasLeft} more schemas not shown; pass schema to list one.` }
            : {}),
          branch_id: db.branch_id,
          database: db.database,
        },
      );
    });
  },
});

export const describeTableTool = defineTool({
  name: 'describe_table',
  title: 'Describe table',
  description: 'Columns, constraints, indexes and foreign keys of a table or view.',
  toolset: 'sql',
  operations: AS_OF_READ_OPERATIONS,
  anyPostgres: true,
  input: {
    ...connectionFields,
    // At most 300 characters, checked in the handler (the schema stays within the token budget).
    table: z.string().min(1).describe('Name (or schema.name)'),
    schema: pgName('schema').optional().describe('Schema'),
    as_of: asOf,
  },
  // The table also has columns, constraints, foreign_keys, referenced_by, indexes, triggers, and cut
  // when a list was cut (src/sql/catalog.ts DESCRIBE_LIMITS).
  output: output({ table: item({ schema: z.string(), name: z.string() }) }),
  hints: SQL_READ,
  // Read-only with as_of too (readMaybeAsOf says why).
  async handler({ table, schema, as_of, ...target }, ctx) {
    if (table.length > 300)
      throw new InvalidArgumentError(
        `describe_table: table is a name (or schema.name) of at most 300 characters, not ${table.length}.`,
      );
    return readMaybeAsOf(ctx, 'describe_table', target, as_of, async (s, db: AnyDb) => {
      s.beginReadOnly();
      const rel = await findRelation(s, table, schema);
      const description = await describeTable(s, rel.oid, ctx.settings.sqlMaxBytes);
      return untrusted({ table: description }, { branch_id: db.branch_id, database: db.database });
    });
  },
});

export const explainSql = defineTool({
  name: 'explain_sql',
  title: 'Explain SQL',
  description: "Show a statement's plan; analyze runs it read-only, then rolls back.",
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  anyPostgres: true,
  input: {
    ...connectionFields,
    sql: sqlText.describe('Statement without EXPLAIN'),
    params: sqlParams,
    analyze: z.boolean().optional().describe('EXPLAIN ANALYZE'),
    format: z.enum(['text', 'json']).optional(),
  },
  output: output({ plan: z.unknown().describe('Text, or JSON with format json') }),
  hints: SQL_READ,
  async handler({ sql, params, analyze = false, format = 'text', ...target }, ctx) {
    // Refused before connecting; explain() checks again (and refuses a statement that is an EXPLAIN).
    await checkStatement(sql, 'explain_sql', { inTransaction: true, readOnly: analyze });
    return onDatabase(ctx, target, async (s, db: AnyDb) => {
      const res = await explain(s, sql, {
        params,
        analyze,
        format,
        // A read-only tool: with analyze the statement runs READ ONLY behind the walls of read-only
        // calls (a role without write or signal privileges, the catalog check), then is rolled back.
        readOnly: true,
        what: 'explain_sql',
      });
      const summary =
        format === 'json' ? (({ plan: _p, ...rest }) => rest)(summarizePlan(res.plan)) : undefined;
      return untrusted(
        { plan: res.plan },
        {
          ...(summary ? { summary } : {}),
          analyzed: analyze,
          ...(analyze ? { rolled_back: true } : {}),
          duration_ms: res.duration_ms,
          branch_id: db.branch_id,
          database: db.database,
        },
      );
    });
  },
});

export const listSlowQueries = defineTool({
  name: 'list_slow_queries',
  title: 'List slow queries',
  description: 'List the costliest queries (pg_stat_statements).',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  anyPostgres: true,
  input: {
    ...connectionFields,
    sort: z.enum(['total_time', 'mean_time', 'calls']).optional().describe('Default total_time'),
    limit: z
      .number()
      .int()
      .refine((n) => n >= 1 && n <= 100, { message: 'must be 1 to 100' })
      .optional()
      .describe('Default 10'),
  },
  output: output({ queries: items({ query: z.string(), calls: z.number() }) }),
  hints: SQL_READ,
  async handler({ sort = 'total_time', limit = 10, ...target }, ctx) {
    return onDatabase(ctx, target, async (s, db: AnyDb) => {
      s.beginReadOnly();
      const schema = await statStatementsSchema(s);
      if (!schema) {
        throw new SqlError(
          `list_slow_queries: the pg_stat_statements extension is not installed in database ${db.database} ` +
            `(${db.branch_id ? `branch ${db.branch_id}` : 'the --database-url server'}). Enable it with this statement (run_sql): CREATE EXTENSION pg_stat_statements; ` +
            (db.branch_id
              ? '— Neon computes preload the library, so nothing else is needed. '
              : "— the server must also load the library (shared_preload_libraries = 'pg_stat_statements' in its configuration, then a restart). ") +
            'Statistics are collected from then on: run the workload, then call list_slow_queries again.' +
            (ctx.settings.readOnly ? ' This server is read-only: ask the user to run the statement.' : ''),
        );
      }
      const res = await slowQueries(s, schema, {
        sort,
        limit,
        minCalls: 1,
        maxBytes: ctx.settings.sqlMaxBytes,
      });
      return untrusted(
        { queries: res.queries },
        {
          ...(res.stats_since ? { stats_since: res.stats_since } : {}),
          branch_id: db.branch_id,
          database: db.database,
        },
      );
    });
  },
});

export const sqlTools = [
  runSql,
  runSqlReadonly,
  runSqlTransaction,
  listTablesTool,
  describeTableTool,
  explainSql,
  listSlowQueries,
];
