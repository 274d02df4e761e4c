/**
 * Row caps of every SQL tool that returns rows (`--sql-max-rows`), against a real PostgreSQL server:
 * run_sql, run_sql_readonly, run_sql_transaction (one budget for the whole transaction, shrinking
 * with each statement), list_tables, list_slow_queries (its own `limit`) and the verify query of
 * prepare_database_migration. A cap that is raised, ignored or reset shows up as too many rows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api, { preload: ['pg_stat_statements'] });

let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const CAP = 5;
function project() {
  const seeded = api.fake.seedProject('caps');
  return { project_id: seeded.project.id as string, branch_id: seeded.branch.id as string };
}
const series = (n: number) => `SELECT g FROM generate_series(1, ${n}) g`;
const numbers = (n: number) => Array.from({ length: n }, (_, i) => ({ g: i + 1 }));
const notice = (more: number) =>
  `truncated: ${more} more rows not shown (at most ${CAP} rows are returned; --sql-max-rows). ` +
  'Narrow the query with WHERE, LIMIT/OFFSET or an aggregate.';

describe('run_sql and run_sql_readonly', () => {
  for (const tool of ['run_sql', 'run_sql_readonly'] as const) {
    it(`${tool}: at most --sql-max-rows rows, the rest counted; exactly at the cap nothing is cut`, async () => {
      const { project_id } = project();
      conn = await connect({ sqlMaxRows: CAP });
      const over = await conn.ok(tool, { project_id, sql: series(1234) });
      expect(over.rows).toEqual(numbers(CAP));
      expect(over.row_count).toBe(1234);
      expect(over.truncated).toBe(notice(1234 - CAP));
      const exact = await conn.ok(tool, { project_id, sql: series(CAP) });
      expect(exact.rows).toEqual(numbers(CAP));
      expect(exact.truncated).toBeUndefined();
      const one = await conn.ok(tool, { project_id, sql: series(CAP + 1) });
      expect(one.rows).toEqual(numbers(CAP));
      expect(one.truncated).toBe(notice(1));
    });
  }

  it('the default cap is 500 rows', async () => {
    const { project_id } = project();
    conn = await connect();
    const res = await conn.ok('run_sql_readonly', { project_id, sql: series(501) });
    expect(res.rows).toHaveLength(500);
    expect(res.truncated).toMatch(/^truncated: 1 more rows not shown \(at most 500 rows/);
  });
});

describe('run_sql_transaction', () => {
  it('shares one budget across the statements: each gets what the earlier ones left', async () => {
    const { project_id } = project();
    conn = await connect({ sqlMaxRows: CAP });
    const out = await conn.ok('run_sql_transaction', {
      project_id,
      statements: [series(3), series(4), series(2), 'SELECT 1 AS one'],
    });
    expect(out.committed).toBe(true);
    expect(out.results.map((r: any) => r.rows)).toEqual([numbers(3), numbers(2), [], []]);
    expect(out.results.map((r: any) => r.row_count)).toEqual([3, 4, 2, 1]);
    expect(out.results.map((r: any) => r.truncated)).toEqual([undefined, notice(2), notice(2), notice(1)]);
  });

  it('one statement alone is capped like run_sql', async () => {
    const { project_id } = project();
    conn = await connect({ sqlMaxRows: CAP });
    const out = await conn.ok('run_sql_transaction', { project_id, statements: [series(40)] });
    expect(out.results[0].rows).toEqual(numbers(CAP));
    expect(out.results[0].truncated).toBe(notice(40 - CAP));
  });
});

describe('list_tables and list_slow_queries', () => {
  it('list_tables lists at most --sql-max-rows tables and says how many more there are', async () => {
    const { project_id, branch_id } = project();
    await dbs.query(
      branch_id,
      Array.from({ length: CAP + 3 }, (_, i) => `CREATE TABLE t${i} (id int);`).join('\n'),
    );
    conn = await connect({ sqlMaxRows: CAP });
    const list = await conn.ok('list_tables', { project_id });
    expect(list.tables).toHaveLength(CAP);
    expect(list.truncated).toBe(
      `3 more tables not shown (at most ${CAP} per answer; --sql-max-rows). Pass offset ${CAP} for the next page, or schema to list one schema.`,
    );
  });

  it('list_slow_queries returns at most `limit` queries', async () => {
    const { project_id, branch_id } = project();
    await dbs.admin(branch_id, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    for (let i = 0; i < 6; i++) await dbs.query(branch_id, `SELECT ${i} AS n${i}, count(*) FROM pg_class`);
    conn = await connect({ sqlMaxRows: CAP });
    const two = await conn.ok('list_slow_queries', { project_id, limit: 2 });
    expect(two.queries).toHaveLength(2);
    const all = await conn.ok('list_slow_queries', { project_id, limit: 100 });
    expect(all.queries.length).toBeGreaterThan(2);
  });
});

describe('prepare_database_migration', () => {
  it('caps the rows of verify_sql', async () => {
    const { project_id } = project();
    conn = await connect({ sqlMaxRows: CAP });
    const out = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'CREATE TABLE capped (id int)',
      verify_sql: series(30),
    });
    expect(out.verify.rows).toEqual(numbers(CAP));
    expect(out.verify.row_count).toBe(30);
    expect(out.verify.truncated).toBe(notice(30 - CAP));
  });
});
