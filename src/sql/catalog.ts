/**
 * Catalog queries behind list_tables, describe_table and list_slow_queries. Each answers in one round
 * trip (one statement building JSON), and all run in READ ONLY transactions.
 */

import { SqlError } from './errors.js';
import { RESET } from './pools.js';
import { type Session, SQL_MAX_BYTES } from './session.js';
import { fence } from './untrusted.js';

/**
 * Characters kept of one catalog string (a comment, a constraint's or a view's definition) for a
 * budget of `maxBytes` (--sql-max-bytes): an eighth of it, so that a 3 MB comment cannot fill an
 * answer alone. The server bounds the whole answer too (src/server.ts).
 */
export function catalogStringMax(maxBytes: number): number {
  return Math.max(200, Math.floor(maxBytes / 8));
}

/**
 * `expr` (text) cut in PostgreSQL to `max` characters (an SQL parameter), so a long catalog string
 * never leaves the server whole; the cut one ends with its whole length and the query that reads the
 * rest. `source` is an SQL expression giving the SQL that reads the whole string.
 */
function clip(expr: string, source: string, max: string): string {
  return `(SELECT CASE WHEN length(v) > ${max} THEN left(v, ${max}) || format('… [cut: %s bytes in all; read the rest with run_sql_readonly: SELECT substr(%s, %s)]', to_char(octet_length(v), 'FM999,999,999,999,990'), ${source}, ${max} + 1) ELSE v END FROM (SELECT (${expr})::text AS v) clipped)`;
}

const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

