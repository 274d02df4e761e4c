/**
 * Connections to branch databases: parsing Neon's connection URI (TLS as its `sslmode` says), a small
 * pool per URI whose idle connections close after a while, resetting a connection before it is reused,
 * and cancelling what a connection runs from a second one.
 *
 * Why a pool: see docs/SQL.md ("Connections"): reusing a connection saves the TCP and TLS handshakes
 * and the SCRAM exchange on every call (3-4 round trips, plus Neon's proxy). A connection given back
 * is reset in the background (the open transaction rolled back, then what DISCARD ALL does, then its
 * dblink connections closed), so a `SET`, a temporary table, a prepared statement or a dblink
 * connection never leaks into the next call.
 *
 * node-postgres' public API is used here (the pool's onConnect hook, the clients' events,
 * pg_backend_pid() for the process ID), except for the socket the row-size guard listens on
 * (`client.connection.stream`), which test/sql-protocol.test.ts checks.
 */
import type * as Pg from 'pg';
import { type Driver, loadDriver } from './driver.js';
import { connectError, SqlConnectError } from './errors.js';
import { installRowCutter } from './row-cutter.js';

/** How long a pooled connection may sit idle before it is closed. */
const POOL_IDLE_MS = 60_000;
/** Connections per URI at most. */
export const POOL_MAX = 4;
/** Giving up on connecting (a suspended Neon compute usually wakes in under a few seconds). */
const CONNECT_TIMEOUT_MS = 20_000;

type SslMode = 'disable' | 'prefer' | 'verify';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  options?: string;
  ssl: SslMode;
  channelBinding: boolean;
}

/**
 * Reads a `postgresql://` URI. `sslmode=disable` turns TLS off; `allow`/`prefer` try TLS without
 * verifying and fall back to plain TCP; anything else — `require`, `verify-ca`, `verify-full`, or no
 * sslmode at all, since Neon requires TLS — means TLS with the certificate verified against the host
 * name (Neon's certificates are publicly trusted).
 */
export function parseUri(uri: string): Endpoint {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error('The connection URI from Neon is not a valid URL.');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new Error(`The connection URI has scheme ${url.protocol}; expected postgresql:.`);
  }
  const q = url.searchParams;
  const mode = (q.get('sslmode') ?? '').toLowerCase();
  const ssl: SslMode =
    mode === 'disable' ? 'disable' : mode === 'allow' || mode === 'prefer' ? 'prefer' : 'verify';
  const cb = (q.get('channel_binding') ?? '').toLowerCase();
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username),
    options: q.get('options') ?? undefined,
    ssl,
    channelBinding: cb === 'require' || cb === 'prefer',
  };
}

/** One checked-out connection. */
export interface Lease {
  client: Pg.ClientBase;
  /** The backend's process ID (for pg_cancel_backend). */
  pid: number;
  /** Gives the connection back: reset and reused when `reuse`, else closed. Does not wait. */
  release(reuse: boolean): void;
  /** Asks the server, over a second connection, to cancel the statement this one runs. */
  cancel(): Promise<void>;
  /**
   * Asks the server, over a second connection, whether transaction `xid` (txid_current_if_assigned)
   * committed: `undefined` when the server no longer knows it.
   */
  commitStatus(xid: string): Promise<CommitStatus | undefined>;
  /** Closes the socket at once. */
  destroy(): void;
}

export interface LeaseOptions {
  /** statement_timeout of the session, in milliseconds. */
  timeoutMs: number;
  /** Groups pools so they can be closed together (the branch ID, when its branch is deleted). */
  tag?: string;
  /** Where, for error messages (e.g. `branch br-x, database neondb`). */
  where: string;
  /** A server given by --database-url, not a Neon compute: connect errors advise on the URL. */
  byUrl?: boolean;
  /**
   * Whose key found the URI: two tenants never share a pool, even for the same URI (under --http, a
   * caller must not ride on a connection another caller's key opened).
   */
  tenant?: string;
}

/** What txid_status says of a transaction. */
export type CommitStatus = 'committed' | 'aborted' | 'in progress';

interface PoolEntry {
  pool: Pg.Pool;
  tag?: string;
}

const noop = () => undefined;

