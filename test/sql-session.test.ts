/**
 * The session layer on its own (src/sql/pools.ts, session.ts, run.ts, driver.ts), without MCP:
 * reading connection URIs, the client configuration a URI makes (TLS, channel binding), the notices of
 * truncated results and the refusals decided before anything is sent, as pure functions; then, on a
 * real PostgreSQL server (one with TLS, one without), pools per tenant and timeout, the plain-TCP
 * fallback of sslmode=prefer, connections that are lost, given back or not reused, the row-size guard,
 * cancellation, and what a session, a transaction, a script and an EXPLAIN do.
 */
import { EventEmitter } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type * as Pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientEvent, clientEvents } from '../src/client/events.js';
import { type Driver, driverLoaded, loadDriver } from '../src/sql/driver.js';
import { SqlCancelledError, SqlConnectError, SqlError } from '../src/sql/errors.js';
import {
  Connections,
  type Endpoint,
  type Lease,
  type LeaseOptions,
  MAX_ROW_BYTES,
  POOL_MAX,
  parseUri,
  sessionSetup,
} from '../src/sql/pools.js';
import { hasRowCutter } from '../src/sql/row-cutter.js';
import {
  checkStatement,
  explain,
  runOne,
  runScript,
  runTransaction,
  truncatedNotice,
} from '../src/sql/run.js';
import { Session, type SessionOptions, type SessionTarget, withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

const DB = 'sess';
const WHERE = 'test db';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const noop = () => undefined;

let pg: TestPostgres;
/** A server without TLS, for the sslmode=prefer fallback. */
let plainPg: TestPostgres;
/** Pools of the tests; one connection at most, so a reused connection is always the same backend. */
const pool = new Connections({ idleMs: 60_000, max: 1 });
const others: Connections[] = [];
const connections = (options: { idleMs: number; max: number }) => {
  const c = new Connections(options);
  others.push(c);
  return c;
};

beforeAll(async () => {
  [pg, plainPg] = await Promise.all([startPostgres({ tls: true }), startPostgres()]);
  await Promise.all([pg, plainPg].map((p) => p.query('postgres', `CREATE DATABASE ${DB}`)));
  await pg.query(
    DB,
    `CREATE TABLE parent (id int PRIMARY KEY);
     CREATE TABLE child (id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
     CREATE TABLE tx_t (a int);
     CREATE TABLE ex_t (a int)`,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([pool, ...others].map((c) => c.closeAll()));
  await Promise.all([pg?.stop(), plainPg?.stop()]);
});

const uri = (query = 'sslmode=disable', server = pg) => server.uri(DB).replace('sslmode=disable', query);
const target = (u = uri()): SessionTarget => ({ uri: u, where: WHERE });
const options = (extra: Partial<SessionOptions> = {}): SessionOptions => ({
  signal: new AbortController().signal,
  timeoutMs: 10_000,
  ...extra,
});
const within = <T>(fn: (s: Session) => Promise<T>, extra: Partial<SessionOptions> = {}, c = pool) =>
  withSession(target(), options(extra), fn, c);
const leaseOpts = (extra: Partial<LeaseOptions> = {}): LeaseOptions => ({
  timeoutMs: 10_000,
  where: WHERE,
  ...extra,
});
const pidOf = async (s: Session) =>
  (await s.exec<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
/**
 * Makes the session's connection fail the next query whose text is `sql` as a lost connection would
 * (once: the pooled connection is then the real one again).
 */
const loseOn = (s: Session, sql: string) => {
  const client = s.client as unknown as { query: (...a: unknown[]) => unknown };
  const real = client.query;
  client.query = function (this: unknown, q: unknown, ...rest: unknown[]) {
    if ((q as { text?: string })?.text !== sql && q !== sql) return real.call(this, q, ...rest);
    client.query = real;
    return Promise.reject(new Error('Connection terminated unexpectedly'));
  };
};
/** Whether a backend is still connected. */
const alive = async (pid: number) =>
  (await pg.query('postgres', 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid]))[0]
    ?.n === 1;
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await alive(pid))) return true;
    await sleep(50);
  }
  return false;
}
/**
 * What a cutting proxy does with a chunk a client sent: forward it ('pass'); forward it, then cut the
 * connection when the reply comes ('reply'); or drop it and cut the client, closing the server's side
 * too ('close': the backend sees the end) or keeping it open ('hold': the backend waits, its
 * transaction open).
 */
type Cut = 'pass' | 'reply' | 'close' | 'hold';
/** ReadyForQuery, idle: 'Z', length 5, 'I'. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
/**
 * A TCP proxy to the test server; `decide` sees each connection's number, each chunk its client sends,
 * and whether the server has said it is ready for a query (startup and authentication done).
 */
