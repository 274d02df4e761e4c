/**
 * compare_data on a large table (issue 27, item 6): 1,000,000 rows, a copy of them as a second
 * database (as a branch is), 10 rows changed in the copy (4 updated, 3 deleted, 3 inserted), then
 * src/sql/data-diff.ts compares them through the SQL layer, as the tool does, against the test
 * PostgreSQL 18 server. Prints the counts, the time, and how many rows were compared row by row
 * (the rest was compared by checksums of key ranges inside PostgreSQL).
 *
 * A measurement, not a test of behaviour: run it with `npm run bench:sql -- bench/data-diff.measure.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRelation } from '../src/sql/catalog.js';
import { compareData, tableOf } from '../src/sql/data-diff.js';
import { Connections } from '../src/sql/pools.js';
import { withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from '../test/pg/server.js';

const ROWS = 1_000_000;

describe('compare_data on 1,000,000 rows with 10 changed (measurement)', () => {
  let pg: TestPostgres;
  const pool = new Connections({ idleMs: 60_000, max: 2 });
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.query('postgres', 'CREATE DATABASE diff_base');
    await pg.query(
      'diff_base',
      `CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, item text NOT NULL, total numeric(10,2), at timestamptz NOT NULL);
       INSERT INTO orders SELECT g, g % 9973, 'item ' || g, (g % 1000) / 10.0, '2026-01-01'::timestamptz + g * interval '1 second'
         FROM generate_series(1, ${ROWS}) g`,
    );
    await pg.query('diff_base', 'VACUUM ANALYZE orders');
    await pg.query(
      'postgres',
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'diff_base' AND pid <> pg_backend_pid()",
    );
    await pg.query('postgres', 'CREATE DATABASE diff_branch TEMPLATE diff_base');
    await pg.query(
      'diff_branch',
      `UPDATE orders SET total = total + 1 WHERE id IN (17, 250000, 500001, 999999);
       DELETE FROM orders WHERE id IN (1, 333333, 1000000);
       INSERT INTO orders VALUES (1000001, 1, 'new', 1, now()), (1000002, 2, 'new', 2, now()), (0, 3, 'new', 3, now())`,
    );
  }, 600_000);
  afterAll(async () => {
    await pool.closeAll();
    await pg?.stop();
  });

  it('measures', async () => {
    const opts = { signal: new AbortController().signal, timeoutMs: 600_000 };
    const runs: number[] = [];
    let result: Awaited<ReturnType<typeof compareData>> | undefined;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      result = await withSession(
        { uri: pg.uri('diff_branch'), where: 'branch' },
        opts,
        (a) =>
          withSession(
            { uri: pg.uri('diff_base'), where: 'base' },
            opts,
            async (b) => {
              a.beginReadOnly();
              b.beginReadOnly();
              const [x, y] = [
                await findRelation(a, 'orders', undefined),
                await findRelation(b, 'orders', undefined),
              ];
              return compareData(a, b, await tableOf(a, x.oid), await tableOf(b, y.oid));
            },
            pool,
          ),
        pool,
      );
      runs.push(performance.now() - started);
    }
    expect(result).toMatchObject({ added: 3, removed: 3, changed: 4 });
    const median = [...runs].sort((p, q) => p - q)[1] as number;
    console.log(
      `| ${ROWS.toLocaleString('en')} rows, 10 changed | ${result?.added} added, ${result?.removed} removed, ${result?.changed} changed | ` +
        `${(median / 1000).toFixed(2)} s (median of 3: ${runs.map((r) => (r / 1000).toFixed(2)).join(', ')}) | ` +
        `${result?.work.ranges_compared} ranges by checksum, ${result?.work.rows_compared} rows row by row |`,
    );
  });
});
