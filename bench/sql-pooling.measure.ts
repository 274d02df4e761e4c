/**
 * The measurement behind the connection strategy of the SQL tools (docs/SQL.md, "Connections"): a new
 * connection per call against a small pool per URI, for a trivial statement, over plain TCP and TLS,
 * directly and through a local proxy that adds network latency like a nearby Neon region.
 *
 * A measurement, not a test of behaviour: run it with `npm run bench:sql`.
 */
import { createServer, type Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connections } from '../src/sql/connections.js';
import { runOne } from '../src/sql/run.js';
import { withSession } from '../src/sql/session.js';
import { freePort, startPostgres, type TestPostgres } from '../test/pg/server.js';

const CALLS = Number(process.env.MEASURE_CALLS ?? 30);

/** A TCP proxy that delays every chunk by `oneWayMs` in each direction, keeping order. */
async function latencyProxy(targetPort: number, oneWayMs: number): Promise<{ port: number; close(): void }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const delayed = (from: Socket, to: Socket) => {
    let last = 0;
    from.on('data', (chunk) => {
      const at = Math.max(Date.now() + oneWayMs, last);
      last = at;
      setTimeout(() => to.write(chunk), at - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now()) + 1));
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    // No Nagle delays in the proxy itself: only the latency it is told to add.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function measure(
  pool: Connections,
  uri: string,
  readOnly: boolean,
): Promise<{ median: number; p90: number; first: number }> {
  const times: number[] = [];
  const signal = new AbortController().signal;
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    await withSession(
      { uri, where: 'bench' },
      { signal, timeoutMs: 30_000 },
      (s) => runOne(s, 'SELECT 1 AS one', { maxRows: 10, readOnly, what: 'bench' }),
      pool,
    );
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
        for (const idleMs of [0, 60_000]) {
          for (const readOnly of [false, true]) {
            const pool = new Connections({ idleMs, max: 4 });
            const r = await measure(pool, uri, readOnly);
            await pool.closeAll();
            rows.push(
              `| ${rttMs} ms | ${mode === 'disable' ? 'plain TCP' : 'TLS'} | ${idleMs ? 'pool' : 'per call'} | ` +
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
  }, 120_000);
});
