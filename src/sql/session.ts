/**
 * Running SQL on one leased connection: a user statement through a cursor (the extended protocol, so
 * Postgres itself refuses a second statement hidden after a `;`), capped at a number of rows and of
 * bytes with the rest counted; a script through the simple protocol (migrations); internal catalog
 * queries; and cancellation when the MCP call is cancelled.
 *
 * One query at a time on the client: a statement that answers before its Sync's reply (the read-only
 * path) leaves the session busy until that reply, and every later query, the rollback and the
 * connection's reset wait for it. node-postgres 8 would queue them itself, but warns that this is
 * deprecated, and pg 9 removes it.
 */
import type { QueryResult } from 'pg';
import { emitEvent } from '../client/events.js';
import { type DatabaseAlias, databaseOfUri, renameDatabases } from './database-names.js';
import { BUILTIN_TYPE_NAMES, type Driver, loadDriver } from './driver.js';
import {
  type ErrorContext,
  fromPgError,
  isPgError,
  lostError,
  SqlCancelledError,
  SqlError,
  SqlLostError,
  seconds,
} from './errors.js';
import {
  type CommitStatus,
  type Connections,
  type Lease,
  MAX_ROW_BYTES,
  oversizedRow,
  connections as sharedConnections,
} from './pools.js';
import { type RawResult, StatementQuery } from './protocol.js';
import type { ReaderWalls } from './readonly-role.js';
import { loadParser } from './statements.js';

/**
 * A comment inside neon-mcp's own catalog queries, so list_slow_queries can leave them out
 * (pg_stat_statements keeps comments that are inside a statement).
 */
export const INTERNAL_MARK = '/* neon-mcp */';

/** Rows counted past the cap before giving up on an exact figure. */
const COUNT_LIMIT = 100_000;
/** After asking the server to cancel, how long to wait before dropping the connection. */
const CANCEL_GRACE_MS = 2_000;
/**
 * Past the statement timeout, how long neon-mcp waits before it cancels a statement itself: PostgreSQL's
 * own statement_timeout normally fires first (with its own message); this deadline holds when SQL
 * switched that off (`SET LOCAL statement_timeout = 0` in a transaction), which SQL cannot do to it.
 */
const DEADLINE_GRACE_MS = 1_000;
/** Past the statement timeout, how long a connection may stay busy before it is closed, not reused. */
const SETTLE_GRACE_MS = 10_000;
/**
 * After a COMMIT whose reply was lost, the waits between asks while the old backend may still be
 * committing (it notices the closed socket only then).
 */
const COMMIT_CHECK_WAITS_MS = [0, 250, 500, 1_000, 2_000];
/** Bytes of row values returned at most, over all statements of a session (`sqlMaxBytes`). */
export const SQL_MAX_BYTES = 262_144;

const noop = () => undefined;

export interface SessionTarget {
  uri: string;
  /** For messages: e.g. `branch br-x (database neondb, role neondb_owner)`. */
  where: string;
  role?: string;
  /** The role is the database's owner, when that is known. */
  owner?: boolean;
  /** The branch ID, so the pools of a deleted branch can be closed. */
  tag?: string;
  /** A server given by --database-url, not a Neon compute (for the advice of connect errors). */
  byUrl?: boolean;
  /** Whose key found this URI (NeonClient's tenant): pools are never shared between two. */
  tenant?: string;
  /**
   * The database's name as the agent knows it, when the URI's may differ (local mode's branches):
   * statements naming it by that name are given the server's (database-names.ts).
   */
  database?: string;
  /**
   * The caller's memory of the read-only role on its servers (readonly-role.ts), its own so two callers
   * never share it; the resolvers set it. Absent: the role is checked on every read-only call.
   */
  readerWalls?: ReaderWalls;
}

export interface SessionOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Why writes are refused, when they are (for the error advice). */
  readOnlyReason?: string;
  /**
   * Bytes of row values returned at most, shared by the session's statements (default
   * {@link SQL_MAX_BYTES}); long values are cut and rows past it counted, like rows past the row cap.
   */
  maxBytes?: number;
}

export interface Column {
  name: string;
  type: string;
}

export interface StatementResult {
  /** The command tag's verb, e.g. SELECT, INSERT, CREATE TABLE. */
  command: string;
  columns: Column[];
  rows: Record<string, unknown>[];
  /** Rows the statement returned or affected (all of them, not only those shown). */
  row_count: number | null;
  /** Rows left out after the cap, and whether that figure is a lower bound. */
  more: number;
  moreIsLowerBound: boolean;
  duration_ms: number;
  /** Set when the byte cap cut values or left rows out: the cap, and how many values were cut. */
  bytes?: { max: number; cutValues: number; rowsLeftOut: boolean };
}

