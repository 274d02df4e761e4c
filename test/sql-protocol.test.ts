/**
 * The contract with node-postgres that src/sql/protocol.ts, src/sql/row-cutter.ts and src/sql/pools.ts rely on, checked
 * against a real PostgreSQL server: node-postgres' internal Connection API and the "submittable"
 * protocol (what pg-cursor and pg-query-stream use too), the client's events, and pg-pool's onConnect.
 * `pg` is pinned to an exact version (docs/SQL.md, "Driver"): an upgrade changes the pin, and this file
 * says whether the runner still holds before anything else breaks in a confusing way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDriver } from '../src/sql/driver.js';
import { Connections } from '../src/sql/pools.js';
import { type RawResult, type StatementOptions, StatementQuery } from '../src/sql/protocol.js';
import { installRowCutter } from '../src/sql/row-cutter.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
const pgWarnings: string[] = [];
const onWarning = (w: Error) => {
  if (/pg@9|already executing a query/.test(w.message)) pgWarnings.push(w.message);
};
process.on('warning', onWarning);

beforeAll(async () => {
  server = await startPostgres({ tls: true });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  process.off('warning', onWarning);
  expect(pgWarnings).toEqual([]);
});

async function client(port?: number): Promise<pg.Client> {
  const uri = server.uri('postgres');
  const c = new pg.Client({ connectionString: port ? uri.replace(`:${server.port}/`, `:${port}/`) : uri });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** A StatementQuery that records which handlers node-postgres calls, in order. */