/**
 * Hands out connections. `idleMs` 0 means no pooling: a connection per call, closed afterwards (kept
 * for the measurement in docs/SQL.md).
 */
export class Connections {
  private readonly pools = new Map<string, PoolEntry>();
  /** URIs whose server turned TLS down under sslmode=prefer. */
  private readonly plain = new Set<string>();

  constructor(readonly options: { idleMs: number; max: number } = { idleMs: POOL_IDLE_MS, max: POOL_MAX }) {}

  async lease(uri: string, opts: LeaseOptions): Promise<Lease> {
    const driver = await loadDriver();
    let ep: Endpoint;
    try {
      ep = parseUri(uri);
    } catch (e) {
      // Not a bug here: Neon handed out a URI that cannot be used. Nothing was sent anywhere. (A
      // --database-url was checked at start-up, so this is Neon's.)
      throw new SqlConnectError(
        `Could not connect to ${opts.where}: the connection URI from Neon cannot be used (${e instanceof Error ? e.message : String(e)}). ` +
          'Nothing was sent to the database. Try again (the URI is fetched anew); if it keeps failing, check the compute with list_computes.',
        undefined,
        e,
      );
    }
    try {
      return await this.open(driver, uri, ep, opts);
    } catch (e) {
      if (ep.ssl === 'prefer' && !this.plain.has(uri) && /does not support SSL/i.test(String(e))) {
        this.plain.add(uri);
        await this.closeKey(this.key(uri, opts));
        try {
          return await this.open(driver, uri, ep, opts);
        } catch (e2) {
          throw connectError(e2, opts.where, opts.byUrl);
        }
      }
      throw connectError(e, opts.where, opts.byUrl);
    }
  }

  /** Closes the pools of a tag (e.g. a deleted branch). */
  async closeTagged(tag: string): Promise<void> {
    const keys = [...this.pools].filter(([, e]) => e.tag === tag).map(([k]) => k);
    await Promise.all(keys.map((k) => this.closeKey(k)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.pools.keys()].map((k) => this.closeKey(k)));
  }

  /** Open pools (for tests). */
  get size(): number {
    return this.pools.size;
  }

  private key(uri: string, opts: LeaseOptions): string {
    return `${opts.tenant ?? ''}\u0000${opts.timeoutMs}\u0000${uri}`;
  }

  private async closeKey(key: string): Promise<void> {
    const entry = this.pools.get(key);
    if (!entry) return;
    this.pools.delete(key);
    await entry.pool.end().catch(noop);
  }

  private config(driver: Driver, uri: string, ep: Endpoint): Pg.ClientConfig {
    const tls = ep.ssl !== 'disable' && !(ep.ssl === 'prefer' && this.plain.has(uri));
    return {
      host: ep.host,
      port: ep.port,
      user: ep.user,
      password: ep.password,
      database: ep.database,
      options: ep.options,
      ssl: tls ? { rejectUnauthorized: ep.ssl === 'verify' } : false,
      enableChannelBinding: tls && ep.channelBinding,
      application_name: 'neon-mcp',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      types: driver.types,
    };
  }

  /** The pool of a key, created on first use. */
  private poolFor(
    driver: Driver,
    key: string,
    config: Pg.ClientConfig,
    setup: string,
    tag: string | undefined,
  ): Pg.Pool {
    const existing = this.pools.get(key);
    if (existing) return existing.pool;
    const pool = new driver.pg.Pool({
      ...config,
      max: this.options.max,
      idleTimeoutMillis: this.options.idleMs,
      allowExitOnIdle: true,
      // Awaited by the pool before it hands the connection out, so the caller's first query never
      // waits in node-postgres' queue behind the session settings.
      onConnect: (c: Pg.ClientBase) => prepare(c, setup),
    } as Pg.PoolConfig);
    const entry: PoolEntry = { pool, tag };
    // Errors of idle connections (the compute suspended, the server restarted) must not crash us;
    // the pool drops such connections by itself.
    pool.on('error', noop);
    // A pool whose last connection is gone is dropped, so a long-lived server keeps no pool for every
    // branch it touched once.
    pool.on('remove', () => {
      if (pool.totalCount === 0 && pool.waitingCount === 0 && this.pools.get(key) === entry) {
        this.pools.delete(key);
        pool.end().catch(noop);
      }
    });
    this.pools.set(key, entry);
    return pool;
  }