/** Runs `fn` on a leased connection; cancels the running statement when `opts.signal` aborts. */
export async function withSession<T>(
  target: SessionTarget,
  opts: SessionOptions,
  fn: (s: Session) => Promise<T>,
  pool: Connections = sharedConnections,
): Promise<T> {
  const driver = await loadDriver();
  if (opts.signal.aborted) throw cancelled(target);
  const lease = await pool.lease(target.uri, {
    timeoutMs: opts.timeoutMs,
    tag: target.tag,
    where: target.where,
    byUrl: target.byUrl,
    tenant: target.tenant,
  });
  let reuse = true;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    reuse = false;
    emitEvent({
      level: 'warning',
      kind: 'sql_cancel',
      message: `The call was cancelled: cancelling the SQL running on ${target.where} (pg_cancel_backend).`,
    });
    lease.cancel().catch(() => undefined);
    killTimer = setTimeout(() => lease.destroy(), CANCEL_GRACE_MS);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const session = new Session(lease.client, driver, target, opts, lease);
  try {
    if (opts.signal.aborted) throw cancelled(target);
    return await fn(session);
  } catch (e) {
    // A connection that was lost fails its reset and is dropped then; a cancelled one is dropped now.
    if (opts.signal.aborted) throw cancelled(target);
    throw e;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    giveBack(session, lease, reuse, opts.timeoutMs);
  }
}

/**
 * Returns the connection once the session's last reply arrived (so the reset is never queued behind
 * it); closes it instead if that takes longer than the statement timeout allows.
 */
function giveBack(session: Session, lease: Lease, reuse: boolean, timeoutMs: number): void {
  if (!reuse) {
    session.dispose();
    lease.release(false);
    return;
  }
  const guard = setTimeout(() => {
    session.dispose();
    lease.release(false);
  }, timeoutMs + SETTLE_GRACE_MS);
  guard.unref();
  void session.settled().then(() => {
    clearTimeout(guard);
    session.dispose();
    lease.release(true);
  });
}

function cancelled(target: SessionTarget): SqlCancelledError {
  return new SqlCancelledError(
    `Cancelled by the client: the SQL on ${target.where} was cancelled on the server, and the open transaction (if any) was rolled back.`,
  );
}

type Client = import('pg').ClientBase;

export class Session {
  private typeNames = new Map<string, string>();
  /** Settles once everything sent so far has been answered, or the connection ended. */
  private idle: Promise<void> = Promise.resolve();
  private readonly ended: Promise<void>;
  private readonly onEnd: () => void;
  /** Bytes of row values the session may still return. */
  private bytesLeft: number;

  constructor(
    readonly client: Client,
    private readonly driver: Driver,
    readonly target: SessionTarget,
    readonly opts: SessionOptions,
    /**
     * Asks over a second connection how a transaction ended (for {@link commit}), and cancels or closes
     * the connection when a statement passes its deadline (see {@link watch}).
     */
    private readonly lease?: Partial<Pick<Lease, 'commitStatus' | 'cancel' | 'destroy'>>,
  ) {
    let onEnd: () => void = noop;
    this.ended = new Promise<void>((resolve) => {
      onEnd = resolve;
    });
    this.onEnd = onEnd;
    client.once('end', onEnd);
    this.bytesLeft = opts.maxBytes ?? SQL_MAX_BYTES;
    const real = databaseOfUri(target.uri);
    if (target.database && real && real !== target.database) this.alias = { name: target.database, real };
  }

  /** The agent's name of the database and the server's, when they differ. */
  private readonly alias?: DatabaseAlias;

  /** The agent's SQL with the database's name the server knows (local mode), else as written. */
  private async named(sql: string): Promise<string> {
    return this.alias ? renameDatabases(await loadParser(), sql, this.alias) : sql;
  }

  /** A statement ran past neon-mcp's own deadline and was cancelled (for the error's wording). */
  private deadlinePassed = false;