async function cuttingProxy(decide: (nth: number, chunk: Buffer, ready: boolean) => Cut) {
  const real = new URL(uri());
  const held: Socket[] = [];
  let count = 0;
  const proxy = createServer((socket) => {
    const nth = ++count;
    const upstream = connect(Number(real.port), real.hostname);
    let ready = false;
    let cutOnReply = false;
    const cut = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('data', (chunk: Buffer) => {
      if (cutOnReply) return cut();
      if (chunk.subarray(-6).equals(READY_IDLE)) ready = true;
      socket.write(chunk);
    });
    socket.on('data', (chunk: Buffer) => {
      const what = decide(nth, chunk, ready);
      if (what === 'close') return cut();
      if (what === 'hold') {
        held.push(upstream);
        return socket.destroy();
      }
      if (what === 'reply') cutOnReply = true;
      upstream.write(chunk);
    });
    socket.on('error', noop);
    upstream.on('error', noop);
    socket.on('close', () => {
      if (!held.includes(upstream)) upstream.destroy();
    });
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  return {
    uri: uri().replace(`:${real.port}/`, `:${port}/`),
    connections: () => count,
    close: () => {
      for (const u of held) u.destroy();
      proxy.close();
    },
  };
}
const stmt = { maxRows: 100, what: 'run_sql', autocommit: true };
const captured = async <T>(fn: () => Promise<T>): Promise<{ events: ClientEvent[]; result: Promise<T> }> => {
  const events: ClientEvent[] = [];
  const result = clientEvents.run((e) => events.push(e), fn);
  result.catch(() => undefined);
  await result.catch(() => undefined);
  return { events, result };
};

describe('the driver', () => {
  it('is loaded on the first use only, then kept', async () => {
    expect(driverLoaded()).toBe(false);
    const driver = await loadDriver();
    expect(driverLoaded()).toBe(true);
    expect(await loadDriver()).toBe(driver);
    expect(typeof driver.pg.Pool).toBe('function');
  });
});

describe('parseUri', () => {
  it('reads host, port, user, password and database, decoded', () => {
    expect(parseUri('postgresql://al%40ice:p%2Fw%20x@db.example.com:6543/my%20db?sslmode=require')).toEqual({
      host: 'db.example.com',
      port: 6543,
      user: 'al@ice',
      password: 'p/w x',
      database: 'my db',
      options: undefined,
      ssl: 'verify',
      channelBinding: false,
    });
  });

  it('accepts postgres: too; port 5432, database the user name, host localhost by default', () => {
    expect(parseUri('postgres://bob:pw@h')).toMatchObject({
      host: 'h',
      port: 5432,
      user: 'bob',
      database: 'bob',
    });
    expect(parseUri('postgresql://bob@h/')).toMatchObject({ password: '', database: 'bob' });
    expect(parseUri('postgresql:///db').host).toBe('localhost');
  });

  it('takes the brackets off an IPv6 address', () => {
    expect(parseUri('postgresql://u:p@[::1]:5433/d')).toMatchObject({ host: '::1', port: 5433 });
    expect(parseUri('postgresql://u:p@[2001:db8::7]/d').host).toBe('2001:db8::7');
  });

  it('passes options on', () => {
    expect(parseUri('postgresql://u@h/d?options=-c%20search_path%3Dapp').options).toBe('-c search_path=app');
    expect(parseUri('postgresql://u@h/d?sslmode=disable').options).toBeUndefined();
  });

  it('sslmode: disable turns TLS off, allow and prefer try it unverified, anything else verifies', () => {
    const ssl = (q: string) => parseUri(`postgresql://u@h/d${q}`).ssl;
    expect(ssl('?sslmode=disable')).toBe('disable');
    expect(ssl('?sslmode=DISABLE')).toBe('disable');
    expect(ssl('?sslmode=allow')).toBe('prefer');
    expect(ssl('?sslmode=prefer')).toBe('prefer');
    expect(ssl('?sslmode=Prefer')).toBe('prefer');
    expect(ssl('?sslmode=require')).toBe('verify');
    expect(ssl('?sslmode=verify-full')).toBe('verify');
    expect(ssl('')).toBe('verify');
  });

  it('channel_binding: require and prefer ask for it, disable and none do not', () => {
    const cb = (q: string) => parseUri(`postgresql://u@h/d${q}`).channelBinding;
    expect(cb('?channel_binding=require')).toBe(true);
    expect(cb('?channel_binding=prefer')).toBe(true);
    expect(cb('?channel_binding=REQUIRE')).toBe(true);
    expect(cb('?channel_binding=disable')).toBe(false);
    expect(cb('?sslmode=require')).toBe(false);
  });

  it('refuses what is not a postgresql URL', () => {
    expect(() => parseUri('not a url')).toThrow(
      new Error('The connection URI from Neon is not a valid URL.'),
    );
    expect(() => parseUri('mysql://u@h/d')).toThrow(
      new Error('The connection URI has scheme mysql:; expected postgresql:.'),
    );
    expect(() => parseUri('http://u@h/d')).toThrow('scheme http:;');
  });
});

describe('the client configuration of a URI', () => {
  type Configurable = { config(driver: Driver, uri: string, ep: Endpoint): Pg.ClientConfig };
  const config = async (u: string) =>
    (new Connections() as unknown as Configurable).config(await loadDriver(), u, parseUri(u));

  it('TLS verified, channel binding as asked, keep-alive, the application name and the connect timeout', async () => {
    expect(await config('postgresql://u:p@h:7/d?sslmode=require&channel_binding=require')).toMatchObject({
      host: 'h',
      port: 7,
      user: 'u',
      password: 'p',
      database: 'd',
      ssl: { rejectUnauthorized: true },
      enableChannelBinding: true,
      application_name: 'neon-mcp',
      connectionTimeoutMillis: 20_000,
      keepAlive: true,
    });
    expect((await config('postgresql://u@h/d?sslmode=require')).enableChannelBinding).toBe(false);
  });

  it('prefer: TLS without verifying; disable: no TLS and so no channel binding', async () => {
    expect((await config('postgresql://u@h/d?sslmode=prefer')).ssl).toEqual({ rejectUnauthorized: false });
    const plain = await config('postgresql://u@h/d?sslmode=disable&channel_binding=require');
    expect(plain.ssl).toBe(false);
    expect(plain.enableChannelBinding).toBe(false);
  });
});

describe('sessionSetup', () => {
  it('sets the statement timeout, and an idle-in-transaction timeout of twice that, one minute at least', () => {
    expect(sessionSetup(1500)).toBe(
      'SET statement_timeout = 1500; SET idle_in_transaction_session_timeout = 60000',
    );
    expect(sessionSetup(45_000.4)).toBe(
      'SET statement_timeout = 45000; SET idle_in_transaction_session_timeout = 90000',
    );
    expect(sessionSetup(0.2)).toMatch(/^SET statement_timeout = 1;/);
  });
});

describe('truncatedNotice', () => {
  it('rows past the row cap, exact or a lower bound', () => {
    expect(truncatedNotice({ more: 5, moreIsLowerBound: true }, 10)).toBe(
      'truncated: 5 or more more rows not shown (at most 10 rows are returned; --sql-max-rows). ' +
        'Narrow the query with WHERE, LIMIT/OFFSET or an aggregate.',
    );
    expect(truncatedNotice({ more: 3, moreIsLowerBound: false }, 10)).toMatch(
      /^truncated: 3 more rows not shown \(/,
    );
  });

  it('values cut and rows left out by the byte cap', () => {
    const tail =
      ' (at most 100 bytes of values, --sql-max-bytes, and 10 rows, --sql-max-rows, are returned). ' +
      'Select fewer or shorter columns (e.g. left(col, 200), length(col)), or narrow the query with WHERE, LIMIT/OFFSET or an aggregate.';
    expect(
      truncatedNotice(
        { more: 0, moreIsLowerBound: false, bytes: { max: 100, cutValues: 1, rowsLeftOut: false } },
        10,
      ),
    ).toBe(`truncated: 1 long value cut (each ends with "…[cut: N bytes]", N its full length)${tail}`);
    expect(
      truncatedNotice(
        { more: 2, moreIsLowerBound: false, bytes: { max: 100, cutValues: 3, rowsLeftOut: true } },
        10,
      ),
    ).toBe(
      `truncated: 2 more rows not shown; 3 long values cut (each ends with "…[cut: N bytes]", N its full length)${tail}`,
    );
    expect(
      truncatedNotice(
        { more: 4, moreIsLowerBound: false, bytes: { max: 100, cutValues: 0, rowsLeftOut: true } },
        10,
      ),
    ).toBe(`truncated: 4 more rows not shown${tail}`);
  });
});

describe('refusals before anything is sent', () => {
  const never = undefined as unknown as Session;

  it('checkStatement: transaction control, by where the statement runs', async () => {
    await expect(checkStatement('BEGIN', 'run_sql', { inTransaction: false })).rejects.toThrow(
      /^run_sql: BEGIN is not allowed: each call runs on its own connection session/,
    );
    await expect(checkStatement('COMMIT', 'run_sql_transaction', { inTransaction: true })).rejects.toThrow(
      /^run_sql_transaction: COMMIT is not allowed here: the tool runs the SQL in a transaction it manages itself/,
    );
  });

  it('checkStatement: effects outside the transaction only when read-only', async () => {
    await expect(
      checkStatement('SELECT pg_advisory_lock(1)', 'run_sql_readonly', {
        inTransaction: false,
        readOnly: true,
      }),
    ).rejects.toThrow(/^run_sql_readonly: pg_advisory_lock\(\) is not allowed in a read-only call/);
    await expect(
      checkStatement('SELECT pg_advisory_lock(1)', 'run_sql', { inTransaction: false }),
    ).resolves.toBeUndefined();
  });

  it('explain: no EXPLAIN inside, no transaction control, no outside effects with analyze', async () => {
    const opts = { analyze: false, format: 'text', readOnly: false, what: 'explain_sql' } as const;
    await expect(explain(never, 'EXPLAIN SELECT 1', opts)).rejects.toThrow(
      new SqlError('explain_sql: pass the statement without EXPLAIN; set analyze and format instead.'),
    );
    await expect(explain(never, 'COMMIT', opts)).rejects.toThrow(
      /^explain_sql: COMMIT is not allowed here: the tool runs the SQL in a transaction it manages itself/,
    );
    await expect(explain(never, 'SELECT pg_advisory_lock(1)', { ...opts, analyze: true })).rejects.toThrow(
      /^explain_sql: pg_advisory_lock\(\) is not allowed in a read-only call/,
    );
  });

  it('runOne and runTransaction read-only: the guard, naming the statement', async () => {
    await expect(
      runOne(never, 'SELECT pg_advisory_lock(1)', { maxRows: 5, readOnly: true, what: 'run_sql_readonly' }),
    ).rejects.toThrow(/^run_sql_readonly: pg_advisory_lock\(\) is not allowed in a read-only call/);
    await expect(
      runTransaction(never, [{ sql: 'SELECT 1' }, { sql: 'SELECT pg_advisory_lock(1)' }], {
        maxRows: 5,
        readOnly: true,
        tool: 'run_sql_transaction',
      }),
    ).rejects.toThrow(
      /^run_sql_transaction \(statement 2\): pg_advisory_lock\(\) is not allowed in a read-only call/,
    );
  });
});

describe('Session.translate', () => {
  const events: ClientEvent[] = [];
  const session = async (extra: Partial<SessionOptions> = {}) =>
    new Session(
      new EventEmitter() as unknown as Pg.ClientBase,
      await loadDriver(),
      target(),
      options({ timeoutMs: 1500, ...extra }),
    );
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const translate = (s: Session, e: unknown, applied: 'maybe' | 'no' = 'no') =>
    clientEvents.run(
      (ev) => events.push(ev),
      () => s.translate(e, { what: 'w' }, applied),
    );

  it('keeps an SqlError as it is', async () => {
    const e = new SqlError('already said');
    expect(translate(await session(), e)).toBe(e);
  });

  it('a cancel from the client is a cancellation; one of the statement timeout is reported', async () => {
    const s = await session();
    events.length = 0;
    const cancel = translate(s, pgError('57014', 'canceling statement due to user request'));
    expect(cancel).toBeInstanceOf(SqlCancelledError);
    expect(cancel.message).toBe(
      `Cancelled by the client: the SQL on ${WHERE} was cancelled on the server, and the open transaction (if any) was rolled back.`,
    );
    expect(events).toEqual([]);
    const timeout = translate(s, pgError('57014', 'canceling statement due to statement timeout'));
    expect(timeout).not.toBeInstanceOf(SqlCancelledError);
    expect(timeout.code).toBe('57014');
    expect(timeout.message).toMatch(/^w failed on test db: Postgres error 57014/);
    expect(events).toEqual([
      {
        level: 'warning',
        kind: 'sql_cancel',
        message: `PostgreSQL cancelled w on ${WHERE}: it ran past the statement timeout of 1500 ms.`,
      },
    ]);
    events.length = 0;
    expect(translate(s, pgError('42P01', 'relation "x" does not exist')).code).toBe('42P01');
    expect(events).toEqual([]);
  });

  it('anything else is a lost connection, applied or not as the caller says', async () => {
    const s = await session();
    expect(translate(s, new Error('socket hang up'), 'no').message).toBe(
      'w failed on test db: the connection was lost (socket hang up). Nothing was changed (the transaction had not been committed). Try again.',
    );
    expect(translate(s, new Error('socket hang up'), 'maybe').message).toBe(
      'w failed on test db: the connection was lost (socket hang up). A write may or may not have been applied: check the data before running it again.',
    );
  });

  it('once the call is cancelled, every failure is the cancellation', async () => {
    const s = await session({ signal: AbortSignal.abort() });
    expect(translate(s, new Error('socket hang up'))).toBeInstanceOf(SqlCancelledError);
    expect(translate(s, pgError('42P01', 'nope'))).toBeInstanceOf(SqlCancelledError);
  });

  it('passes the read-only reason to the advice', async () => {
    const s = await session({ readOnlyReason: 'this server runs with --read-only' });
    expect(
      translate(s, pgError('25006', 'cannot execute INSERT in a read-only transaction')).message,
    ).toContain('What to do: writes are refused: this server runs with --read-only. Nothing was changed.');
  });
});

describe('connections', () => {
  it('a session runs as neon-mcp with the timeouts of the lease', async () => {
    const rows = await within(
      async (s) =>
        (
          await s.exec(
            "SELECT current_setting('application_name') AS a, current_setting('statement_timeout') AS t, current_setting('idle_in_transaction_session_timeout') AS i",
          )
        ).rows,
    );
    expect(rows).toEqual([{ a: 'neon-mcp', t: '10s', i: '1min' }]);
  });

  it('TLS as sslmode says: prefer uses it unverified, disable does not, require verifies the certificate', async () => {
    expect(pg.tls).toBe(true);
    const ssl = (u: string) =>
      withSession(
        target(u),
        options(),
        async (s) => {
          const r = await s.exec<{ ssl: boolean }>(
            'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
          );
          return r.rows[0]?.ssl;
        },
        connections({ idleMs: 60_000, max: 1 }),
      );
    expect(await ssl(uri('sslmode=prefer'))).toBe(true);
    expect(await ssl(uri('sslmode=disable'))).toBe(false);
    const verified = ssl(uri('sslmode=require'));
    await expect(verified).rejects.toBeInstanceOf(SqlConnectError);
    await expect(verified).rejects.toThrow(/^Could not connect to test db: self[- ]signed certificate/);
  });

  it('sslmode=prefer falls back to plain TCP when the server has no TLS, pooled or not', async () => {
    const u = uri('sslmode=prefer', plainPg);
    for (const c of [connections({ idleMs: 60_000, max: 1 }), connections({ idleMs: 0, max: 1 })]) {
      for (let i = 0; i < 2; i++) {
        const lease = await c.lease(u, leaseOpts());
        const r = await lease.client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        expect(r.rows).toEqual([{ ssl: false }]);
        lease.release(true);
      }
    }
    // require does not fall back.
    await expect(
      connections({ idleMs: 60_000, max: 1 }).lease(uri('sslmode=require', plainPg), leaseOpts()),
    ).rejects.toThrow(
      /^Could not connect to test db: The server does not support SSL connections\. What to do: the TLS handshake failed/,
    );
  });

  it('sslmode=prefer: when the plain retry fails too, its reason is reported', async () => {
    const u = uri('sslmode=prefer', plainPg).replace(`/${DB}?`, '/no_such_db?');
    expect(u).toContain('/no_such_db?');
    await expect(connections({ idleMs: 60_000, max: 1 }).lease(u, leaseOpts())).rejects.toThrow(
      /^Could not connect to test db: Postgres error 3D000 .*does not exist/s,
    );
  });

  it('sslmode=prefer: a failure other than a refused TLS does not drop TLS for the URI', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    const later = pg.uri('later').replace('sslmode=disable', 'sslmode=prefer');
    await expect(c.lease(later, leaseOpts())).rejects.toThrow(/Postgres error 3D000/);
    await pg.query('postgres', 'CREATE DATABASE later');
    const lease = await c.lease(later, leaseOpts());
    try {
      const r = await lease.client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(r.rows).toEqual([{ ssl: true }]);
    } finally {
      lease.release(false);
    }
  });

  it('a URI that cannot be used sends nothing', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    const e = await c.lease('mysql://u@h/d', leaseOpts()).catch((x) => x);
    expect(e).toBeInstanceOf(SqlConnectError);
    expect(e.message).toBe(
      'Could not connect to test db: the connection URI from Neon cannot be used (The connection URI has scheme mysql:; expected postgresql:.). ' +
        'Nothing was sent to the database. Try again (the URI is fetched anew); if it keeps failing, check the compute with list_computes.',
    );
    expect(c.size).toBe(0);
  });

  it('one pool per tenant and statement timeout; closeTagged closes the pools of a tag', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    const take = async (extra: Partial<LeaseOptions>) => {
      const lease = await c.lease(uri(), leaseOpts(extra));
      const pid = lease.pid;
      lease.release(true);
      return pid;
    };
    const a = await take({ tenant: 'a', tag: 'br-1' });
    expect(c.size).toBe(1);
    expect(await take({ tenant: 'a', tag: 'br-1' })).toBe(a);
    expect(c.size).toBe(1);
    expect(await take({ tenant: 'b', tag: 'br-1' })).not.toBe(a);
    expect(c.size).toBe(2);
    const br2 = await take({ tenant: 'a', timeoutMs: 5000, tag: 'br-2' });
    expect(c.size).toBe(3);
    await take({ tag: 'br-3' });
    expect(c.size).toBe(4);
    await c.closeTagged('br-1');
    expect(c.size).toBe(2);
    // The other tags' pools are kept: the same connection again.
    expect(await take({ tenant: 'a', timeoutMs: 5000, tag: 'br-2' })).toBe(br2);
    expect(c.size).toBe(2);
    await c.closeTagged('br-1');
    expect(c.size).toBe(2);
    await c.closeAll();
    expect(c.size).toBe(0);
  });

  it('every connection reads through the row cutter, pooled or not', async () => {
    for (const c of [connections({ idleMs: 60_000, max: 1 }), connections({ idleMs: 0, max: 1 })]) {
      const lease = await c.lease(uri(), leaseOpts());
      const stream = (lease.client as unknown as { connection: { stream: object } }).connection.stream;
      expect(hasRowCutter(stream)).toBe(true);
      lease.release(true);
    }
  });

  it('the cancelling connection lost after connecting: the cancel fails, the server does not crash', async () => {
    // A proxy that cuts its second connection (the one pg_cancel_backend is sent on) when the first
    // query arrives, after startup and authentication.
    const proxy = await cuttingProxy((nth, _chunk, ready) => (nth === 2 && ready ? 'close' : 'pass'));
    try {
      expect(proxy.uri).not.toBe(uri());
      const lease = await connections({ idleMs: 0, max: 1 }).lease(proxy.uri, leaseOpts());
      await expect(lease.cancel()).rejects.toThrow(/Connection terminated unexpectedly/);
      expect(proxy.connections()).toBe(2);
      // The leased connection still works.
      expect((await lease.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      lease.release(true);
    } finally {
      proxy.close();
    }
  });

  it('by default a pool holds POOL_MAX connections; one more caller waits for one given back', async () => {
    const c = new Connections();
    others.push(c);
    const leases = await Promise.all(Array.from({ length: POOL_MAX }, () => c.lease(uri(), leaseOpts())));
    expect(new Set(leases.map((l) => l.pid)).size).toBe(POOL_MAX);
    let extra: Lease | undefined;
    const waiting = c.lease(uri(), leaseOpts()).then((l) => {
      extra = l;
      return l;
    });
    await sleep(300);
    expect(extra).toBeUndefined();
    leases[0]?.release(true);
    expect((await waiting).pid).toBe(leases[0]?.pid);
    for (const l of [...leases.slice(1), extra]) l?.release(true);
    await c.closeAll();
  });

  it('a pool whose last connection closed is dropped, not one with connections left or callers waiting', async () => {
    const idle = connections({ idleMs: 200, max: 1 });
    (await idle.lease(uri(), leaseOpts())).release(true);
    expect(idle.size).toBe(1);
    for (let i = 0; i < 60 && idle.size; i++) await sleep(50);
    expect(idle.size).toBe(0);

    const two = connections({ idleMs: 60_000, max: 2 });
    const [x, y] = await Promise.all([two.lease(uri(), leaseOpts()), two.lease(uri(), leaseOpts())]);
    x.release(false);
    expect(await gone(x.pid)).toBe(true);
    expect(two.size).toBe(1);
    y.release(true);

    const one = connections({ idleMs: 60_000, max: 1 });
    const held = await one.lease(uri(), leaseOpts());
    const waiting = one.lease(uri(), leaseOpts());
    await sleep(50);
    held.release(false);
    const next = await waiting;
    expect(next.pid).not.toBe(held.pid);
    expect(one.size).toBe(1);
    next.release(true);
  });

  it('given back for reuse: the same backend, reset; not for reuse, reported lost or released twice: a new one', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    const first = await c.lease(uri(), leaseOpts());
    await first.client.query('SET search_path = nowhere');
    first.release(true);
    first.release(false);
    const second = await c.lease(uri(), leaseOpts());
    expect(second.pid).toBe(first.pid);
    expect((await second.client.query('SHOW search_path')).rows).toEqual([
      { search_path: '"$user", public' },
    ]);
    second.release(false);
    const third = await c.lease(uri(), leaseOpts());
    expect(third.pid).not.toBe(second.pid);
    // A connection that reported an error while checked out is closed when given back.
    third.client.emit('error', new Error('reported by the test'));
    third.release(true);
    const fourth = await c.lease(uri(), leaseOpts());
    expect(fourth.pid).not.toBe(third.pid);
    // One that reported its end while idle in the pool is skipped.
    fourth.release(true);
    fourth.client.emit('end');
    const fifth = await c.lease(uri(), leaseOpts());
    expect(fifth.pid).not.toBe(fourth.pid);
    expect(await gone(fourth.pid)).toBe(true);
    fifth.release(true);
  });

  it('destroy closes the connection at once', async () => {
    const lease = await connections({ idleMs: 60_000, max: 1 }).lease(uri(), leaseOpts());
    expect(await alive(lease.pid)).toBe(true);
    lease.destroy();
    expect(await gone(lease.pid)).toBe(true);
    lease.release(false);
  });

  it('without pooling: a connection per lease, closed when given back; failures close it', async () => {
    const c = connections({ idleMs: 0, max: 1 });
    const lease = await c.lease(uri(), leaseOpts());
    expect(c.size).toBe(0);
    expect(lease.pid).toBeGreaterThan(0);
    expect((await lease.client.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '10s' }]);
    lease.release(true);
    expect(await gone(lease.pid)).toBe(true);
    const wrong = pg.uri(DB).replace(/:[^:@]+@/, ':wrong-password@');
    await expect(c.lease(wrong, leaseOpts())).rejects.toThrow(
      /^Could not connect to test db: Postgres error 28P01 .*password authentication failed/,
    );
    // Session settings that fail (a timeout that is not a number) fail the lease.
    await expect(c.lease(uri(), leaseOpts({ timeoutMs: Number.NaN }))).rejects.toBeInstanceOf(
      SqlConnectError,
    );
  });
});

