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
import {
  describeTable,
  findRelation,
  listTables,
  slowQueries,
  statStatementsSchema,
} from '../sql/catalog.js';
import { SqlError } from '../sql/errors.js';
import { summarizePlan } from '../sql/plan.js';
import {
  CONNECT_OPERATIONS,
  checkStatement,
  explain,
  onDatabase,
  rowsResult,
  runOne,
  runTransaction,
  truncatedNotice,
} from '../sql/run.js';
import { untrusted } from '../sql/untrusted.js';
import { connectionFields } from './connection.js';
import { pgName } from './fields.js';
import { anyObject, defineTool, type Hints, output } from './framework.js';

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

export const sqlText = z.string().min(1).max(100_000);
export const sqlParams = z
  .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
  .max(100)
  .optional()
  .describe('Values for $1, $2, … (objects: pass JSON text and cast, $1::jsonb)');

const fenced = {
  notice: z.string(),
  begin: z.string(),
  end: z.string(),
};
const ROWS_OUTPUT = output({
  ...fenced,
  columns: z.array(anyObject),
  rows: z.array(anyObject),
  command: z.string(),
  row_count: z.number().nullable(),
  truncated: z.string().optional(),
  duration_ms: z.number(),
  branch_id: z.string(),
  database: z.string(),
});

export const runSql = defineTool({
  name: 'run_sql',
  title: 'Run SQL',
  description:
    'Run one SQL statement that may change data or schema, on a branch database; returns rows, column types, ' +
    'row count. Use $1, $2 … with params. For reads prefer run_sql_readonly; for several statements ' +
    'atomically, run_sql_transaction.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: { ...connectionFields, sql: sqlText.describe('One SQL statement'), params: sqlParams },
  output: ROWS_OUTPUT,
  hints: SQL_WRITE,
  async handler({ sql, params, ...target }, ctx) {
    checkStatement(sql, 'run_sql', { inTransaction: false });
    const { sqlMaxRows: maxRows, readOnly } = ctx.settings;
    return onDatabase(ctx, target, async (s, db) => {
      const r = await runOne(s, sql, { params, maxRows, readOnly, what: 'run_sql' });
      return rowsResult(r, maxRows, { branch_id: db.branch_id, database: db.database });
    });
  },
});

export const runSqlReadonly = defineTool({
  name: 'run_sql_readonly',
  title: 'Run read-only SQL',
  description:
    'Run one SQL query in a READ ONLY transaction (writes fail), on a branch database; returns rows, column ' +
    'types, row count. Use $1, $2 … with params.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: { ...connectionFields, sql: sqlText.describe('One SQL query'), params: sqlParams },
  output: ROWS_OUTPUT,
  hints: SQL_READ,
  async handler({ sql, params, ...target }, ctx) {
    checkStatement(sql, 'run_sql_readonly', { inTransaction: true });
    const maxRows = ctx.settings.sqlMaxRows;
    return onDatabase(ctx, target, async (s, db) => {
      const r = await runOne(s, sql, { params, maxRows, readOnly: true, what: 'run_sql_readonly' });
      return rowsResult(r, maxRows, { branch_id: db.branch_id, database: db.database });
    });
  },
});

export const runSqlTransaction = defineTool({
  name: 'run_sql_transaction',
  title: 'Run SQL transaction',
  description:
    'Run several SQL statements in one transaction: all are applied, or none when one fails. Returns each ' +
    "statement's rows and row count.",
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: {
    ...connectionFields,
    statements: z
      .array(z.union([sqlText, z.object({ sql: sqlText, params: sqlParams })]))
      .min(1)
      .max(100)
      .describe('Statements in order: SQL text, or {sql, params}'),
  },
  output: output({
    ...fenced,
    results: z.array(anyObject),
    committed: z.boolean(),
    duration_ms: z.number(),
    branch_id: z.string(),
    database: z.string(),
  }),
  hints: SQL_WRITE,
  async handler({ statements, ...target }, ctx) {
    const list = statements.map((st) => (typeof st === 'string' ? { sql: st } : st));
    for (const [i, st] of list.entries()) {
      checkStatement(st.sql, `run_sql_transaction (statement ${i + 1})`, { inTransaction: true });
    }
    const { sqlMaxRows: maxRows, readOnly } = ctx.settings;
    return onDatabase(ctx, target, async (s, db) => {
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
            ...(r.more ? { truncated: truncatedNotice(r, maxRows) } : {}),
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
    });
  },
});