const KIND = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
  WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END`;

/**
 * Rows: reltuples once analyzed (summed over the leaf partitions: ANALYZE of a partitioned table sets
 * its own reltuples to the total too), else the live-tuple count of the statistics.
 */
const ROW_ESTIMATE = `CASE
  WHEN c.relkind IN ('v', 'f') THEN NULL
  WHEN c.relkind = 'p' THEN (SELECT sum(greatest(pc.reltuples, 0))::bigint FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid WHERE t.isleaf)
  WHEN c.reltuples >= 0 THEN c.reltuples::bigint
  ELSE (SELECT s.n_live_tup FROM pg_stat_user_tables s WHERE s.relid = c.oid) END`;

/**
 * A table or materialized view small enough to count exactly (at most {@link EXACT_COUNT_BYTES} of heap,
 * so count(*) reads at most that much, within the statement timeout): readable by the role, populated,
 * and without row-level security (whose count would depend on who asks).
 */
const EXACT_COUNT_BYTES = 1_048_576;
const SMALL = `(c.relkind IN ('r', 'm') AND c.relispopulated AND NOT c.relrowsecurity
  AND pg_relation_size(c.oid) <= ${EXACT_COUNT_BYTES} AND has_table_privilege(c.oid, 'SELECT'))`;

/**
 * The exact count of a small table, through query_to_xml (dynamic SQL inside one catalog query; the
 * count is read from its text, so no XML library is needed); NULL for any other.
 */
const ROW_COUNT = `CASE WHEN ${SMALL} THEN substring(query_to_xml(format('SELECT count(*) AS c FROM %s', c.oid::regclass), false, true, '')::text FROM '<c>(\\d+)</c>')::bigint END`;

/** A table never analysed (nor vacuumed): PostgreSQL has no estimate of its rows (reltuples is -1). */
const NEVER_ANALYZED = `CASE WHEN c.relkind IN ('r', 'm') AND c.reltuples < 0 THEN true END`;

/**
 * Replaces the catalog's raw row fields by what an agent can trust: an exact `row_count` for a small
 * table, `row_estimate: null` with a note for a table never analysed (its live-tuple statistic may be 0
 * while it holds thousands of rows), the estimate otherwise.
 */
function honestRows(t: Record<string, unknown>): Record<string, unknown> {
  const { row_count, never_analyzed, ...rest } = t;
  if (row_count != null) {
    delete rest.row_estimate;
    return { ...rest, row_count };
  }
  if (never_analyzed) {
    return {
      ...rest,
      row_estimate: null,
      row_note: 'never analysed: no estimate. ANALYZE gives one, or count(*) with run_sql_readonly.',
    };
  }
  return rest;
}

const BYTES = `CASE
  WHEN c.relkind = 'p' THEN (SELECT sum(pg_total_relation_size(t.relid))::bigint FROM pg_partition_tree(c.oid) t)
  WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid) END`;

interface TableList {
  schemas: { name: string; owner: string }[];
  tables: Record<string, unknown>[];
  /** Tables matching the schema and filter, shown or not. */
  total: number;
  /** Schemas, shown or not. */
  schemas_total: number;
}

/**
 * Characters one list_tables answer spends on tables at most, whatever the schema holds (STYLE.md 26):
 * about 2,500 tokens. Past it the list stops and says how to read on (offset, filter).
 */
export const LIST_TABLES_BUDGET = 10_000;
/** Tables one list_tables page asks the database for at most (fewer when the budget is reached first). */
export const LIST_TABLES_PAGE = 100;
/** Schemas listed at most (a schema-per-tenant database may have thousands). */
const LIST_SCHEMAS_MAX = 50;
/** Characters kept of a table's comment in a list (describe_table shows it whole, up to its own cut). */
const LIST_COMMENT_MAX = 120;

/**
 * One page of the tables, views and materialized views (`offset` of them skipped, in schema and name
 * order), whose name contains `filter` (case-insensitive) and within {@link LIST_TABLES_BUDGET}
 * characters; `total` counts every match, so the caller can say what is left.
 */
export async function listTables(
  s: Session,
  opts: { schema?: string; filter?: string; offset?: number; limit: number; maxBytes?: number },
): Promise<TableList> {
  const limit = Math.min(opts.limit, LIST_TABLES_PAGE);
  const commentMax = Math.min(LIST_COMMENT_MAX, catalogStringMax(opts.maxBytes ?? SQL_MAX_BYTES));
  const rows = await s.read<{ j: TableList }>(
    `WITH t AS (
      SELECT c.oid, n.nspname AS schema, c.relname AS name, ${KIND} AS type, ${ROW_ESTIMATE} AS row_estimate,
        ${NEVER_ANALYZED} AS never_analyzed,
        ${BYTES} AS bytes, ${clip("obj_description(c.oid, 'pg_class')", "format('obj_description(%L::regclass, ''pg_class'')', c.oid::regclass::text)", '$3::int')} AS comment
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND ${SYSTEM_SCHEMAS}
        AND ($1::text IS NULL OR n.nspname = $1)
        AND ($4::text IS NULL OR strpos(lower(c.relname), lower($4)) > 0)
    )
    SELECT json_build_object(
      'schemas', (SELECT coalesce(json_agg(json_build_object('name', s.nspname, 'owner', pg_get_userbyid(s.nspowner)) ORDER BY s.nspname), '[]')
                  FROM (SELECT n.nspname, n.nspowner FROM pg_namespace n WHERE ${SYSTEM_SCHEMAS} AND ($1::text IS NULL OR n.nspname = $1)
                        ORDER BY n.nspname LIMIT ${LIST_SCHEMAS_MAX}) s),
      'schemas_total', (SELECT count(*) FROM pg_namespace n WHERE ${SYSTEM_SCHEMAS} AND ($1::text IS NULL OR n.nspname = $1)),
      'tables', (SELECT coalesce(json_agg(json_strip_nulls(json_build_object(
                   'schema', schema, 'name', name, 'type', type, 'row_estimate', row_estimate,
                   'row_count', row_count, 'never_analyzed', never_analyzed,
                   'size', CASE WHEN bytes IS NOT NULL THEN pg_size_pretty(bytes) END, 'bytes', bytes, 'comment', comment))
                   ORDER BY schema, name), '[]')
                 -- Counted only for the tables shown (after the limit).
                 FROM (SELECT t.*, ${ROW_COUNT} AS row_count FROM (SELECT * FROM t ORDER BY schema, name OFFSET $5 LIMIT $2) t
                       JOIN pg_class c ON c.oid = t.oid) x),
      'total', (SELECT count(*) FROM t)) AS j`,
    [opts.schema ?? null, limit, commentMax, opts.filter ?? null, opts.offset ?? 0],
    'list_tables',
  );
  const j = rows[0].j;
  // The budget: whole tables only, at least one, so every page moves on.
  const tables: Record<string, unknown>[] = [];
  let used = 0;
  for (const t of j.tables.map(honestRows)) {
    used += JSON.stringify(t).length + 1;
    if (tables.length && used > LIST_TABLES_BUDGET) break;
    tables.push(t);
  }
  return { ...j, tables };
}

/** Finds a table, view or materialized view by name, as an agent would write it. */
export async function findRelation(
  s: Session,
  table: string,
  schema: string | undefined,
): Promise<{ oid: number; schema: string; name: string }> {
  let sch = schema;
  let name = table;
  if (!sch && /^[^".]+\.[^".]+$/.test(table)) [sch, name] = table.split('.') as [string, string];
  const rows = await s.read<{ oid: number; schema: string; name: string; visible: boolean }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, pg_table_is_visible(c.oid) AS visible
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ($2::text IS NULL OR n.nspname = $2)
       AND (c.relname = $1 OR (c.relname = lower($1) AND NOT EXISTS (
             SELECT 1 FROM pg_class c2 JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
             WHERE c2.relname = $1 AND ($2::text IS NULL OR n2.nspname = $2))))
     UNION
     SELECT c.oid::int, n.nspname, c.relname, true FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE $2::text IS NULL AND c.oid = to_regclass($3)
     ORDER BY 4 DESC, 2`,
    [name, sch ?? null, table],
    'describe_table',
  );
  const visible = rows.filter((r) => r.visible);
  const pick = rows.length === 1 ? rows[0] : visible.length === 1 ? visible[0] : undefined;
  if (pick) return pick;
  if (rows.length > 1) {
    throw new SqlError(
      // Schema names come from the database: fenced like any other data from it.
      `describe_table: "${table}" exists in several schemas; their names, from the database: ${fence(rows.map((r) => r.schema).join(', '))}\nPass schema to choose.`,
    );
  }
  throw new SqlError(
    `describe_table: no table or view named "${table}"${sch ? ` in schema ${sch}` : ''} on ${s.target.where}. List them with list_tables.`,
  );
}

