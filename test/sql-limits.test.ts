/**
 * Answers bounded in bytes as well as rows, on a real PostgreSQL server: long values cut with their
 * length, rows past the byte budget counted and not kept (so memory stays near the cap while a large
 * result is read), and the budget shared by the statements of a session.
 *
 * How much memory these results take while they are read is a measurement, not a test: `npm run bench`
 * reports the peak resident memory of each size case (docs/BENCHMARKS.md). Resident memory depends on
 * when the garbage collector runs and on the allocator, which differ between Node.js versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connections } from '../src/sql/pools.js';
import { cutNote } from '../src/sql/protocol.js';
import { runOne, runTransaction, truncatedNotice } from '../src/sql/run.js';
import { type Session, SQL_MAX_BYTES, withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
const pool = new Connections({ idleMs: 60_000, max: 2 });

beforeAll(async () => {
  server = await startPostgres();
}, 90_000);
afterAll(async () => {
  await pool.closeAll();
  await server?.stop();
});

function session<T>(fn: (s: Session) => Promise<T>, maxBytes?: number): Promise<T> {
  return withSession(
    { uri: server.uri('postgres'), where: 'the test server' },
    { signal: new AbortController().signal, timeoutMs: 30_000, maxBytes },
    fn,
    pool,
  );
}

const MB = 1024 * 1024;

describe('byte cap', () => {
  it('defaults to 256 KiB', () => {
    expect(SQL_MAX_BYTES).toBe(262_144);
  });

  it('answers 300 rows of 1 MB within the cap, cutting values and counting the rows left out', async () => {
    const r = await session((s) =>
      runOne(s, `SELECT g, repeat('x', ${MB}) AS v FROM generate_series(1, 300) g`, {
        maxRows: 500,
        readOnly: true,
        what: 'test',
      }),
    );
    const kept = JSON.stringify(r.rows).length;
    expect(kept).toBeLessThanOrEqual(SQL_MAX_BYTES);
    expect(kept).toBeGreaterThan(SQL_MAX_BYTES / 2);
    expect(r.rows.length).toBeGreaterThan(1);
    for (const row of r.rows) expect(String(row.v).endsWith(cutNote(MB))).toBe(true);
    // Rows are kept in order, and the rest is counted (here past the bytes counting reads: a lower bound).
    expect(r.rows.map((row) => row.g)).toEqual(r.rows.map((_, i) => i + 1));
    expect(r.more).toBeGreaterThan(0);
    expect(r.rows.length + r.more).toBeLessThanOrEqual(300);
    expect(r.bytes).toEqual({ max: SQL_MAX_BYTES, cutValues: r.rows.length, rowsLeftOut: true });
    expect(truncatedNotice(r, 500)).toMatch(
      /more rows not shown; \d+ long values cut .*262144 bytes of values, --sql-max-bytes/,
    );
  });

  it('cuts one 50 MB value to its share of the cap, saying how long it was', async () => {
    const r = await session((s) =>
      runOne(s, `SELECT 1 AS id, repeat('y', ${50 * MB}) AS v, 'short' AS w`, {
        maxRows: 500,
        readOnly: false,
        what: 'test',
      }),
    );
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]?.id).toBe(1);
    expect(r.rows[0]?.w).toBe('short');
    const v = String(r.rows[0]?.v);
    expect(v).toMatch(/^y+…\[cut: 52428800 bytes\]$/);
    expect(v.length).toBeLessThanOrEqual(SQL_MAX_BYTES / 16 + 32);
    expect(r.more).toBe(0);
    expect(r.row_count).toBe(1);
    expect(r.bytes).toEqual({ max: SQL_MAX_BYTES, cutValues: 1, rowsLeftOut: false });
  });

  it('refuses a row larger than 64 MiB before reading it, and the pool goes on', async () => {
    const error = await session((s) =>
      runOne(s, `SELECT 1 AS id, repeat('z', ${100 * MB}) AS v`, {
        maxRows: 500,
        readOnly: true,
        what: 'test',
      }),
    ).catch((e: unknown) => e);
    expect(String(error)).toMatch(
      /a row of the result is 1048576\d\d bytes, more than neon-mcp reads \(67108864/,
    );
    expect(String(error)).toMatch(/nothing was applied.*left\(col, 1000\)/);
    const next = await session((s) =>
      runOne(s, 'SELECT 2 AS x', { maxRows: 5, readOnly: true, what: 'test' }),
    );
    expect(next.rows).toEqual([{ x: 2 }]);
  });

  it('cuts between characters, and leaves a cut JSON value as text', async () => {
    const r = await session(
      (s) =>
        runOne(
          s,
          `SELECT repeat('é', 20000) AS accent, json_build_object('k', repeat('z', 5000)) AS doc, '{"a":1}'::jsonb AS small`,
          { maxRows: 10, readOnly: true, what: 'test' },
        ),
      4096,
    );
    const row = r.rows[0] ?? {};
    expect(String(row.accent)).toMatch(/^é+…\[cut: 40000 bytes\]$/);
    expect(Buffer.byteLength(String(row.accent).split('…')[0] ?? '')).toBeLessThanOrEqual(256);
    expect(String(row.accent)).not.toContain('\uFFFD');
    expect(typeof row.doc).toBe('string');
    expect(String(row.doc)).toMatch(/^\{"k" : "z+…\[cut: 5010 bytes\]$/);
    expect(row.small).toEqual({ a: 1 });
  });

  it('shares the budget between the statements of a transaction', async () => {
    const { results } = await session((s) =>
      runTransaction(
        s,
        [
          { sql: "SELECT repeat('a', 10000) AS v FROM generate_series(1, 20)" },
          { sql: "SELECT repeat('b', 10000) AS v FROM generate_series(1, 20)" },
        ],
        { maxRows: 500, readOnly: true, tool: 'test' },
      ),
    );
    const [first, second] = results;
    expect(first?.rows).toHaveLength(20);
    expect(first?.bytes).toBeUndefined();
    expect(second?.rows.length).toBeGreaterThan(0);
    expect(second?.rows.length).toBeLessThan(20);
    expect((second?.rows.length ?? 0) + (second?.more ?? 0)).toBe(20);
    expect(second?.row_count).toBe(20);
    expect(second?.bytes?.rowsLeftOut).toBe(true);
  });

  it('keeps no rows once earlier statements of the session spent the budget', async () => {
    const { results } = await session(
      (s) =>
        runTransaction(
          s,
          [
            { sql: "SELECT repeat('a', 280) AS v" },
            { sql: "SELECT 'b' AS v FROM generate_series(1, 3)" },
            { sql: "SELECT 'c' AS v" },
            { sql: "SELECT 'd' AS v" },
          ],
          { maxRows: 500, readOnly: true, tool: 'test' },
        ),
      300,
    );
    expect(String(results[0]?.rows[0]?.v)).toMatch(/^a{256}…\[cut: 280 bytes\]$/);
    expect(results[1]?.rows).toEqual([{ v: 'b' }]);
    expect(results[1]).toMatchObject({ more: 2, row_count: 3, bytes: { rowsLeftOut: true } });
    // The first row of a statement always shows something while any budget is left…
    expect(results[2]?.rows).toEqual([{ v: '…[cut: 1 bytes]' }]);
    // …and nothing once it is spent.
    expect(results[3]).toMatchObject({
      rows: [],
      more: 1,
      row_count: 1,
      bytes: { cutValues: 0, rowsLeftOut: true },
    });
  });

  it('leaves the rows of a small result and neon-mcp’s own queries alone', async () => {
    const r = await session((s) =>
      runOne(s, 'SELECT g FROM generate_series(1, 3) g', { maxRows: 10, readOnly: true, what: 'test' }),
    );
    expect(r.rows).toEqual([{ g: 1 }, { g: 2 }, { g: 3 }]);
    expect(r.bytes).toBeUndefined();
    const internal = await session((s) => {
      s.beginReadOnly();
      return s.read<{ v: string }>(`SELECT repeat('q', 100000) AS v`, undefined, 'test');
    }, 1024);
    expect(internal[0]?.v).toHaveLength(100_000);
  });
});