class Recorded extends StatementQuery {
  readonly calls: string[] = [];
  constructor(opts: StatementOptions) {
    super(opts);
    for (const name of [
      'submit',
      'handleRowDescription',
      'handleDataRow',
      'handlePortalSuspended',
      'handleCommandComplete',
      'handleEmptyQuery',
      'handleError',
      'handleReadyForQuery',
      'handleCopyInResponse',
    ] as const) {
      const original = (this as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
      (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        if (this.calls[this.calls.length - 1] !== name) this.calls.push(name);
        return original?.apply(this, args);
      };
    }
  }
}

async function statement(
  c: pg.Client,
  text: string,
  extra: Partial<StatementOptions> = {},
): Promise<{ q: Recorded; result?: RawResult; error?: unknown }> {
  const { types } = await loadDriver();
  const q = new Recorded({
    text,
    maxRows: 2,
    countLimit: 100,
    maxBytes: Number.POSITIVE_INFINITY,
    awaitSync: true,
    types,
    ...extra,
  });
  c.query(q as unknown as pg.Submittable);
  try {
    const result = await q.promise;
    await q.ready;
    return { q, result };
  } catch (error) {
    await q.ready;
    return { q, error };
  }
}

describe('node-postgres contract', () => {
  it('is pinned to an exact version, and that version is installed', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const pinned = pkg.dependencies.pg as string;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const installed = createRequire(import.meta.url)('pg/package.json').version;
    expect(installed).toBe(pinned);
  });

  it('offers the Connection calls the runner sends', async () => {
    const c = await client();
    const con = (
      c as unknown as { connection: Record<string, unknown> & { stream: Record<string, unknown> } }
    ).connection;
    for (const fn of ['parse', 'bind', 'describe', 'execute', 'close', 'flush', 'sync', 'sendCopyFail']) {
      expect(typeof con[fn], fn).toBe('function');
    }
    expect(typeof con.stream.cork).toBe('function');
    expect(typeof con.stream.uncork).toBe('function');
    await c.end();
  });

  it('reads the protocol from connection.stream, the TLS socket under TLS (where the row-size guard listens)', async () => {
    const c = new pg.Client({
      connectionString: server.uri('postgres').replace(/[?&]sslmode=disable/, ''),
      ssl: server.tls ? { rejectUnauthorized: false } : false,
    });
    await c.connect();
    const stream = (c as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream;
    if (server.tls) expect(stream).toBeInstanceOf(TLSSocket);
    const seen: number[] = [];
    stream.on('data', (chunk: Buffer) => seen.push(chunk[0] ?? 0));
    await c.query('SELECT 1');
    // Plain protocol bytes: the first message of the reply is a RowDescription ('T').
    expect(seen[0]).toBe(0x54);
    await c.end();
  });

  it('calls the handlers of a submittable in protocol order, with rows as text and the full command tag', async () => {
    const c = await client();
    const capped = await statement(
      c,
      "SELECT g, 'v' || g AS s, NULL::text AS n FROM generate_series(1, 5) g",
    );
    expect(capped.q.calls).toEqual([
      'submit',
      'handleRowDescription',
      'handleDataRow',
      'handlePortalSuspended',
      'handleDataRow',
      'handleCommandComplete',
      'handleReadyForQuery',
    ]);
    expect(capped.result).toMatchObject({
      rows: [
        [1, 'v1', null],
        [2, 'v2', null],
      ],
      more: 3,
      moreIsLowerBound: false,
      command: 'SELECT',
    });
    expect(capped.result?.fields.map((f) => [f.name, f.dataTypeID, f.dataTypeModifier])).toEqual([
      ['g', 23, -1],
      ['s', 25, -1],
      ['n', 25, -1],
    ]);

    // pg's own Result keeps only the first word ("CREATE"); the runner reads the whole tag.
    const ddl = await statement(c, 'CREATE TEMP TABLE t (x int)');
    expect(ddl.result).toMatchObject({ command: 'CREATE TABLE', tagCount: null, rows: [] });
    const insert = await statement(c, 'INSERT INTO t SELECT generate_series(1, 3)');
    expect(insert.result).toMatchObject({ command: 'INSERT', tagCount: 3 });

    const empty = await statement(c, '');
    expect(empty.q.calls).toContain('handleEmptyQuery');
    expect(empty.result?.command).toBe('');
    await c.end();
  });

  it('detaches a query at its error and holds the next one until the server is ready', async () => {
    const c = await client();
    const failed = await statement(c, 'SELECT 1 / 0');
    expect((failed.error as { code?: string }).code).toBe('22012');
    // No ReadyForQuery reaches the failed query: StatementQuery.ready settles at the error.
    expect(failed.q.calls).toEqual(['submit', 'handleError']);
    expect((await c.query('SELECT 2 AS x')).rows).toEqual([{ x: 2 }]);

    const copyIn = await statement(c, 'CREATE TEMP TABLE c (x int)').then(() =>
      statement(c, 'COPY c FROM STDIN'),
    );
    expect(copyIn.q.calls).toContain('handleCopyInResponse');
    expect(String(copyIn.error)).toMatch(/not supported by neon-mcp/);
    expect((await c.query('SELECT 3 AS x')).rows).toEqual([{ x: 3 }]);
    await c.end();
  });

  // The proxy lives in bench/, which the mutation sandbox leaves out (stryker.config.mjs): a static
  // import would fail the whole file there, so this one test is skipped there instead.
  const hasLatencyProxy = existsSync(new URL('../bench/latency-proxy.ts', import.meta.url));
  it.skipIf(!hasLatencyProxy)(
    'sends statements to run first in the same flight: a read-only statement costs one round trip',
    async () => {
      const { latencyProxy } = await import('../bench/latency-proxy.js');
      // Counted, not timed: a client that waited for each reply before its next message would send again
      // after the server's first answer reached it. With 20 ms each way, a reply cannot arrive before
      // everything sent in the same flight has left.
      let phase: 'idle' | 'sending' = 'idle';
      let up = 0;
      let upAfterReply = 0;
      let replied = false;
      const proxy = await latencyProxy(server.port, 20, (direction) => {
        if (phase !== 'sending') return;
        if (direction === 'down') replied = true;
        else if (replied) upAfterReply++;
        else up++;
      });
      const c = await client(proxy.port);
      try {
        const { types } = await loadDriver();
        for (let i = 0; i < 3; i++) {
          const q = new StatementQuery({
            text: 'SELECT 1 AS one',
            prefix: ['BEGIN READ ONLY', 'SELECT WHERE false'],
            awaitSync: false,
            maxRows: 10,
            countLimit: 100,
            maxBytes: Number.POSITIVE_INFINITY,
            types,
          });
          phase = 'sending';
          replied = false;
          c.query(q as unknown as pg.Submittable);
          const result = await q.promise;
          phase = 'idle';
          expect(result.rows).toEqual([[1]]);
          await q.ready;
          await c.query('ROLLBACK');
        }
        expect(up).toBeGreaterThanOrEqual(3);
        expect(upAfterReply).toBe(0);
      } finally {
        await c.end();
        proxy.close();
      }
    },
  );

  it("has exactly one data listener on connection.stream, pg-protocol's, which the row cutter replaces (plain and TLS)", async () => {
    const tls = new pg.Client({
      connectionString: server.uri('postgres').replace(/[?&]sslmode=disable/, ''),
      ssl: server.tls ? { rejectUnauthorized: false } : false,
    });
    tls.on('error', () => undefined);
    await tls.connect();
    for (const c of [await client(), tls]) {
      const stream = (c as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream;
      expect(stream.listenerCount('data')).toBe(1);
      expect(installRowCutter(stream)).toBe(true);
      // Not twice, and nothing changes for pg's own queries while no capped statement runs.
      expect(installRowCutter(stream)).toBe(false);
      expect((await c.query(`SELECT repeat('a', 100000) AS v`)).rows[0]?.v).toHaveLength(100_000);
      await c.end();
    }
  });

  it('cuts long values on the socket for a capped statement: node-postgres never reads them whole', async () => {
    // A connection from Connections, set up as the SQL tools get theirs (prepare installs the cutter).
    const pool = new Connections({ idleMs: 60_000, max: 1 });
    const lease = await pool.lease(server.uri('postgres'), { timeoutMs: 30_000, where: 'test' });
    const con = (lease.client as unknown as { connection: NodeJS.EventEmitter }).connection;
    const seen: number[] = [];
    const onRow = (msg: { fields: (string | null)[] }) => {
      for (const f of msg.fields) seen.push(f?.length ?? 0);
    };
    con.on('dataRow', onRow);
    try {
      const { types } = await loadDriver();
      const q = new StatementQuery({
        text: `SELECT g, repeat('x', ${1024 * 1024}) AS v, NULL AS n FROM generate_series(1, 40) g`,
        maxRows: 10,
        countLimit: 1000,
        maxBytes: 4096,
        awaitSync: true,
        types,
      });
      lease.client.query(q as unknown as pg.Submittable);
      const r = await q.promise;
      await q.ready;
      expect(r.rows[0]?.[0]).toBe(1);
      expect(r.rows[0]?.[2]).toBeNull();
      expect(String(r.rows[0]?.[1])).toMatch(/^x+…\[cut: 1048576 bytes\]$/);
      expect(r.more + r.rows.length).toBe(40);
      expect(r.cutValues).toBe(r.rows.length);
      // What node-postgres decoded: no value longer than its share of the cap (1/16, at least 256
      // bytes) and the margin.
      expect(seen.length).toBe(40 * 3);
      expect(Math.max(...seen)).toBe(256 + 4);
      // Past the cap, rows are only counted: their values reach node-postgres empty.
      expect(seen.slice(-3)).toEqual([0, 0, 0]);
      // Once the statement is over, other queries read their values whole.
      seen.length = 0;
      const whole = await lease.client.query(`SELECT repeat('y', 100000) AS v`);
      expect(whole.rows[0]?.v).toHaveLength(100_000);
    } finally {
      con.off('dataRow', onRow);
      lease.release(true);
      await pool.closeAll();
    }
  });

  it("emits 'end' when the server closes the connection", async () => {
    const c = await client();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    await server.query('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
    await ended;
  });

  it('pg-pool awaits onConnect before it hands a connection out', async () => {
    let setUp = false;
    const pool = new pg.Pool({
      connectionString: server.uri('postgres'),
      max: 1,
      onConnect: async (c: pg.ClientBase) => {
        await c.query('SELECT pg_sleep(0.05)');
        setUp = true;
      },
    } as pg.PoolConfig);
    // pool.end() does not wait for the sockets to close; a server stopping meanwhile must not throw.
    pool.on('error', () => undefined);
    const c = await pool.connect();
    expect(setUp).toBe(true);
    c.release();
    await pool.end();
  });
});