  /**
   * neon-mcp's own deadline for one statement: `timeoutMs` + {@link DEADLINE_GRACE_MS} after it is
   * sent, the backend is cancelled from a second connection (pg_cancel_backend, the same as a cancelled
   * call), and {@link CANCEL_GRACE_MS} later the connection is closed if it still has not answered. It
   * does not depend on any setting of the session, so no SQL can switch it off.
   */
  private watch<T>(pending: Promise<T>): Promise<T> {
    const lease = this.lease;
    if (!lease?.cancel) return pending;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      this.deadlinePassed = true;
      emitEvent({
        level: 'warning',
        kind: 'sql_cancel',
        message: `A statement on ${this.target.where} ran past the ${seconds(this.opts.timeoutMs)} limit (--sql-timeout): neon-mcp cancels it (pg_cancel_backend).`,
      });
      lease.cancel?.().catch(noop);
      kill = setTimeout(() => lease.destroy?.(), CANCEL_GRACE_MS);
    }, this.opts.timeoutMs + DEADLINE_GRACE_MS);
    const done = () => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
    };
    pending.then(done, done);
    return pending;
  }

  /** Resolves when the connection is free: no reply of this session is outstanding. */
  settled(): Promise<void> {
    return this.idle;
  }

  /** Stops listening to the connection (it outlives the session in the pool). */
  dispose(): void {
    this.client.removeListener('end', this.onEnd);
  }

  /**
   * An internal query (transaction control, catalog reads); errors name `what`. `applied`: what a lost
   * connection means; 'maybe' for a COMMIT (the server may have committed before the reply was lost).
   */
  async exec<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    what = 'a query of neon-mcp',
    applied: 'maybe' | 'no' = 'no',
  ): Promise<QueryResult<R>> {
    await this.flushPrefix();
    await this.idle;
    try {
      return await this.watch(this.client.query<R>({ text: sql, values: params as unknown[] | undefined }));
    } catch (e) {
      throw this.translate(e, { what }, applied);
    }
  }

  /**
   * COMMITs the open transaction. When the connection is lost before COMMIT's reply arrives, the
   * server may have committed or not: it is asked over a second connection (txid_status, which
   * PostgreSQL has for this very case), so the answer is "applied" (this returns) or "nothing was
   * changed" (it throws) wherever that can be known, and "may or may not" only where it cannot.
   */
  async commit(what: string): Promise<void> {
    const { rows } = await this.exec<{ xid: string | null }>(
      `SELECT ${INTERNAL_MARK} txid_current_if_assigned()::text AS xid`,
      undefined,
      what,
    );
    const xid = rows[0]?.xid ?? null;
    try {
      await this.exec('COMMIT', undefined, what, 'maybe');
      return;
    } catch (e) {
      if (!(e instanceof SqlLostError)) throw e;
      // No transaction ID: the transaction wrote nothing, whatever became of the COMMIT.
      if (xid === null) {
        throw new SqlLostError(
          e.lost,
          'Nothing was changed: the transaction had written nothing. Try again.',
        );
      }
      const status = await this.commitStatus(xid);
      if (status === 'committed') {
        emitEvent({
          level: 'warning',
          kind: 'sql_commit',
          message: `The connection to ${this.target.where} was lost before COMMIT's reply; PostgreSQL reports transaction ${xid} committed.`,
        });
        return;
      }
      if (status === 'aborted') {
        throw new SqlLostError(
          e.lost,
          `Nothing was changed: PostgreSQL reports the transaction (${xid}) rolled back. Try again.`,
        );
      }
      throw new SqlLostError(
        e.lost,
        'A write may or may not have been applied: asked over a new connection, PostgreSQL did not say ' +
          `that the transaction committed or rolled back. SELECT txid_status(${xid}) tells (committed, aborted ` +
          'or in progress); check it, or the data, before running it again.',
      );
    }
  }

  /** How transaction `xid` ended, asked a few times over ~4 s while it is still in progress. */
  private async commitStatus(xid: string): Promise<CommitStatus | undefined> {
    for (const wait of COMMIT_CHECK_WAITS_MS) {
      if (wait) await new Promise((r) => setTimeout(r, wait));
      const status = await this.lease?.commitStatus?.(xid).catch(() => undefined);
      if (status !== 'in progress') return status;
    }
    return 'in progress';
  }

  /** Statements to send ahead of the next {@link run} (see {@link beginReadOnly}). */
  private prefix: string[] = [];

  /**
   * Starts a READ ONLY transaction and takes its snapshot (after which nothing can switch it to
   * read-write), as `role` when given (`SET LOCAL ROLE`, undone with the transaction). Sent with the
   * next statement, in the same round trip. Nothing ends it here: the connection's reset rolls it back.
   */
  beginReadOnly(role?: string): void {
    // `role`: the privilege wall of read-only calls (readonly-role.ts), set before the snapshot.
    this.prefix = [
      'BEGIN READ ONLY',
      ...(role ? [`SET LOCAL ROLE ${this.client.escapeIdentifier(role)}`] : []),
      'SELECT WHERE false',
    ];
  }

  /** Starts a read-write transaction, sent with the next statement. */
  begin(): void {
    this.prefix = ['BEGIN'];
  }

  /** Ends the open transaction without waiting for it (later queries of the session wait for it). */
  rollbackLater(): void {
    this.prefix = [];
    this.idle = this.idle.then(() => this.client.query('ROLLBACK')).then(noop, noop);
  }

  /** Sends what {@link beginReadOnly} left pending, for an {@link exec} that cannot carry it. */
  private async flushPrefix(): Promise<void> {
    if (!this.prefix.length) return;
    const prefix = this.prefix;
    this.prefix = [];
    await this.exec(prefix.join('; '), undefined, 'starting a READ ONLY transaction');
  }

  /**
   * One statement (the extended protocol: Postgres refuses a second one): at most `maxRows` rows are
   * kept, the rest are counted (up to a limit) and dropped. `autocommit`: the statement runs on its
   * own and its commit is awaited; otherwise it runs in the open transaction.
   */
  async run(
    sql: string,
    params: readonly unknown[] | undefined,
    opts: {
      maxRows: number;
      what: string;
      autocommit: boolean;
      internal?: boolean;
      /** Bytes of values for this statement alone, instead of the session's budget. */
      maxBytes?: number;
    },
  ): Promise<StatementResult> {
    if (!opts.internal) sql = await this.named(sql);
    await this.idle;
    const started = performance.now();
    const prefix = this.prefix;
    this.prefix = [];
    // neon-mcp's own queries answer JSON that must stay whole; the agent's share the session budget.
    const maxBytes = opts.internal
      ? Number.POSITIVE_INFINITY
      : (opts.maxBytes ?? Math.max(0, this.bytesLeft));
    const query = new StatementQuery({
      text: sql,
      values: params,
      maxRows: opts.maxRows,
      countLimit: COUNT_LIMIT,
      maxBytes,
      prefix,
      awaitSync: opts.autocommit,
      types: this.driver.types,
    });
    let raw: RawResult;
    try {
      this.client.query(query as unknown as import('pg').Submittable);
      this.idle = Promise.race([query.ready, this.ended]);
      raw = await this.watch(query.promise);
    } catch (e) {
      throw this.translate(
        e,
        { what: opts.what, sql: opts.internal ? undefined : sql },
        opts.autocommit ? 'maybe' : 'no',
      );
    }
    const duration_ms = Math.round(performance.now() - started);
    const columns = opts.internal
      ? raw.fields.map((f) => ({ name: f.name, type: '' }))
      : await this.columnTypes(raw.fields);
    const names = uniqueNames(raw.fields.map((f) => f.name));
    const rows = raw.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]])));
    // A statement read in batches tags only its last batch (PostgreSQL sets the count of each Execute),
    // a SELECT and INSERT … RETURNING alike: count the rows of any statement that returns rows.
    const row_count = raw.fields.length ? raw.rows.length + raw.more : raw.tagCount;
    if (!opts.internal && opts.maxBytes === undefined) this.bytesLeft -= raw.bytes;
    const rowsLeftOut = raw.bytesFull && raw.more > 0;
    const cutByBytes = raw.cutValues > 0 || rowsLeftOut;
    return {
      command: raw.command,
      columns: columns.map((c, i) => ({ ...c, name: names[i] ?? c.name })),
      rows,
      row_count,
      more: raw.more,
      moreIsLowerBound: raw.moreIsLowerBound,
      duration_ms,
      ...(cutByBytes ? { bytes: { max: maxBytes, cutValues: raw.cutValues, rowsLeftOut } } : {}),
    };
  }

  /** An internal read inside the open transaction (after {@link beginReadOnly}); returns the rows. */
  async read<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] | undefined,
    what: string,
  ): Promise<R[]> {
    const marked = sql.replace(/^\s*(WITH|SELECT)\b/i, `$1 ${INTERNAL_MARK}`);
    const res = await this.run(marked, params, {
      maxRows: 10_000,
      what,
      autocommit: false,
      internal: true,
    });
    return res.rows as R[];
  }

  /** A script of any number of statements in one simple-protocol message (migrations). */
  async script(sql: string, what: string): Promise<{ statements: number; duration_ms: number }> {
    sql = await this.named(sql);
    await this.flushPrefix();
    await this.idle;
    const started = performance.now();
    try {
      const res = await this.watch(this.client.query(sql));
      const statements = Array.isArray(res) ? res.length : 1;
      return { statements, duration_ms: Math.round(performance.now() - started) };
    } catch (e) {
      throw this.translate(e, { what, sql }, 'no');
    }
  }

  /** Type names of result columns, e.g. `character varying(20)`, looked up once per session. */
  private async columnTypes(fields: { name: string; dataTypeID: number; dataTypeModifier: number }[]) {
    const key = (f: { dataTypeID: number; dataTypeModifier: number }) =>
      `${f.dataTypeID}:${f.dataTypeModifier}`;
    const missing = fields.filter(
      (f) => !(f.dataTypeModifier === -1 && BUILTIN_TYPE_NAMES[f.dataTypeID]) && !this.typeNames.has(key(f)),
    );
    if (missing.length) {
      await this.idle;
      try {
        const res = await this.client.query<{ o: number; m: number; name: string | null }>({
          text: `SELECT ${INTERNAL_MARK} o::int AS o, m, format_type(o, nullif(m, -1)) AS name FROM unnest($1::oid[], $2::int[]) AS u(o, m)`,
          values: [missing.map((f) => f.dataTypeID), missing.map((f) => f.dataTypeModifier)],
        });
        for (const r of res.rows) this.typeNames.set(`${r.o}:${r.m}`, r.name ?? `oid ${r.o}`);
      } catch {
        // A failed transaction cannot look types up; fall back to OIDs.
      }
    }
    return fields.map((f) => ({
      name: f.name,
      type:
        (f.dataTypeModifier === -1 ? BUILTIN_TYPE_NAMES[f.dataTypeID] : undefined) ??
        this.typeNames.get(key(f)) ??
        BUILTIN_TYPE_NAMES[f.dataTypeID] ??
        `oid ${f.dataTypeID}`,
    }));
  }

  /** Any failure as an agent-facing error. */
  translate(e: unknown, ctx: Pick<ErrorContext, 'what' | 'sql'>, applied: 'maybe' | 'no'): SqlError {
    if (e instanceof SqlError) return e;
    const full: ErrorContext = {
      what: ctx.what,
      sql: ctx.sql,
      where: this.target.where,
      timeoutMs: this.opts.timeoutMs,
      readOnlyReason: this.opts.readOnlyReason,
      role: this.target.role,
      owner: this.target.owner,
      byUrl: this.target.byUrl,
      alias: this.alias,
    };
    if (this.opts.signal.aborted) return cancelled(this.target);
    if (this.deadlinePassed && (!isPgError(e) || e.code === '57014')) {
      return new SqlError(
        `${ctx.what} on ${this.target.where} was cancelled by neon-mcp: it ran past the limit of ` +
          `${seconds(this.opts.timeoutMs)} (--sql-timeout), which SQL cannot raise (a SET of statement_timeout ` +
          'inside the call does not). ' +
          (applied === 'maybe' && !isPgError(e)
            ? 'The connection was closed before the statement answered, so a write may or may not have been applied: check the data before running it again. '
            : 'The statement was cancelled and its transaction rolled back: nothing of it was applied. ') +
          'Make it faster (an index, a narrower WHERE, LIMIT), or ask the user to raise --sql-timeout.',
        '57014',
      );
    }
    const huge = oversizedRow(this.client);
    if (huge !== undefined) {
      return new SqlError(
        `${ctx.what} failed on ${this.target.where}: a row of the result is ${huge} bytes, more than neon-mcp reads ` +
          `(${MAX_ROW_BYTES} bytes per row; shorter values are cut to fit the answer). The connection was closed ` +
          'before the statement was committed, so nothing was applied. Select part of the long values instead, ' +
          'e.g. left(col, 1000), length(col) or substring(col from 1 for 1000).',
      );
    }
    if (isPgError(e)) {
      if (e.code === '57014' && !/statement timeout/.test(e.message)) return cancelled(this.target);
      if (e.code === '57014') {
        emitEvent({
          level: 'warning',
          kind: 'sql_cancel',
          message: `PostgreSQL cancelled ${ctx.what} on ${this.target.where}: it ran past the statement timeout of ${this.opts.timeoutMs} ms.`,
        });
      }
      return fromPgError(e, full);
    }
    return lostError(e, full, applied);
  }
}

/** Column names made unique (`id`, `id_2`) so no value is lost when rows become objects. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    if (count === 1) return n;
    let candidate = `${n}_${count}`;
    while (names.includes(candidate)) candidate += '_';
    return candidate;
  });
}

export { seconds };