export const listTablesTool = defineTool({
  name: 'list_tables',
  title: 'List tables',
  description:
    'List schemas, tables, views and materialized views of a branch database with row estimates and sizes.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: { ...connectionFields, schema: pgName('schema').optional().describe('Only this schema') },
  output: output({
    ...fenced,
    schemas: z.array(anyObject),
    tables: z.array(anyObject),
    truncated: z.string().optional(),
    branch_id: z.string(),
    database: z.string(),
  }),
  hints: SQL_READ,
  async handler({ schema, ...target }, ctx) {
    const maxRows = ctx.settings.sqlMaxRows;
    return onDatabase(ctx, target, async (s, db) => {
      s.beginReadOnly();
      const list = await listTables(s, { schema, limit: maxRows });
      const more = list.total - list.tables.length;
      return untrusted(
        { schemas: list.schemas, tables: list.tables },
        {
          ...(more > 0
            ? {
                truncated: truncatedNotice({ more, moreIsLowerBound: false }, maxRows).replace(
                  'rows',
                  'tables',
                ),
              }
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
  description:
    'Describe a table or view: columns (type, default, nullability), constraints, indexes, foreign keys both ' +
    'ways, triggers, size.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: {
    ...connectionFields,
    table: z.string().min(1).max(300).describe('Table or view name (schema.table allowed)'),
    schema: pgName('schema').optional().describe('Schema (default: search_path, then any)'),
  },
  output: output({
    ...fenced,
    table: anyObject,
    branch_id: z.string(),
    database: z.string(),
  }),
  hints: SQL_READ,
  async handler({ table, schema, ...target }, ctx) {
    return onDatabase(ctx, target, async (s, db) => {
      s.beginReadOnly();
      const rel = await findRelation(s, table, schema);
      const description = await describeTable(s, rel.oid);
      return untrusted({ table: description }, { branch_id: db.branch_id, database: db.database });
    });
  },
});

export const explainSql = defineTool({
  name: 'explain_sql',
  title: 'Explain SQL',
  description:
    "Show a statement's query plan (EXPLAIN). analyze=true runs it for real timings inside a transaction that " +
    'is rolled back, so writes are not kept.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: {
    ...connectionFields,
    sql: sqlText.describe('The statement, without EXPLAIN'),
    params: sqlParams,
    analyze: z.boolean().optional().describe('Run it and report actual times and rows (default false)'),
    format: z.enum(['text', 'json']).optional().describe('Plan format (default text)'),
  },
  output: output({
    ...fenced,
    plan: z.unknown(),
    summary: anyObject.optional(),
    analyzed: z.boolean(),
    duration_ms: z.number(),
    branch_id: z.string(),
    database: z.string(),
  }),
  hints: SQL_READ,
  async handler({ sql, params, analyze = false, format = 'text', ...target }, ctx) {
    return onDatabase(ctx, target, async (s, db) => {
      const res = await explain(s, sql, {
        params,
        analyze,
        format,
        readOnly: ctx.settings.readOnly,
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
  description:
    'List the most expensive queries of a database from pg_stat_statements (total or mean time, calls, rows, ' +
    'cache hit rate). Then explain_sql or prepare_query_tuning.',
  toolset: 'sql',
  operations: CONNECT_OPERATIONS,
  input: {
    ...connectionFields,
    sort: z.enum(['total_time', 'mean_time', 'calls']).optional().describe('Order (default total_time)'),
    limit: z.number().int().min(1).max(100).optional().describe('Queries to return (default 10)'),
    min_calls: z
      .number()
      .int()
      .min(1)
      .max(1_000_000_000)
      .optional()
      .describe('Only queries called this often'),
  },
  output: output({
    ...fenced,
    queries: z.array(anyObject),
    stats_since: z.string().optional(),
    branch_id: z.string(),
    database: z.string(),
  }),
  hints: SQL_READ,
  async handler({ sort = 'total_time', limit = 10, min_calls = 1, ...target }, ctx) {
    return onDatabase(ctx, target, async (s, db) => {
      s.beginReadOnly();
      const schema = await statStatementsSchema(s);
      if (!schema) {
        throw new SqlError(
          `list_slow_queries: the pg_stat_statements extension is not installed in database ${db.database} ` +
            `(branch ${db.branch_id}). Enable it with this statement (run_sql): CREATE EXTENSION pg_stat_statements; ` +
            '— Neon computes preload the library, so nothing else is needed. Statistics are collected from then ' +
            'on: run the workload, then call list_slow_queries again.' +
            (ctx.settings.readOnly ? ' This server is read-only: ask the user to run the statement.' : ''),
        );
      }
      const res = await slowQueries(s, schema, { sort, limit, minCalls: min_calls });
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
