/**
 * The measurements behind the connection strategy of the SQL tools (docs/SQL.md, "Connections" and
 * "Driver"): a new connection per call against a small pool per URI, and neon-mcp's own extended-protocol
 * runner against node-postgres' public API (pg-cursor for the row cap, a separate `BEGIN READ ONLY`),
 * for a trivial statement, over plain TCP and TLS, directly and through a local proxy that adds network
 * latency like a nearby Neon region.
 *
 * A measurement, not a test of behaviour: run it with `npm run bench:sql`.
 */
import Cursor from 'pg-cursor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDriver } from '../src/sql/driver.js';
import { Connections } from '../src/sql/pools.js';
import { runOne } from '../src/sql/run.js';
import { withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from '../test/pg/server.js';
import { latencyProxy } from './latency-proxy.js';

const CALLS = Number(process.env.MEASURE_CALLS ?? 30);

/** One call through the SQL layer (neon-mcp's runner). */
async function viaRunner(pool: Connections, uri: string, readOnly: boolean): Promise<void> {
  await withSession(
    { uri, where: 'bench' },
    { signal: new AbortController().signal, timeoutMs: 30_000 },
    (s) => runOne(s, 'SELECT 1 AS one', { maxRows: 10, readOnly, what: 'bench' }),
    pool,
  );
}

/**
 * The same call as node-postgres' public API allows it: `BEGIN READ ONLY` and the snapshot as a query
 * of their own (a query may not be sent while another is running), then the statement through
 * pg-cursor (extended protocol, so one statement only; the row cap as the cursor's first read). An
 * autocommit statement waits for the cursor's end (its Sync, where the commit happens); the read-only
 * one answers after its read, and the connection is reset once the cursor has ended.
 */
async function viaPublicApi(pool: Connections, uri: string, readOnly: boolean): Promise<void> {
  const { types } = await loadDriver();
  const lease = await pool.lease(uri, { timeoutMs: 30_000, where: 'bench' });
  if (readOnly) await lease.client.query('BEGIN READ ONLY; SELECT WHERE false');
  const cursor = lease.client.query(new Cursor('SELECT 1 AS one', [], { rowMode: 'array', types }));
  const ended = new Promise<void>((resolve) => {
    cursor.once('end', () => resolve());
    cursor.once('error', () => resolve());
  });
  const rows = await cursor.read(11);
  if (rows.length !== 1) throw new Error('unexpected result');
  if (!readOnly) await ended;
  void ended.then(() => lease.release(true));
}

async function measure(call: () => Promise<void>): Promise<{ median: number; p90: number; first: number }> {
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
    // The pooled connection's reset runs in the background; give it the time it has between an
    // agent's calls (which are seconds apart) so the next call finds the connection free.
    await new Promise((r) => setTimeout(r, 60));
  }
  const first = times[0];
  const sorted = [...times.slice(1)].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p90: at(0.9), first };
}

describe('connection per call vs pool (measurement)', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres({ tls: true });
  }, 90_000);
  afterAll(() => pg?.stop());

  it('measures', async () => {
    const rows: string[] = [];
    for (const rttMs of [0, 20]) {
      const proxy = rttMs ? await latencyProxy(pg.port, rttMs / 2) : undefined;
      for (const mode of ['disable', 'prefer']) {
        if (mode === 'prefer' && !pg.tls) continue;
        const uri = pg
          .uri('postgres')
          .replace('sslmode=disable', `sslmode=${mode}`)
          .replace(`:${pg.port}/`, `:${proxy?.port ?? pg.port}/`);
        const strategies = [
          { name: 'per call', idleMs: 0, call: viaRunner },
          { name: 'pool', idleMs: 60_000, call: viaRunner },
          { name: 'pool, public API (pg-cursor)', idleMs: 60_000, call: viaPublicApi },
        ];
        for (const strategy of strategies) {
          for (const readOnly of [false, true]) {
            const pool = new Connections({ idleMs: strategy.idleMs, max: 4 });
            const r = await measure(() => strategy.call(pool, uri, readOnly));
            await pool.closeAll();
            rows.push(
              `| ${rttMs} ms | ${mode === 'disable' ? 'plain TCP' : 'TLS'} | ${strategy.name} | ` +
                `${readOnly ? 'READ ONLY' : 'autocommit'} | ${r.median.toFixed(1)} ms | ${r.p90.toFixed(1)} ms | ${r.first.toFixed(1)} ms |`,
            );
          }
        }
      }
      proxy?.close();
    }
    console.log(
      [
        '| RTT | transport | strategy | statement | median | p90 | first call |',
        '|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
    expect(rows.length).toBeGreaterThan(0);
  }, 300_000);
});