  private async open(driver: Driver, uri: string, ep: Endpoint, opts: LeaseOptions): Promise<Lease> {
    const config = this.config(driver, uri, ep);
    const setup = sessionSetup(opts.timeoutMs);
    const side: SideQuery = (sql, params) => sideQuery(driver, this.config(driver, uri, ep), sql, params);

    if (this.options.idleMs <= 0) {
      const client = new driver.pg.Client(config);
      client.on('error', noop);
      await client.connect().catch(async (e) => {
        await client.end().catch(noop);
        throw e;
      });
      await prepare(client, setup).catch(async (e) => {
        await client.end().catch(noop);
        throw e;
      });
      return makeLease(
        client,
        (reuse) => {
          void reuse;
          client.end().catch(noop);
        },
        side,
      );
    }

    const key = this.key(uri, opts);
    // A connection the server closed while idle may still be in the pool for a moment: skip it.
    for (let attempt = 0; ; attempt++) {
      const client = await this.poolFor(driver, key, config, setup, opts.tag).connect();
      if (lost.has(client) && attempt < this.options.max) {
        client.release(true);
        continue;
      }
      return makeLease(client, (reuse) => resetAndRelease(client, reuse, setup), side);
    }
  }
}

/** Backend process IDs of open connections (for pg_cancel_backend), read when they were set up. */
const pids = new WeakMap<Pg.ClientBase, number>();
/** Connections that reported an error or their end: never handed out again. */
const lost = new WeakSet<Pg.ClientBase>();

/** Settings of a new connection, and its backend's process ID, in one round trip. */
async function prepare(client: Pg.ClientBase, setup: string): Promise<void> {
  client.on('error', () => lost.add(client));
  client.on('end', () => lost.add(client));
  // Before the guard adds its own listener: the cutter replaces the only one, pg-protocol's.
  const stream = (client as unknown as { connection?: { stream?: NodeJS.EventEmitter } }).connection?.stream;
  if (stream) installRowCutter(stream);
  guardRowSize(client);
  const results = (await client.query(
    `${setup}; SELECT /* neon-mcp */ pg_backend_pid() AS pid`,
  )) as unknown as Pg.QueryResult<{ pid: number }>[];
  const pid = results[results.length - 1]?.rows[0]?.pid;
  if (typeof pid === 'number') pids.set(client, pid);
}

/** Rows larger than this are not read: the connection is closed when such a row starts to arrive. */
export const MAX_ROW_BYTES = 64 * 1024 * 1024;
/** Connections closed because a row was too large, with that row's size. */
const oversized = new WeakMap<Pg.ClientBase, number>();

/** The size of the row that made neon-mcp close this connection, if that is why it closed. */
export function oversizedRow(client: Pg.ClientBase): number | undefined {
  return oversized.get(client);
}

/**
 * Closes the connection as soon as a row message larger than {@link MAX_ROW_BYTES} announces itself.
 * node-postgres' protocol parser reads each message whole (doubling its buffer as it grows) before
 * anything can look at the row, so a 500 MB value would cost a gigabyte and more before the byte cap
 * could cut it; the message header gives the size first. This follows the message framing from the
 * first byte after the connection is set up (nothing is in flight then) and skips every body, so it
 * costs a few operations per message. It listens on the socket node-postgres reads (plain or TLS;
 * `client.connection.stream`, an internal name checked by test/sql-protocol.test.ts).
 */
function guardRowSize(client: Pg.ClientBase): void {
  const stream = (
    client as unknown as { connection?: { stream?: NodeJS.ReadableStream & { destroy(): void } } }
  ).connection?.stream;
  if (!stream) return;
  const header = Buffer.alloc(5);
  let have = 0;
  let skip = 0;
  stream.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const n = Math.min(5 - have, chunk.length - i);
      chunk.copy(header, have, i, i + n);
      have += n;
      i += n;
      if (have < 5) return;
      have = 0;
      // Type byte, then the length of the message without the type byte (it counts itself).
      skip = header.readUInt32BE(1) - 4;
      if (header[0] === 0x44 /* DataRow */ && skip > MAX_ROW_BYTES) {
        oversized.set(client, skip);
        stream.destroy();
        return;
      }
    }
  });
}

