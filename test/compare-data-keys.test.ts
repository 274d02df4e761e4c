/**
 * compare_data on tables whose primary key has several columns (src/sql/data-diff.ts), through a real
 * MCP client on the Neon fake backed by real PostgreSQL: ranges split on the key's first column, rows
 * matched by the whole key; a first-column value shared by too many rows to compare row by row is
 * reported as not compared, never counted as equal.
 */
import { describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api);

/** A project whose root branch gets `setup`, and a child branch copied from it. */
async function branches(setup: string) {
  const { project, branch } = api.fake.seedProject('keys');
  project.history_retention_seconds = 0;
  const project_id = project.id as string;
  const branch_id = branch.id as string;
  await dbs.query(branch_id, setup);
  const child = api.fake.makeBranch(project_id, { name: 'dev', parent_id: branch_id });
  api.fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
  api.fake.makeRole(child.id, 'neondb_owner');
  await dbs.ensure(child.id);
  return { project_id, base: branch_id, child: child.id as string };
}

type Row = Record<string, unknown>;

describe('compare_data with a key of several columns', () => {
  it('counts and samples rows added, removed and changed by an (int, text) key', async () => {
    const { project_id, base, child } = await branches(
      'CREATE TABLE lines (order_id int, sku text, qty int NOT NULL, PRIMARY KEY (order_id, sku)); ' +
        "INSERT INTO lines SELECT o, 'sku-' || s, o + s FROM generate_series(1, 2000) o, generate_series(1, 10) s",
    );
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const same = await conn.ok('compare_data', { project_id, table: 'lines', branch_id: child });
      expect(same).toMatchObject({ added: 0, removed: 0, changed: 0, key: ['order_id', 'sku'] });
      await dbs.query(
        child,
        // The same order_id on both sides with another sku: only the whole key tells them apart.
        "UPDATE lines SET qty = 0 WHERE (order_id, sku) IN ((7, 'sku-3'), (1500, 'sku-10'), (1500, 'sku-2')); " +
          "DELETE FROM lines WHERE (order_id, sku) IN ((3, 'sku-1'), (1999, 'sku-5')); " +
          "INSERT INTO lines VALUES (3, 'sku-11', 1), (2001, 'sku-1', 1), (1999, 'sku-50', 5)",
      );
      const diff = await conn.ok('compare_data', { project_id, table: 'lines', branch_id: child });
      expect(diff).toMatchObject({ added: 3, removed: 2, changed: 3, base_branch_id: base });
      expect(diff.not_compared).toBeUndefined();
      expect(diff.sample.added).toEqual([
        { order_id: 3, sku: 'sku-11', qty: 1 },
        { order_id: 1999, sku: 'sku-50', qty: 5 },
        { order_id: 2001, sku: 'sku-1', qty: 1 },
      ]);
      expect(diff.sample.removed).toEqual([
        { order_id: 3, sku: 'sku-1', qty: 4 },
        { order_id: 1999, sku: 'sku-5', qty: 2004 },
      ]);
      expect(diff.sample.changed).toEqual([
        { branch: { order_id: 7, sku: 'sku-3', qty: 0 }, base: { order_id: 7, sku: 'sku-3', qty: 10 } },
        {
          branch: { order_id: 1500, sku: 'sku-10', qty: 0 },
          base: { order_id: 1500, sku: 'sku-10', qty: 1510 },
        },
        {
          branch: { order_id: 1500, sku: 'sku-2', qty: 0 },
          base: { order_id: 1500, sku: 'sku-2', qty: 1502 },
        },
      ]);
      // Split on order_id: only small ranges of the 20,000 rows were compared row by row.
      expect(diff.work.rows_compared).toBeLessThan(2000);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('matches a three-column key whose text first column has few values (ranges that cannot split)', async () => {
    const { project_id, child } = await branches(
      'CREATE TABLE sales (region text, year int, n bigint, amount numeric NOT NULL, PRIMARY KEY (region, year, n)); ' +
        "INSERT INTO sales SELECT r, y, n, n * 1.5 FROM unnest(ARRAY['eu', 'us', 'asia', 'af', 'oc']) r, " +
        'generate_series(2000, 2019) y, generate_series(1, 100) n',
    );
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      await dbs.query(
        child,
        "UPDATE sales SET amount = -1 WHERE (region, year, n) IN (('eu', 2005, 7), ('us', 2019, 100)); " +
          "DELETE FROM sales WHERE (region, year, n) = ('asia', 2000, 1); " +
          "INSERT INTO sales VALUES ('eu', 2005, 101, 1), ('zz', 1999, 1, 1)",
      );
      const diff = await conn.ok('compare_data', { project_id, table: 'sales', branch_id: child });
      expect(diff).toMatchObject({ added: 2, removed: 1, changed: 2, key: ['region', 'year', 'n'] });
      expect(diff.not_compared).toBeUndefined();
      expect(diff.sample.added.map((r: Row) => [r.region, r.year, r.n])).toEqual([
        ['eu', 2005, 101],
        ['zz', 1999, 1],
      ]);
      expect(diff.sample.removed.map((r: Row) => [r.region, r.year, r.n])).toEqual([['asia', 2000, 1]]);
      expect(
        diff.sample.changed.map((c: { branch: Row; base: Row }) => [
          c.branch.n,
          c.branch.amount,
          c.base.amount,
        ]),
      ).toEqual([
        [7, '-1', '10.5'],
        [100, '-1', '150.0'],
      ]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('says which range of the first column it could not compare when too many rows share one value', async () => {
    const { project_id, child } = await branches(
      'CREATE TABLE events (g int, id int, v text NOT NULL, PRIMARY KEY (g, id)); ' +
        "INSERT INTO events SELECT 1, i, 'v' FROM generate_series(1, 60001) i; " +
        "INSERT INTO events SELECT 5, i, 'v' FROM generate_series(1, 3000) i; " +
        "INSERT INTO events SELECT g, i, 'v' FROM generate_series(10, 1000) g, generate_series(1, 5) i",
    );
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const same = await conn.ok('compare_data', { project_id, table: 'events', branch_id: child });
      expect(same).toMatchObject({ added: 0, removed: 0, changed: 0 });
      expect(same.not_compared).toBeUndefined();
      await dbs.query(
        child,
        "UPDATE events SET v = 'w' WHERE (g, id) IN ((1, 30000), (5, 2999), (500, 3)); " +
          'DELETE FROM events WHERE (g, id) = (5, 1)',
      );
      const diff = await conn.ok('compare_data', { project_id, table: 'events', branch_id: child });
      // g = 5 (3,000 rows with one value) is compared row by row; g = 1 (60,001) is not, and says so.
      expect(diff).toMatchObject({ added: 0, removed: 1, changed: 2 });
      expect(diff.sample.changed.map((c: { branch: Row }) => [c.branch.g, c.branch.id])).toEqual([
        [5, 2999],
        [500, 3],
      ]);
      expect(diff.not_compared).toEqual([{ from: '1', before: '2', branch_rows: 60001, base_rows: 60001 }]);
      expect(diff.key).toEqual(['g', 'id']);
      expect(diff.not_compared_note).toMatch(
        /^INCOMPLETE: 1 range\(s\) of the key's first column key\[0\] .*60001 rows on the branch/,
      );
      expect(diff.not_compared_note).toMatch(/over 50,000 rows share one value of key\[0\]/);
    } finally {
      await conn.close();
    }
  }, 120_000);

  it('quotes key columns with spaces and quotes, and keys with quotes and commas stay whole', async () => {
    const { project_id, child } = await branches(
      'CREATE TABLE "Odd Table" ("Tenant ID" int, "it\'s" text, "x""y" int, PRIMARY KEY ("Tenant ID", "it\'s")); ' +
        'INSERT INTO "Odd Table" SELECT t, k, t FROM generate_series(1, 300) t, ' +
        "unnest(ARRAY['a\", \"b', 'a', '\"b', '[x]', 'it''s', ' ']) k",
    );
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      await dbs.query(
        child,
        `UPDATE "Odd Table" SET "x""y" = 0 WHERE ("Tenant ID", "it's") IN ((5, 'a", "b'), (250, 'it''s')); ` +
          `DELETE FROM "Odd Table" WHERE ("Tenant ID", "it's") = (7, '"b'); ` +
          `INSERT INTO "Odd Table" VALUES (7, 'a", "b"', 1)`,
      );
      const diff = await conn.ok('compare_data', { project_id, table: 'Odd Table', branch_id: child });
      expect(diff).toMatchObject({ added: 1, removed: 1, changed: 2, key: ['Tenant ID', "it's"] });
      expect(diff.sample.added).toEqual([{ 'Tenant ID': 7, "it's": 'a", "b"', 'x"y': 1 }]);
      expect(diff.sample.removed).toEqual([{ 'Tenant ID': 7, "it's": '"b', 'x"y': 7 }]);
      expect(diff.sample.changed).toEqual([
        {
          branch: { 'Tenant ID': 5, "it's": 'a", "b', 'x"y': 0 },
          base: { 'Tenant ID': 5, "it's": 'a", "b', 'x"y': 5 },
        },
        {
          branch: { 'Tenant ID': 250, "it's": "it's", 'x"y': 0 },
          base: { 'Tenant ID': 250, "it's": "it's", 'x"y': 250 },
        },
      ]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('still refuses a table without a primary key; a key with INCLUDE columns is a one-column key', async () => {
    const { project_id, child } = await branches(
      'CREATE TABLE nokey (a int, b int); INSERT INTO nokey VALUES (1, 1); ' +
        'CREATE TABLE incl (id int, v int, PRIMARY KEY (id) INCLUDE (v)); INSERT INTO incl SELECT g, g FROM generate_series(1, 100) g',
    );
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      expect(await conn.fails('compare_data', { project_id, table: 'nokey', branch_id: child })).toMatch(
        /compare_data: table nokey has no primary key, so its rows cannot be matched between branches/,
      );
      await dbs.query(child, 'UPDATE incl SET v = 0 WHERE id = 42');
      const diff = await conn.ok('compare_data', { project_id, table: 'incl', branch_id: child });
      expect(diff).toMatchObject({ added: 0, removed: 0, changed: 1 });
      expect(diff.key).toBeUndefined();
      expect(diff.sample.changed).toEqual([{ branch: { id: 42, v: 0 }, base: { id: 42, v: 42 } }]);
    } finally {
      await conn.close();
    }
  }, 60_000);
});
