/**
 * Catalog answers do not grow with the schema (issue 26 item 1, STYLE.md 26): on a 300-table schema
 * list_tables answers a bounded page with the way to the rest (offset), and describe_table of a
 * table with 400 columns and 40 referencing tables answers a bounded description naming what it cut.
 * Through the MCP tools, on the fake with real PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DESCRIBE_LIMITS, LIST_TABLES_BUDGET } from '../src/sql/catalog.js';
import { connect, text, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api);
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const TABLES = 300;

/** A branch whose database has 300 commented tables, a 400-column table and 40 tables referencing it. */
async function bigSchema() {
  const { project, branch } = api.fake.seedProject();
  await dbs.query(
    branch.id,
    `DO $$ BEGIN
       FOR i IN 1..${TABLES} LOOP
         EXECUTE format('CREATE TABLE orders_%s (id bigint PRIMARY KEY, customer text, total numeric)', lpad(i::text, 4, '0'));
         EXECUTE format('COMMENT ON TABLE orders_%s IS %L', lpad(i::text, 4, '0'), repeat('A table of orders. ', 20));
       END LOOP;
       EXECUTE 'CREATE SCHEMA wide';
       EXECUTE (SELECT 'CREATE TABLE wide.t (id int PRIMARY KEY, ' || string_agg(format('c%s int', g), ', ') || ')' FROM generate_series(1, 400) g);
       FOR i IN 1..40 LOOP
         EXECUTE format('CREATE TABLE wide.ref_%s (id int PRIMARY KEY, t_id int REFERENCES wide.t (id))', i);
       END LOOP;
     END $$`,
  );
  return { project_id: project.id as string, branch_id: branch.id as string };
}

describe('catalog answers within a fixed budget', () => {
  it('list_tables on 300 tables: bounded pages, offset reads on to the last', async () => {
    const { project_id, branch_id } = await bigSchema();
    conn = await connect();
    const seen: string[] = [];
    let offset: number | undefined;
    let pages = 0;
    let widest = 0;
    do {
      const res = await conn.call('list_tables', { project_id, branch_id, ...(offset ? { offset } : {}) });
      expect(res.isError, text(res)).toBeFalsy();
      const out = res.structuredContent as any;
      widest = Math.max(widest, JSON.stringify(out.tables).length);
      expect(JSON.stringify(res.structuredContent).length).toBeLessThan(LIST_TABLES_BUDGET + 3_000);
      expect(out.total).toBe(TABLES + 41);
      seen.push(...out.tables.map((t: any) => `${t.schema}.${t.name}`));
      if (out.next_offset !== undefined) {
        expect(out.truncated).toMatch(
          new RegExp(
            `more tables not shown \\(each answer holds about 10,000 characters of tables\\)\\. Pass offset ${out.next_offset} for the next page, or schema`,
          ),
        );
        expect(out.next_offset).toBe(seen.length);
      } else expect(out.truncated).toBeUndefined();
      offset = out.next_offset;
      pages++;
    } while (offset !== undefined && pages < 50);
    expect(widest).toBeLessThanOrEqual(LIST_TABLES_BUDGET);
    expect(pages).toBeGreaterThan(3);
    // Every table once, in order, none twice.
    expect(new Set(seen).size).toBe(TABLES + 41);
    expect(seen).toHaveLength(TABLES + 41);
    expect(seen[0]).toBe('public.orders_0001');
    expect(seen).toContain('wide.t');

    const bad = await conn.fails('list_tables', { project_id, branch_id, offset: 1.5 });
    expect(bad).toMatch(/offset is a whole number from 0/);
  });

  it('describe_table of a 400-column table with 40 referencing tables: bounded, the cut named', async () => {
    const { project_id, branch_id } = await bigSchema();
    conn = await connect();
    const res = await conn.call('describe_table', { project_id, branch_id, table: 'wide.t' });
    expect(res.isError, text(res)).toBeFalsy();
    const { table } = res.structuredContent as any;
    expect(table.columns).toHaveLength(DESCRIBE_LIMITS.columns.max);
    expect(table.columns[0].name).toBe('id');
    expect(table.referenced_by).toHaveLength(DESCRIBE_LIMITS.referenced_by.max);
    expect(table.cut).toBe(
      'columns: 150 of 401 shown (the rest: run_sql_readonly on information_schema.columns ORDER BY ordinal_position, OFFSET 150); ' +
        "referenced_by: 30 of 40 shown (the rest: run_sql_readonly on pg_constraint WHERE confrelid = the table AND contype = 'f', OFFSET 30)",
    );
    expect(JSON.stringify(res.structuredContent).length).toBeLessThan(16_000);
  });
});