describe('the row-size guard', () => {
  const big = (n: number) =>
    within((s) => s.run(`SELECT repeat('x', ${n}) AS v`, undefined, stmt), { maxBytes: 1000 });
  const refusal = (bytes: number) =>
    `run_sql failed on ${WHERE}: a row of the result is ${bytes} bytes, more than neon-mcp reads (${MAX_ROW_BYTES} bytes per row`;

  it('closes the connection when a row over the limit starts to arrive; a row at the limit is read (and cut)', async () => {
    // A DataRow's length counts 4 bytes of itself, 2 of the column count and 4 of the value's length.
    await expect(big(MAX_ROW_BYTES - 5)).rejects.toThrow(refusal(MAX_ROW_BYTES + 1));
    const res = await big(MAX_ROW_BYTES - 6);
    expect(res.bytes).toEqual({ max: 1000, cutValues: 1, rowsLeftOut: false });
    expect(String(res.rows[0]?.v)).toMatch(/…\[cut: 67108858 bytes\]$/);
  }, 60_000);

  it('follows the message framing when headers arrive split across chunks', async () => {
    const split = async <T>(s: Session, fn: () => Promise<T>) => {
      const stream = (s.client as unknown as { connection: { stream: EventEmitter } }).connection.stream;
      const emit = stream.emit;
      stream.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]) {
        if (event !== 'data') return emit.call(this, event, ...args);
        const chunk = args[0] as Buffer;
        const head = Math.min(chunk.length, 200);
        for (let i = 0; i < head; i += 3) emit.call(this, 'data', chunk.subarray(i, Math.min(i + 3, head)));
        if (head < chunk.length) emit.call(this, 'data', chunk.subarray(head));
        return true;
      } as typeof stream.emit;
      return fn();
    };
    const small = await within((s) =>
      split(s, () => s.run('SELECT g, g * 2 AS h FROM generate_series(1, 20) g', undefined, stmt)),
    );
    expect(small.rows).toHaveLength(20);
    expect(small.rows[19]).toEqual({ g: 20, h: 40 });
    await expect(
      within((s) =>
        split(s, () => s.run(`SELECT 1 AS a, repeat('x', ${MAX_ROW_BYTES}) AS v`, undefined, stmt)),
      ),
    ).rejects.toThrow(refusal(MAX_ROW_BYTES + 11));
  }, 60_000);
});

