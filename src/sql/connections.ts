/**
 * Connections to branch databases: parsing Neon's connection URI (TLS as its `sslmode` says), a small
 * pool per URI whose idle connections close after a while, resetting a connection before it is reused,
 * and cancelling what a connection runs from a second one.
 *
 * Why a pool: see docs/SQL.md ("Connections"): reusing a connection saves the TCP and TLS handshakes
 * and the SCRAM exchange on every call (3-4 round trips, plus Neon's proxy). A connection given back
 * is reset in the background (the open transaction rolled back, then what DISCARD ALL does), so a
 * `SET`, a temporary table or a prepared statement never leaks into the next call.
 */
import type * as Pg from 'pg';
import { type Driver, loadDriver } from './driver.js';
import { connectError, SqlConnectError } from './errors.js';

/** How long a pooled connection may sit idle before it is closed. */
export const POOL_IDLE_MS = 60_000;
/** Connections per URI at most. */
export const POOL_MAX = 4;
/** Giving up on connecting (a suspended Neon compute usually wakes in under a few seconds). */
export const CONNECT_TIMEOUT_MS = 20_000;

export type SslMode = 'disable' | 'prefer' | 'verify';

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
}

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
      // Not a bug here: Neon handed out a URI that cannot be used. Nothing was sent anywhere.
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
          throw connectError(e2, opts.where);
        }
      }
      throw connectError(e, opts.where);
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
    return `${opts.timeoutMs}\u0000${uri}`;
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
    });
    const entry: PoolEntry = { pool, tag };
    // Errors of idle connections (the compute suspended, the server restarted) must not crash us;
    // the pool drops such connections by itself.
    pool.on('error', noop);
    // The session settings go first in the new connection's queue, before the caller's queries.
    pool.on('connect', (c) => {
      c.on('error', noop);
      c.query(setup).catch(noop);
    });
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
    const cancel = (pid: number) => cancelBackend(driver, this.config(driver, uri, ep), pid);

    if (this.options.idleMs <= 0) {
      const client = new driver.pg.Client(config);
      client.on('error', noop);
      await client.connect().catch(async (e) => {
        await client.end().catch(noop);
        throw e;
      });
      await client.query(setup);
      return makeLease(
        client,
        (reuse) => {
          void reuse;
          client.end().catch(noop);
        },
        cancel,
      );
    }

    const key = this.key(uri, opts);
    // A connection the server closed while idle may still be in the pool for a moment: skip it.
    for (let attempt = 0; ; attempt++) {
      const client = await this.poolFor(driver, key, config, setup, opts.tag).connect();
      const internal = client as unknown as { _queryable?: boolean; _ending?: boolean };
      if ((internal._queryable === false || internal._ending) && attempt < this.options.max) {
        client.release(true);
        continue;
      }
      return makeLease(client, (reuse) => resetAndRelease(client, reuse, setup), cancel);
    }
  }
}

function makeLease(
  client: Pg.ClientBase,
  release: (reuse: boolean) => void,
  cancel: (pid: number) => Promise<void>,
): Lease {
  const internal = client as unknown as {
    processID: number;
    connection?: { stream?: { destroy(): void } };
  };
  let released = false;
  return {
    client,
    pid: internal.processID,
    release(reuse) {
      if (released) return;
      released = true;
      release(reuse);
    },
    cancel: () => cancel(internal.processID),
    destroy() {
      internal.connection?.stream?.destroy();
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
 * The session's timeouts, set with SET after connecting and after every reset. (As startup parameters
 * they would be simpler, but Neon's proxy drops them silently and PgBouncer refuses them.)
 */
export function sessionSetup(timeoutMs: number): string {
  const ms = Math.max(1, Math.round(timeoutMs));
  return `SET statement_timeout = ${ms}; SET idle_in_transaction_session_timeout = ${Math.max(60_000, 2 * ms)}`;
}

/** Resets a pooled connection in the background, then returns it; closes it if anything fails. */
function resetAndRelease(client: Pg.PoolClient, reuse: boolean, setup: string): void {
  if (!reuse) {
    client.release(true);
    return;
  }
  client.query(`${RESET}; ${setup}`).then(
    () => client.release(),
    () => client.release(true),
  );
}

/** pg_cancel_backend from a second, short-lived connection with the same credentials. */
async function cancelBackend(driver: Driver, config: Pg.ClientConfig, pid: number): Promise<void> {
  const client = new driver.pg.Client({ ...config, connectionTimeoutMillis: 5_000 });
  client.on('error', noop);
  try {
    await client.connect();
    await client.query('SELECT /* neon-mcp */ pg_cancel_backend($1)', [pid]);
  } finally {
    await client.end().catch(noop);
  }
}

/** The process-wide connections of the SQL tools. */
export const connections = new Connections();