export async function describeTable(
  s: Session,
  oid: number,
  maxBytes = SQL_MAX_BYTES,
): Promise<Record<string, unknown>> {
  const rel = 'c.oid::regclass::text';
  const M = '$2::int';
  const CONSTRAINT_DEF = clip('pg_get_constraintdef(k.oid)', "format('pg_get_constraintdef(%s)', k.oid)", M);
  const rows = await s.read<{ info: Record<string, unknown> }>(
    `SELECT json_strip_nulls(json_build_object(
      'schema', n.nspname, 'name', c.relname, 'type', ${KIND}, 'row_estimate', ${ROW_ESTIMATE},
      'row_count', ${ROW_COUNT}, 'never_analyzed', ${NEVER_ANALYZED},
      'size', (SELECT pg_size_pretty(b) FROM (SELECT ${BYTES} AS b) x WHERE b IS NOT NULL),
      'comment', ${clip("obj_description(c.oid, 'pg_class')", `format('obj_description(%L::regclass, ''pg_class'')', ${rel})`, M)},
      'row_level_security', CASE WHEN c.relrowsecurity THEN true END,
      'definition', CASE WHEN c.relkind IN ('v', 'm') THEN ${clip('pg_get_viewdef(c.oid, true)', `format('pg_get_viewdef(%L::regclass, true)', ${rel})`, M)} END,
      'partition_key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END
    )) AS info,
    (SELECT coalesce(json_agg(json_strip_nulls(json_build_object(
        'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT a.attnotnull,
        'default', ${clip('pg_get_expr(d.adbin, d.adrelid)', "format('(SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE oid = %s)', d.oid)", M)},
        'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
        'generated', CASE a.attgenerated WHEN 's' THEN 'stored' WHEN 'v' THEN 'virtual' END,
        'comment', ${clip('col_description(c.oid, a.attnum)', `format('col_description(%L::regclass, %s)', ${rel}, a.attnum)`, M)})) ORDER BY a.attnum), '[]')
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
    (SELECT coalesce(json_agg(json_build_object(
        'name', k.conname,
        'type', CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check'
                 WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger' END,
        'definition', ${CONSTRAINT_DEF}) ORDER BY k.contype, k.conname), '[]')
      FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c', 'x', 't')) AS constraints,
    (SELECT coalesce(json_agg(json_build_object(
        'name', k.conname,
        'columns', (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n),
        'references', k.confrelid::regclass::text,
        'references_columns', (SELECT array_agg(a.attname::text ORDER BY u.i) FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n),
        'on_update', CASE k.confupdtype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END,
        'on_delete', CASE k.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END,
        'definition', ${CONSTRAINT_DEF}) ORDER BY k.conname), '[]')
      FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f') AS foreign_keys,
    (SELECT coalesce(json_agg(json_build_object(
        'table', k.conrelid::regclass::text, 'constraint', k.conname, 'definition', ${CONSTRAINT_DEF})
        ORDER BY k.conrelid::regclass::text, k.conname), '[]')
      FROM pg_constraint k WHERE k.confrelid = c.oid AND k.contype = 'f') AS referenced_by,
    (SELECT coalesce(json_agg(json_strip_nulls(json_build_object(
        'name', i.relname, 'definition', ${clip('pg_get_indexdef(x.indexrelid)', "format('pg_get_indexdef(%s)', x.indexrelid)", M)},
        'primary', x.indisprimary, 'unique', x.indisunique,
        'valid', CASE WHEN NOT x.indisvalid THEN false END,
        'size', pg_size_pretty(pg_relation_size(x.indexrelid)),
        'scans', st.idx_scan)) ORDER BY i.relname), '[]')
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      LEFT JOIN pg_stat_user_indexes st ON st.indexrelid = x.indexrelid
      WHERE x.indrelid = c.oid) AS indexes,
    (SELECT coalesce(json_agg(json_build_object('name', t.tgname, 'definition', ${clip('pg_get_triggerdef(t.oid, true)', "format('pg_get_triggerdef(%s, true)', t.oid)", M)})
        ORDER BY t.tgname), '[]')
      FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid, catalogStringMax(maxBytes)],
    'describe_table',
  );
  const row = rows[0] as Record<string, unknown> | undefined;
  if (!row)
    throw new SqlError('describe_table: the table disappeared while it was being described; try again.');
  const { info, ...rest } = row as { info: Record<string, unknown> };
  return { ...honestRows(info), ...withinBudget(rest) };
}

/**
 * Entries of each list describe_table shows at most, and where the rest is read: a table's answer stays
 * bounded however many columns, indexes or referencing tables it has (STYLE.md 26).
 */
export const DESCRIBE_LIMITS: Record<string, { max: number; rest: string }> = {
  columns: { max: 150, rest: 'information_schema.columns ORDER BY ordinal_position' },
  constraints: { max: 50, rest: 'pg_constraint WHERE conrelid = the table' },
  foreign_keys: { max: 50, rest: "pg_constraint WHERE conrelid = the table AND contype = 'f'" },
  referenced_by: { max: 30, rest: "pg_constraint WHERE confrelid = the table AND contype = 'f'" },
  indexes: { max: 50, rest: 'pg_indexes' },
  triggers: { max: 30, rest: 'pg_trigger WHERE tgrelid = the table' },
};

/** `lists` with each cut to its {@link DESCRIBE_LIMITS} entry, and a note naming what was left out. */
function withinBudget(lists: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...lists };
  const cut: string[] = [];
  for (const [key, { max, rest }] of Object.entries(DESCRIBE_LIMITS)) {
    const list = lists[key];
    if (!Array.isArray(list) || list.length <= max) continue;
    out[key] = list.slice(0, max);
    cut.push(`${key}: ${max} of ${list.length} shown (the rest: run_sql_readonly on ${rest}, OFFSET ${max})`);
  }
  return cut.length ? { ...out, cut: cut.join('; ') } : out;
}

/** The statements neon-mcp runs around every call (transactions, the connection reset). */
const HOUSEKEEPING = [
  'BEGIN',
  'BEGIN READ ONLY',
  'COMMIT',
  'ROLLBACK',
  'SELECT WHERE false',
  ...RESET.split('; '),
];

type SlowSort = 'total_time' | 'mean_time' | 'calls';

/** Where pg_stat_statements is installed in this database, if it is. */
export async function statStatementsSchema(s: Session): Promise<string | undefined> {
  const rows = await s.read<{ schema: string }>(
    `SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_stat_statements'`,
    undefined,
    'list_slow_queries',
  );
  return rows[0]?.schema;
}