describe('withSession', () => {
  const cancelledText = `Cancelled by the client: the SQL on ${WHERE} was cancelled on the server, and the open transaction (if any) was rolled back.`;

  it('a call cancelled before it starts leases nothing', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    let called = false;
    const p = withSession(
      target(),
      options({ signal: AbortSignal.abort() }),
      async () => {
        called = true;
      },
      c,
    );
    await expect(p).rejects.toThrow(new SqlCancelledError(cancelledText));
    expect(called).toBe(false);
    expect(c.size).toBe(0);
  });

  it('a call cancelled while connecting does not run', async () => {
    const ac = new AbortController();
    class Aborting extends Connections {
      override async lease(u: string, o: LeaseOptions): Promise<Lease> {
        const lease = await super.lease(u, o);
        ac.abort();
        return lease;
      }
    }
    const c = new Aborting({ idleMs: 60_000, max: 1 });
    others.push(c);
    let called = false;
    const p = withSession(
      target(),
      options({ signal: ac.signal }),
      async () => {
        called = true;
      },
      c,
    );
    await expect(p).rejects.toBeInstanceOf(SqlCancelledError);
    expect(called).toBe(false);
  });

  it('a failure after the cancel is the cancellation; without a cancel it passes as it is', async () => {
    const ac = new AbortController();
    await expect(
      within(
        async () => {
          ac.abort();
          throw new Error('boom');
        },
        { signal: ac.signal },
      ),
    ).rejects.toThrow(new SqlCancelledError(cancelledText));
    await expect(within(async () => Promise.reject(new Error('boom')))).rejects.toThrow(new Error('boom'));
  });

  it('cancelling a running statement: reported, cancelled on the server, the connection not reused', async () => {
    // Only this file's shared pool keeps connections from here on.
    await Promise.all(others.map((c) => c.closeAll()));
    const ac = new AbortController();
    let pid = 0;
    const started = Date.now();
    const { events, result } = await captured(() =>
      within(
        async (s) => {
          setTimeout(() => ac.abort(), 500);
          pid = await pidOf(s);
          return s.run('SELECT pg_sleep(20)', undefined, stmt);
        },
        { signal: ac.signal },
      ),
    );
    await expect(result).rejects.toThrow(new SqlCancelledError(cancelledText));
    expect(Date.now() - started).toBeLessThan(1900);
    expect(events).toEqual([
      {
        level: 'warning',
        kind: 'sql_cancel',
        message: `The call was cancelled: cancelling the SQL running on ${WHERE} (pg_cancel_backend).`,
      },
    ]);
    expect(await gone(pid)).toBe(true);
    expect(await within(pidOf)).not.toBe(pid);
    // The second connection that asked for the cancel is closed too: none of neon-mcp's is left but the pool's.
    const ours = async () =>
      (
        await pg.query<{ n: number }>(
          'postgres',
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'neon-mcp' AND datname = $1",
          [DB],
        )
      )[0]?.n;
    for (let i = 0; i < 60 && (await ours()) !== 1; i++) await sleep(50);
    expect(await ours()).toBe(1);
  });

  it('a statement that ignores the cancel: the connection is closed two seconds later', async () => {
    const ac = new AbortController();
    let pid = 0;
    setTimeout(() => ac.abort(), 300);
    const p = within(
      async (s) => {
        pid = await pidOf(s);
        return s.run(
          'DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$',
          undefined,
          stmt,
        );
      },
      { signal: ac.signal },
    );
    p.catch(() => undefined);
    try {
      const outcome = await Promise.race([
        p.then(
          () => 'resolved',
          (e) => e,
        ),
        sleep(6000).then(() => 'hung'),
      ]);
      expect(outcome).toBeInstanceOf(SqlCancelledError);
    } finally {
      if (pid) await pg.query('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
    }
  }, 20_000);

  it('stops listening to the signal when the call ends', async () => {
    const ac = new AbortController();
    await within(async (s) => s.exec('SELECT 1'), { signal: ac.signal });
    const events: ClientEvent[] = [];
    clientEvents.run(
      (e) => events.push(e),
      () => ac.abort(),
    );
    expect(events).toEqual([]);
  });

  it('a connection whose last reply does not come within the timeout plus 10 s is closed, not reused', async () => {
    const c = connections({ idleMs: 60_000, max: 1 });
    // neon-mcp's own deadline (Session.watch) would cancel the sleep: with its cancel and close muted,
    // this is a server that ignores cancellation, the case the guard of giveBack is for.
    const muted = Object.create(c) as typeof c;
    muted.lease = async (u, o) => ({
      ...(await c.lease(u, o)),
      cancel: async () => undefined,
      destroy: () => undefined,
    });
    const opts = { timeoutMs: 500 };
    let pid = 0;
    // The call ends with a query still running: a ROLLBACK queued behind a 30 s sleep (sent after it).
    await withSession(
      target(),
      options(opts),
      async (s) => {
        pid = await pidOf(s);
        await s.exec('SET statement_timeout = 0');
        void s.exec('SELECT pg_sleep(30)').catch(() => undefined);
        await sleep(100);
        s.rollbackLater();
      },
      muted,
    );
    try {
      const ended = performance.now();
      // The pool's one connection is held by that call until the guard gives it up.
      const next = c.lease(uri(), leaseOpts(opts));
      let got = false;
      void next.then(() => {
        got = true;
      });
      await sleep(8000);
      expect(got).toBe(false);
      const lease = await next;
      expect(performance.now() - ended).toBeLessThan(20_000);
      expect(lease.pid).not.toBe(pid);
      lease.release(true);
    } finally {
      await pg.query('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
    }
  }, 40_000);

  it('reuses the connection once its last reply arrived, also after a read-only statement', async () => {
    const pid = await within(async (s) => {
      await runOne(s, 'SELECT 1', { maxRows: 5, readOnly: true, what: 'run_sql_readonly' });
      return pidOf(s);
    });
    const again = await within(async (s) => {
      await runOne(s, 'SELECT 1', { maxRows: 5, readOnly: true, what: 'run_sql_readonly' });
      // A statement still running when the call ends: the connection waits for its reply.
      void s.run('SELECT pg_sleep(0.5)', undefined, { ...stmt, autocommit: false }).catch(() => undefined);
      await new Promise((r) => setImmediate(r));
      return pidOf(s).catch(() => 0);
    });
    expect(again).toBe(pid);
    expect(await within(pidOf)).toBe(pid);
  });

  it('listens for the end of its connection while it runs, and stops after', async () => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) await within(async (s) => counts.push(s.client.listenerCount('end')));
    expect(new Set(counts).size).toBe(1);
    const lease = await pool.lease(uri(), leaseOpts());
    try {
      expect(lease.client.listenerCount('end')).toBe((counts[0] ?? 0) - 1);
    } finally {
      lease.release(true);
    }
  });
});

