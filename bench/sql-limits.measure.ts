/**
 * Peak memory of large SQL results through the SQL layer with the byte cap (docs/SQL.md, "Byte cap"):
 * 500 rows of 1 MB, one 50 MB value, one 500 MB value, against the test PostgreSQL 18 server. The
 * process's resident memory is sampled every 2 ms while each result is read; the growth over the
 * resident memory before it is printed. Cases run from the smallest up, so garbage left by one does
 * not flatter the next.
 *
 * A measurement, not a test of behaviour: run it with `npm run bench:sql`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connections } from '../src/sql/pools.js';
import { runOne } from '../src/sql/run.js';
import { withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from '../test/pg/server.js';

const MB = 1024 * 1024;

describe('peak memory of large results (measurement)', () => {
  let pg: TestPostgres;
  const pool = new Connections({ idleMs: 60_000, max: 1 });
  beforeAll(async () => {
    pg = await startPostgres();
  }, 90_000);
  afterAll(async () => {
    await pool.closeAll();
    await pg?.stop();
  });

  it('measures', async () => {
    const cases = [
      { name: '500 rows x 1 MB', sql: `SELECT g, repeat('x', ${MB}) AS v FROM generate_series(1, 500) g` },
      { name: 'one 50 MB value', sql: `SELECT repeat('y', ${50 * MB}) AS v` },
      { name: 'one 500 MB value', sql: `SELECT repeat('z', ${500 * MB}) AS v` },
    ];
    const lines = [
      '| result | answer (JSON of rows) | rows kept + counted | peak RSS growth | time |',
      '|---|---|---|---|---|',
    ];
    for (const c of cases) {
      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 2);
      const started = performance.now();
      const r = await withSession(
        { uri: pg.uri('postgres'), where: 'bench' },
        { signal: new AbortController().signal, timeoutMs: 120_000 },
        (s) => runOne(s, c.sql, { maxRows: 500, readOnly: true, what: 'bench' }),
        pool,
      ).catch((e: unknown) => ({ error: String(e).slice(0, 60) }));
      const ms = performance.now() - started;
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      const growth = `${((peak - before) / MB).toFixed(0)} MB | ${(ms / 1000).toFixed(1)} s |`;
      if ('error' in r) {
        lines.push(`| ${c.name} | error: ${r.error}… | – | ${growth}`);
        continue;
      }
      const answer = JSON.stringify(r.rows).length;
      lines.push(
        `| ${c.name} | ${(answer / 1024).toFixed(0)} KiB | ${r.rows.length} + ${r.more}${r.moreIsLowerBound ? '+' : ''} | ${growth}`,
      );
      expect(answer).toBeLessThanOrEqual(262_144);
    }
    console.log(lines.join('\n'));
  }, 300_000);
});