function makeLease(client: Pg.ClientBase, release: (reuse: boolean) => void, side: SideQuery): Lease {
  const pid = pids.get(client) ?? 0;
  let released = false;
  return {
    client,
    pid,
    release(reuse) {
      if (released) return;
      released = true;
      release(reuse);
    },
    cancel: async () => {
      if (pid) await side('SELECT /* neon-mcp */ pg_cancel_backend($1)', [pid]);
    },
    // txid_status, not pg_xact_status: the txid_* forms (PostgreSQL 10 on) are still in 18, and a
    // --database-url server may be older than 13.
    commitStatus: async (xid) => {
      const { rows } = await side('SELECT /* neon-mcp */ txid_status($1::bigint) AS status', [xid]);
      return (rows[0]?.status as CommitStatus | null) ?? undefined;
    },
    destroy() {
      // node-postgres closes the socket at once when a query is still running. (A pooled client is a
      // Client too; the pool drops it when it is released.)
      (client as Pg.Client).end().catch(noop);
    },
  };
}

/**
 * What DISCARD ALL does, in a form that also works when a transaction is open (DISCARD ALL itself
 * refuses to run in one), after ending that transaction: one round trip for any state.
 */
export const RESET =
  'ROLLBACK; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; CLOSE ALL; UNLISTEN *; ' +
  'SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES';

/**
 * Closes the dblink connections a session opened (they outlive ROLLBACK and DISCARD ALL, and a named
 * one would let a later call use it without any password): the named ones from
 * dblink_get_connections(), then the unnamed one. Does nothing where the extension is not installed.
 * Runs after RESET ALL, so neither a search_path nor a role of the session applies; names are
 * qualified anyway. If it fails (e.g. no privilege on the extension's schema), the reset fails and the
 * connection is closed, which ends its dblink connections too.
 */
const CLOSE_DBLINKS = `DO /* neon-mcp */ $$
DECLARE s text; c text;
BEGIN
  SELECT pg_catalog.quote_ident(n.nspname) INTO s FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'dblink';
  IF s IS NULL THEN RETURN; END IF;
  FOR c IN EXECUTE pg_catalog.format('SELECT pg_catalog.unnest(%s.dblink_get_connections())', s) LOOP
    EXECUTE pg_catalog.format('SELECT %s.dblink_disconnect(%L)', s, c);
  END LOOP;
  BEGIN
    EXECUTE pg_catalog.format('SELECT %s.dblink_disconnect()', s);
  EXCEPTION WHEN connection_does_not_exist THEN NULL;
  END;
END $$`;

/**
 * The session's timeouts, set with SET after connecting and after every reset. (As startup parameters
 * they would be simpler, but Neon's proxy drops them silently and PgBouncer refuses them.)
 */
export function sessionSetup(timeoutMs: number): string {
  const ms = Math.max(1, Math.round(timeoutMs));
  return `SET statement_timeout = ${ms}; SET idle_in_transaction_session_timeout = ${Math.max(60_000, 2 * ms)}`;
}

/**
 * Resets a pooled connection in the background, then returns it; closes it if anything fails. The
 * caller gives the connection back only once it is idle (no query of the call still running).
 */
function resetAndRelease(client: Pg.PoolClient, reuse: boolean, setup: string): void {
  if (!reuse || lost.has(client)) {
    client.release(true);
    return;
  }
  client.query(`${RESET}; ${CLOSE_DBLINKS}; ${setup}`).then(
    () => client.release(),
    () => client.release(true),
  );
}

type SideQuery = (sql: string, params: unknown[]) => Promise<Pg.QueryResult>;

/**
 * One query on a second, short-lived connection with the same credentials (pg_cancel_backend while
 * the leased one is busy, txid_status after it was lost).
 */
async function sideQuery(
  driver: Driver,
  config: Pg.ClientConfig,
  sql: string,
  params: unknown[],
): Promise<Pg.QueryResult> {
  const client = new driver.pg.Client({ ...config, connectionTimeoutMillis: 5_000 });
  client.on('error', noop);
  try {
    await client.connect();
    return await client.query(sql, params);
  } finally {
    await client.end().catch(noop);
  }
}

/** The process-wide connections of the SQL tools. */
export const connections = new Connections();