describe('Session', () => {
  it('exec: errors name what ran, by default a query of neon-mcp', async () => {
    await within(async (s) => {
      const e1 = await s.exec('SELECT * FROM no_such_table').catch((e) => e);
      expect(e1).toBeInstanceOf(SqlError);
      expect(e1.code).toBe('42P01');
      expect(e1.message).toMatch(/^a query of neon-mcp failed on test db: Postgres error 42P01 \(/);
      const e2 = await s.exec('SELECT * FROM no_such_table', undefined, 'reading tables').catch((e) => e);
      expect(e2.message).toMatch(/^reading tables failed on test db: Postgres error 42P01/);
    });
  });

  it('exec: a lost connection changed nothing, unless the caller says a COMMIT may have been applied', async () => {
    await within(async (s) => {
      loseOn(s, 'SELECT 1');
      expect((await s.exec('SELECT 1', undefined, 'reading').catch((e) => e)).message).toBe(
        'reading failed on test db: the connection was lost (Connection terminated unexpectedly). Nothing was changed (the transaction had not been committed). Try again.',
      );
      loseOn(s, 'COMMIT');
      expect((await s.exec('COMMIT', undefined, 'committing', 'maybe').catch((e) => e)).message).toBe(
        'committing failed on test db: the connection was lost (Connection terminated unexpectedly). A write may or may not have been applied: check the data before running it again.',
      );
    });
  });

  it('the statements sent ahead fail under their own name', async () => {
    await within(async (s) => {
      await s.exec('BEGIN');
      await s.exec('SELECT 1/0').catch(() => undefined);
      s.beginReadOnly();
      const e = await s.exec('SELECT 1').catch((x) => x);
      expect(e.message).toMatch(/^starting a READ ONLY transaction failed on test db: Postgres error 25P02/);
      await s.exec('ROLLBACK');
    });
  });

  it('beginReadOnly is sent ahead of the next exec, once', async () => {
    await within(async (s) => {
      s.beginReadOnly();
      expect((await s.exec("SELECT current_setting('transaction_read_only') AS ro")).rows).toEqual([
        { ro: 'on' },
      ]);
      expect((await s.exec('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      await expect(s.exec('INSERT INTO tx_t VALUES (1)')).rejects.toThrow(/Postgres error 25006/);
    });
  });

  it('rollbackLater ends the transaction and drops what was pending', async () => {
    await within(async (s) => {
      s.begin();
      await s.run('CREATE TABLE rb_t (a int)', undefined, { ...stmt, autocommit: false });
      s.rollbackLater();
      expect((await s.exec("SELECT to_regclass('rb_t') AS t")).rows).toEqual([{ t: null }]);
      s.beginReadOnly();
      s.rollbackLater();
      const one = await s.run('SELECT 1 AS one', undefined, stmt);
      expect(one.rows).toEqual([{ one: 1 }]);
      expect((await s.exec("SELECT current_setting('transaction_read_only') AS ro")).rows).toEqual([
        { ro: 'off' },
      ]);
    });
  });

  it('run: counts, columns, types, unique names, duration', async () => {
    await within(async (s) => {
      const t0 = performance.now();
      const sel = await s.run('SELECT g FROM generate_series(1, 1000) g', undefined, {
        ...stmt,
        maxRows: 10,
      });
      expect(sel).toMatchObject({ command: 'SELECT', row_count: 1000, more: 990, moreIsLowerBound: false });
      expect(sel.rows).toHaveLength(10);
      expect(sel.bytes).toBeUndefined();
      expect(sel.duration_ms).toBeGreaterThanOrEqual(0);
      expect(sel.duration_ms).toBeLessThanOrEqual(Math.ceil(performance.now() - t0) + 1);

      await s.exec('CREATE TEMP TABLE big (a int)');
      const ins = await s.run('INSERT INTO big SELECT generate_series(1, 1000) RETURNING a', undefined, {
        ...stmt,
        maxRows: 5,
      });
      // Read in batches, INSERT … RETURNING tags only its last batch, like a SELECT.
      expect(ins).toMatchObject({ command: 'INSERT', row_count: 1000, more: 995 });
      const plain = await s.run('INSERT INTO big VALUES (1), (2), (3)', undefined, stmt);
      expect(plain).toMatchObject({ command: 'INSERT', row_count: 3, columns: [], rows: [] });

      s.begin();
      await s.run('DECLARE c CURSOR FOR SELECT generate_series(1, 700)', undefined, {
        ...stmt,
        autocommit: false,
      });
      const fetched = await s.run('FETCH ALL FROM c', undefined, { ...stmt, maxRows: 10, autocommit: false });
      expect(fetched).toMatchObject({ command: 'FETCH', row_count: 700, more: 690 });
      s.rollbackLater();

      const typed = await s.run("SELECT 'x'::varchar(20) AS v, 1 AS i, '{}'::jsonb AS j", undefined, stmt);
      expect(typed.columns).toEqual([
        { name: 'v', type: 'character varying(20)' },
        { name: 'i', type: 'integer' },
        { name: 'j', type: 'jsonb' },
      ]);
      const internal = await s.run('SELECT 1 AS a', undefined, { ...stmt, internal: true });
      expect(internal.columns).toEqual([{ name: 'a', type: '' }]);

      const named = await s.run('SELECT 1 AS a, 2 AS a, 3 AS a_2', undefined, stmt);
      expect(named.columns.map((c) => c.name)).toEqual(['a', 'a_2_', 'a_2']);
      expect(named.rows).toEqual([{ a: 1, a_2_: 2, a_2: 3 }]);
    });
  });

  it('run: one byte budget for the session, not spent by internal queries nor by a statement with its own', async () => {
    await within(
      async (s) => {
        const v = (c: string) => `SELECT repeat('${c}', 100) AS v`;
        expect((await s.run(v('a'), undefined, { ...stmt, internal: true })).bytes).toBeUndefined();
        expect((await s.run(v('b'), undefined, { ...stmt, maxBytes: 1000 })).bytes).toBeUndefined();
        expect((await s.run(v('c'), undefined, stmt)).bytes).toBeUndefined();
        const cut = await s.run(v('d'), undefined, stmt);
        expect(cut.bytes).toMatchObject({ cutValues: 1, rowsLeftOut: false });
        const rows = await s.run('SELECT g FROM generate_series(1, 50) g', undefined, {
          ...stmt,
          maxBytes: 20,
        });
        expect(rows.bytes).toMatchObject({ max: 20, cutValues: 0, rowsLeftOut: true });
        expect(rows.more).toBeGreaterThan(0);
      },
      { maxBytes: 150 },
    );
  });

  it('run: a lost connection is applied maybe in autocommit, not inside a transaction', async () => {
    const lose = (autocommit: boolean) =>
      within(async (s) => {
        const stream = (s.client as unknown as { connection: { stream: { destroy(): void } } }).connection
          .stream;
        if (!autocommit) s.begin();
        setTimeout(() => stream.destroy(), 300);
        return s.run('SELECT pg_sleep(5)', undefined, { ...stmt, autocommit });
      });
    await expect(lose(true)).rejects.toThrow(
      /^run_sql failed on test db: the connection was lost \(.*\)\. A write may or may not have been applied/,
    );
    await expect(lose(false)).rejects.toThrow(
      /^run_sql failed on test db: the connection was lost \(.*\)\. Nothing was changed/,
    );
  });

  it('a lost connection inside a READ ONLY transaction or an EXPLAIN changed nothing', async () => {
    const lose = <T>(fn: (s: Session) => Promise<T>) =>
      within(async (s) => {
        const stream = (s.client as unknown as { connection: { stream: { destroy(): void } } }).connection
          .stream;
        setTimeout(() => stream.destroy(), 300);
        return fn(s);
      });
    const nothing = /the connection was lost \(.*\)\. Nothing was changed/;
    await expect(
      lose((s) => runOne(s, 'SELECT pg_sleep(5)', { maxRows: 5, readOnly: true, what: 'run_sql_readonly' })),
    ).rejects.toThrow(nothing);
    await expect(
      lose((s) => {
        s.beginReadOnly();
        return s.read('SELECT pg_sleep(5)', undefined, 'reading');
      }),
    ).rejects.toThrow(nothing);
    await expect(
      lose((s) =>
        explain(s, 'SELECT pg_sleep(5)', {
          analyze: true,
          format: 'text',
          readOnly: false,
          what: 'explain_sql',
        }),
      ),
    ).rejects.toThrow(nothing);
  });

  it('read marks its query as neon-mcp’s, at the start only', async () => {
    await within(async (s) => {
      const self = 'query FROM pg_stat_activity WHERE pid = pg_backend_pid()';
      // pg_stat_activity is read once per transaction: each read in its own.
      const read = async (sql: string) => {
        s.beginReadOnly();
        const rows = await s.read(sql, undefined, 'reading');
        s.rollbackLater();
        return rows;
      };
      expect(await read(`  \n SELECT ${self}`)).toEqual([{ query: `SELECT /* neon-mcp */ ${self}` }]);
      expect(await read(`with q AS (SELECT 1) SELECT ${self}`)).toEqual([
        { query: `with /* neon-mcp */ q AS (SELECT 1) SELECT ${self}` },
      ]);
      const values = `VALUES ((SELECT ${self}))`;
      expect(await read(values)).toEqual([{ column1: values }]);
      s.beginReadOnly();
      await s.read('SELECT 1', undefined, 'reading');
      expect((await s.exec("SELECT current_setting('transaction_read_only') AS ro")).rows).toEqual([
        { ro: 'on' },
      ]);
    });
  });

  it('script: every statement in one message; errors name what ran', async () => {
    await within(async (s) => {
      const t0 = performance.now();
      const res = await s.script(
        'CREATE TEMP TABLE sc (a int); INSERT INTO sc VALUES (1), (2); SELECT * FROM sc',
        'migration',
      );
      expect(res.statements).toBe(3);
      expect(res.duration_ms).toBeGreaterThanOrEqual(0);
      expect(res.duration_ms).toBeLessThanOrEqual(Math.ceil(performance.now() - t0) + 1);
      expect((await s.script('SELECT 1', 'migration')).statements).toBe(1);
      const e = await s.script('SELECT 1; SELECT * FROM nope_tbl', 'applying m').catch((x) => x);
      expect(e).toBeInstanceOf(SqlError);
      expect(e.message).toMatch(
        /^applying m failed on test db: Postgres error 42P01 \(undefined_table\) at line 1, column 25\.\n/,
      );
      loseOn(s, 'SELECT 2');
      expect((await s.script('SELECT 2', 'applying m').catch((x) => x)).message).toBe(
        'applying m failed on test db: the connection was lost (Connection terminated unexpectedly). Nothing was changed (the transaction had not been committed). Try again.',
      );
    });
  });
});

describe('run.ts on a session', () => {
  const readOnly = "SELECT current_setting('transaction_read_only') AS ro";

  it('runOne: read-only in a READ ONLY transaction rolled back; otherwise on its own, its commit awaited', async () => {
    await within(async (s) => {
      const ro = await runOne(s, readOnly, { maxRows: 5, readOnly: true, what: 'run_sql_readonly' });
      expect(ro.rows).toEqual([{ ro: 'on' }]);
      expect((await s.exec(readOnly)).rows).toEqual([{ ro: 'off' }]);
      expect((await runOne(s, readOnly, { maxRows: 5, readOnly: false, what: 'run_sql' })).rows).toEqual([
        { ro: 'off' },
      ]);
      await expect(
        runOne(s, 'INSERT INTO child VALUES (404)', { maxRows: 5, readOnly: false, what: 'run_sql' }),
      ).rejects.toThrow(/^run_sql failed on test db: Postgres error 23503/);
    });
    expect(await pg.query(DB, 'SELECT * FROM child')).toEqual([]);
  });

  it('runTransaction read-only: READ ONLY, rolled back, not committed', async () => {
    await within(async (s) => {
      const res = await runTransaction(s, [{ sql: readOnly }, { sql: 'SELECT 2 AS b' }], {
        maxRows: 10,
        readOnly: true,
        tool: 'run_sql_transaction',
      });
      expect(res.committed).toBe(false);
      expect(res.results.map((r) => r.rows)).toEqual([[{ ro: 'on' }], [{ b: 2 }]]);
      expect((await s.exec(readOnly)).rows).toEqual([{ ro: 'off' }]);
    });
  });

  it('runTransaction: committed whole, or rolled back with the reason', async () => {
    await pg.query(DB, 'TRUNCATE tx_t');
    await within(async (s) => {
      const ok = await runTransaction(
        s,
        [{ sql: 'INSERT INTO tx_t VALUES (1)' }, { sql: 'INSERT INTO tx_t VALUES ($1)', params: [2] }],
        { maxRows: 10, readOnly: false, tool: 'run_sql_transaction' },
      );
      expect(ok.committed).toBe(true);
      const failed = await runTransaction(
        s,
        [{ sql: 'INSERT INTO tx_t VALUES (3)' }, { sql: 'SELECT * FROM nope_tbl' }],
        { maxRows: 10, readOnly: false, tool: 'run_sql_transaction' },
      ).catch((e) => e);
      expect(failed).toBeInstanceOf(SqlError);
      expect(failed.code).toBe('42P01');
      expect(failed.message).toMatch(
        /^run_sql_transaction \(statement 2 of 2\) failed on test db: Postgres error 42P01[\s\S]*\nThe transaction was rolled back: none of the 2 statements was applied\.$/,
      );
      const commit = await runTransaction(s, [{ sql: 'INSERT INTO child VALUES (405)' }], {
        maxRows: 10,
        readOnly: false,
        tool: 'run_sql_transaction',
      }).catch((e) => e);
      expect(commit).toBeInstanceOf(SqlError);
      expect(commit.code).toBe('23503');
      expect(commit.message).toMatch(
        /^run_sql_transaction \(COMMIT\) failed on test db: Postgres error 23503[\s\S]*\nThe COMMIT failed, so nothing was applied\.$/,
      );
    });
    expect(await pg.query(DB, 'SELECT a FROM tx_t ORDER BY a')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('runTransaction: an error without a SQLSTATE passes as it is', async () => {
    const e = await within(async (s) => {
      const stream = (s.client as unknown as { connection: { stream: { destroy(): void } } }).connection
        .stream;
      setTimeout(() => stream.destroy(), 300);
      return runTransaction(s, [{ sql: 'SELECT pg_sleep(5)' }], {
        maxRows: 10,
        readOnly: false,
        tool: 'run_sql_transaction',
      });
    }).catch((x) => x);
    expect(e).toBeInstanceOf(SqlError);
    expect(e.code).toBeUndefined();
    expect(e.message).toMatch(
      /^run_sql_transaction \(statement 1 of 1\) failed on test db: the connection was lost \(.*\)\. Nothing was changed \(the transaction had not been committed\)\. Try again\.$/,
    );
  });

  it('a COMMIT whose reply is lost, of a transaction that wrote nothing: nothing was changed', async () => {
    await within(async (s) => {
      loseOn(s, 'COMMIT');
      const tx = await runTransaction(s, [{ sql: 'SELECT 1' }], {
        maxRows: 10,
        readOnly: false,
        tool: 'run_sql_transaction',
      }).catch((e) => e);
      expect(tx.message).toBe(
        'run_sql_transaction (COMMIT) failed on test db: the connection was lost (Connection terminated unexpectedly). Nothing was changed: the transaction had written nothing. Try again.',
      );
      await s.exec('ROLLBACK');
    });
    await within(async (s) => {
      loseOn(s, 'COMMIT');
      const script = await runScript(s, 'SELECT 1', 'apply_migration').catch((e) => e);
      expect(script.message).toMatch(
        /^apply_migration \(COMMIT\) failed on test db: the connection was lost .*\. Nothing was changed: the transaction had written nothing\./,
      );
    });
  });

  it('runScript: a transaction that cannot start says so, and sends nothing of the script', async () => {
    await within(async (s) => {
      await s.exec('BEGIN');
      await s.exec('SELECT 1/0').catch(() => undefined);
      const e = await runScript(s, 'CREATE TABLE rs_never (a int)', 'apply_migration').catch((x) => x);
      expect(e.message).toMatch(/^starting the transaction failed on test db: Postgres error 25P02/);
      await s.exec('ROLLBACK');
    });
    expect(await pg.query(DB, "SELECT to_regclass('rs_never') AS t")).toEqual([{ t: null }]);
  });

  it('runScript: one transaction with standard_conforming_strings on, committed; rolled back when it fails', async () => {
    await within(async (s) => {
      await s.exec('SET standard_conforming_strings = off');
      const res = await runScript(
        s,
        "CREATE TABLE rs_ok AS SELECT current_setting('standard_conforming_strings') AS v; INSERT INTO rs_ok VALUES ('x')",
        'apply_migration',
      );
      expect(res.statements).toBe(2);
      const e = await runScript(
        s,
        'CREATE TABLE rs_fail (a int); SELECT * FROM nope_tbl',
        'apply_migration',
      ).catch((x) => x);
      expect(e.message).toMatch(/^apply_migration failed on test db: Postgres error 42P01/);
      expect((await s.exec("SELECT to_regclass('rs_fail') AS t")).rows).toEqual([{ t: null }]);
      const c = await runScript(s, 'INSERT INTO child VALUES (406)', 'apply_migration').catch((x) => x);
      expect(c.message).toMatch(/^apply_migration \(COMMIT\) failed on test db: Postgres error 23503/);
      expect((await s.exec('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    });
    expect(await pg.query(DB, 'SELECT v FROM rs_ok ORDER BY v')).toEqual([{ v: 'on' }, { v: 'x' }]);
    expect(await pg.query(DB, 'SELECT * FROM child')).toEqual([]);
  });

  it('explain: text plans joined by lines, JSON plans as objects, always rolled back', async () => {
    await within(async (s) => {
      const base = { analyze: false, readOnly: false, what: 'explain_sql' } as const;
      const sql = 'SELECT * FROM generate_series(1, 10) g WHERE g > 5';
      const text = await explain(s, sql, { ...base, format: 'text' });
      expect(text.plan).toMatch(/^Function Scan on generate_series g .*\n\s+Filter: \(g > 5\)$/);
      const json = await explain(s, sql, { ...base, format: 'json' });
      expect(json.plan).toMatchObject({ Plan: { 'Node Type': 'Function Scan' } });
      // Without analyze nothing runs, so outside effects are not refused.
      expect(await explain(s, 'SELECT pg_advisory_lock(1)', { ...base, format: 'text' })).toMatchObject({
        plan: expect.stringMatching(/^Result/),
      });
      const analyzed = await explain(s, 'INSERT INTO ex_t VALUES (1)', {
        ...base,
        analyze: true,
        format: 'text',
      });
      expect(analyzed.plan).toMatch(/actual time=/);
      expect((await s.exec('SELECT count(*)::int AS n FROM ex_t')).rows).toEqual([{ n: 0 }]);
      expect((await s.exec(readOnly)).rows).toEqual([{ ro: 'off' }]);
    });
    expect(await pg.query(DB, 'SELECT * FROM ex_t')).toEqual([]);
  });
});

describe('a COMMIT whose reply is lost', () => {
  const isCommit = (chunk: Buffer) => chunk.includes('COMMIT');
  const rows = async (a: number) =>
    (await pg.query(DB, 'SELECT count(*)::int AS n FROM tx_t WHERE a = $1', [a]))[0]?.n;
  const insert = (s: Session, a: number) =>
    runTransaction(s, [{ sql: `INSERT INTO tx_t VALUES (${a})` }], {
      maxRows: 10,
      readOnly: false,
      tool: 'run_sql_transaction',
    });
  const through = <T>(proxyUri: string, fn: (s: Session) => Promise<T>) =>
    withSession(target(proxyUri), options(), fn, connections({ idleMs: 0, max: 1 }));

  it('committed by the server: asked over a new connection, the answer is success, with a warning', async () => {
    const proxy = await cuttingProxy((nth, chunk) => (nth === 1 && isCommit(chunk) ? 'reply' : 'pass'));
    const events: ClientEvent[] = [];
    try {
      const out = await clientEvents.run(
        (ev) => events.push(ev),
        () => through(proxy.uri, (s) => insert(s, 701)),
      );
      expect(out.committed).toBe(true);
      expect(await rows(701)).toBe(1);
      // The session's connection, then the one that asked.
      expect(proxy.connections()).toBe(2);
      expect(events).toEqual([
        {
          level: 'warning',
          kind: 'sql_commit',
          message: expect.stringMatching(
            /^The connection to test db was lost before COMMIT's reply; PostgreSQL reports transaction \d+ committed\.$/,
          ),
        },
      ]);
      // A migration the same way: applied, so complete_database_migration deletes its temporary branch.
      const script = await through(proxy.uri, (s) =>
        runScript(s, 'INSERT INTO tx_t VALUES (702); INSERT INTO tx_t VALUES (702)', 'apply_migration'),
      );
      expect(script.statements).toBe(2);
      expect(await rows(702)).toBe(2);
    } finally {
      proxy.close();
    }
  });

  it('never reached the server: the backend rolled back, and the answer says nothing was changed', async () => {
    const proxy = await cuttingProxy((nth, chunk) => (nth === 1 && isCommit(chunk) ? 'close' : 'pass'));
    try {
      const e = await through(proxy.uri, (s) => insert(s, 703)).catch((x) => x);
      expect(e).toBeInstanceOf(SqlError);
      expect(e.message).toMatch(
        /^run_sql_transaction \(COMMIT\) failed on test db: the connection was lost \(.*\)\. Nothing was changed: PostgreSQL reports the transaction \(\d+\) rolled back\. Try again\.$/,
      );
      expect(await rows(703)).toBe(0);
    } finally {
      proxy.close();
    }
  });

  it('still open on the server after the asks: may or may not, with the query that tells', async () => {
    const proxy = await cuttingProxy((nth, chunk) => (nth === 1 && isCommit(chunk) ? 'hold' : 'pass'));
    try {
      const started = Date.now();
      const e = await through(proxy.uri, (s) => insert(s, 704)).catch((x) => x);
      const xid = /txid_status\((\d+)\)/.exec(e.message)?.[1];
      expect(e.message).toBe(
        `run_sql_transaction (COMMIT) failed on test db: the connection was lost (Connection terminated unexpectedly). A write may or may not have been applied: asked over a new connection, PostgreSQL did not say that the transaction committed or rolled back. SELECT txid_status(${xid}) tells (committed, aborted or in progress); check it, or the data, before running it again.`,
      );
      // It asked five times, over the waits in between (0.25 + 0.5 + 1 + 2 s).
      expect(proxy.connections()).toBe(6);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_750);
      expect((await pg.query(DB, 'SELECT txid_status($1) AS s', [xid]))[0]?.s).toBe('in progress');
    } finally {
      proxy.close();
    }
  });

  it('nobody to ask (a new connection fails): may or may not, at once', async () => {
    const proxy = await cuttingProxy((nth, chunk) =>
      nth === 1 ? (isCommit(chunk) ? 'hold' : 'pass') : 'close',
    );
    try {
      const e = await through(proxy.uri, (s) => insert(s, 705)).catch((x) => x);
      expect(e.message).toMatch(/\. A write may or may not have been applied: asked over a new connection, /);
      expect(proxy.connections()).toBe(2);
    } finally {
      proxy.close();
    }
  });
});