export async function slowQueries(
  s: Session,
  schema: string,
  opts: { sort: SlowSort; limit: number; minCalls: number; maxBytes?: number },
): Promise<{ queries: Record<string, unknown>[]; stats_since?: string }> {
  const order = { total_time: 's.total_exec_time', mean_time: 's.mean_exec_time', calls: 's.calls' }[
    opts.sort
  ];
  const queries = await s.read(
    `SELECT s.queryid::text AS queryid,
       ${clip('s.query', `format('(SELECT query FROM %s.pg_stat_statements WHERE queryid = %s LIMIT 1)', '${schema.replace(/'/g, "''")}'::text, s.queryid)`, '$4::int')} AS query, s.calls,
       round(s.total_exec_time::numeric, 2)::float8 AS total_ms,
       round(s.mean_exec_time::numeric, 2)::float8 AS mean_ms,
       round(s.max_exec_time::numeric, 2)::float8 AS max_ms,
       s.rows,
       round(100.0 * s.shared_blks_hit / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 1)::float8 AS cache_hit_pct
     FROM ${schema}.pg_stat_statements s
     WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND s.toplevel AND s.calls >= $2
       AND s.query NOT LIKE '%/* neon-mcp */%' AND NOT s.query = ANY ($3::text[])
       AND s.query !~ '^SET (statement_timeout|idle_in_transaction_session_timeout) = [0-9]+$'
     ORDER BY ${order} DESC LIMIT $1`,
    [opts.limit, opts.minCalls, HOUSEKEEPING, catalogStringMax(opts.maxBytes ?? SQL_MAX_BYTES)],
    'list_slow_queries',
  );
  let since: string | undefined;
  try {
    const info = await s.read<{ since: string }>(
      `SELECT stats_reset::text AS since FROM ${schema}.pg_stat_statements_info`,
      undefined,
      'list_slow_queries',
    );
    since = info[0]?.since;
  } catch {
    // pg_stat_statements_info is missing before version 1.9 of the extension.
    since = undefined;
  }
  return { queries, ...(since ? { stats_since: since } : {}) };
}
