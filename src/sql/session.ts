/**
 * Running SQL on one leased connection: a user statement through a cursor (the extended protocol, so
 * Postgres itself refuses a second statement hidden after a `;`), capped at a number of rows with the
 * rest counted; a script through the simple protocol (migrations); internal catalog queries; and
 * cancellation when the MCP call is cancelled.
 */
import type { QueryResult } from 'pg';
import { type Connections, connections as sharedConnections } from './connections.js';
import { BUILTIN_TYPE_NAMES, type Driver, loadDriver } from './driver.js';
import {
  type ErrorContext,
  fromPgError,
  isPgError,
  lostError,
  SqlCancelledError,
  SqlError,
  seconds,
} from './errors.js';

/** Rows counted past the cap before giving up on an exact figure. */
const COUNT_LIMIT = 100_000;
/** After asking the server to cancel, how long to wait before dropping the connection. */
const CANCEL_GRACE_MS = 2_000;

export interface SessionTarget {
  uri: string;
  /** For messages: e.g. `branch br-x (database neondb, role neondb_owner)`. */
  where: string;
  role?: string;
  /** The branch ID, so the pools of a deleted branch can be closed. */
  tag?: string;
}

export interface SessionOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Why writes are refused, when they are (for the error advice). */
  readOnlyReason?: string;
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
  });
  let reuse = true;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    reuse = false;
    lease.cancel().catch(() => undefined);
    killTimer = setTimeout(() => lease.destroy(), CANCEL_GRACE_MS);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const session = new Session(lease.client, driver, target, opts);
  try {
    if (opts.signal.aborted) throw cancelled(target);
    return await fn(session);
  } catch (e) {
    // Keep a connection whose statement failed cleanly; drop one that was lost or cancelled.
    if (!(e instanceof SqlError) || e instanceof SqlCancelledError || !e.code) reuse = false;
    if (opts.signal.aborted) throw cancelled(target);
    throw e;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    lease.release(reuse);
  }
}

function cancelled(target: SessionTarget): SqlCancelledError {
  return new SqlCancelledError(
    `Cancelled by the client: the SQL on ${target.where} was cancelled on the server, and the open transaction (if any) was rolled back.`,
  );
}

type Client = import('pg').ClientBase;

export class Session {
  private typeNames = new Map<string, string>();

  constructor(
    readonly client: Client,
    private readonly driver: Driver,
    readonly target: SessionTarget,
    readonly opts: SessionOptions,
  ) {}

  /** An internal query (transaction control, catalog reads); errors name `what`. */
  async exec<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    what = 'a query of neon-mcp',
  ): Promise<QueryResult<R>> {
    try {
      return await this.client.query<R>({ text: sql, values: params });
    } catch (e) {
      throw this.translate(e, { what }, 'no');
    }
  }

  /**
   * One user statement through a cursor: at most `maxRows` rows are kept, the rest are counted (up to
   * a limit) and dropped.
   */
  async statement(
    sql: string,
    params: unknown[] | undefined,
    opts: { maxRows: number; what: string; applied: 'maybe' | 'no'; readOnly: boolean },
  ): Promise<StatementResult> {
    const { Cursor } = this.driver;
    const started = performance.now();
    const cursor = new Cursor(sql, params ?? [], { rowMode: 'array', types: this.driver.types });
    // COPY … STDIN/STDOUT is refused before it gets here; these keep a stray one from crashing us.
    const raw = cursor as unknown as Record<string, unknown>;
    raw.handleCopyInResponse = (con: { sendCopyFail(msg: string): void }) =>
      con.sendCopyFail('COPY FROM STDIN is not supported by neon-mcp');
    raw.handleCopyData = () => undefined;
    this.client.query(cursor);
    const read = (n: number) =>
      new Promise<{ rows: unknown[][]; result?: QueryResult }>((resolve, reject) => {
        cursor.read(n, (err, rows, result) =>
          err ? reject(err) : resolve({ rows: rows as unknown[][], result }),
        );
      });
    let rows: unknown[][];
    let result: QueryResult | undefined;
    let more = 0;
    let lowerBound = false;
    try {
      ({ rows, result } = await read(opts.maxRows + 1));
      if (rows.length > opts.maxRows) {
        more = rows.length - opts.maxRows;
        rows = rows.slice(0, opts.maxRows);
        for (;;) {
          const next = await read(1000);
          if (next.result) result = next.result;
          if (next.rows.length === 0) break;
          more += next.rows.length;
          if (more >= COUNT_LIMIT) {
            lowerBound = true;
            break;
          }
        }
      }
      await cursor.close();
    } catch (e) {
      throw this.translate(e, { what: opts.what, sql, readOnly: opts.readOnly }, opts.applied);
    }
    const duration_ms = Math.round(performance.now() - started);
    const fields = result?.fields ?? [];
    const columns = await this.columnTypes(fields);
    const names = uniqueNames(fields.map((f) => f.name));
    const objects = rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]])));
    const command = result?.command ?? (fields.length ? 'SELECT' : '');
    // For a SELECT read in batches, the final tag counts only the last batch: count rows ourselves.
    // Other commands (INSERT … RETURNING) tag the whole statement.
    const counted = command === 'SELECT' || command === 'FETCH' ? null : (result?.rowCount ?? null);
    const row_count = counted ?? (fields.length ? rows.length + more : null);
    return {
      command,
      columns: columns.map((c, i) => ({ ...c, name: names[i] ?? c.name })),
      rows: objects,
      row_count,
      more,
      moreIsLowerBound: lowerBound,
      duration_ms,
    };
  }

  /** A script of any number of statements in one simple-protocol message (migrations). */
  async script(sql: string, what: string): Promise<{ statements: number; duration_ms: number }> {
    const started = performance.now();
    try {
      const res = await this.client.query(sql);
      const statements = Array.isArray(res) ? res.length : 1;
      return { statements, duration_ms: Math.round(performance.now() - started) };
    } catch (e) {
      throw this.translate(e, { what, sql, readOnly: false }, 'no');
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
      try {
        const res = await this.client.query<{ o: number; m: number; name: string | null }>({
          text: 'SELECT o::int AS o, m, format_type(o, nullif(m, -1)) AS name FROM unnest($1::oid[], $2::int[]) AS u(o, m)',
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
  translate(
    e: unknown,
    ctx: Pick<ErrorContext, 'what' | 'sql'> & { readOnly?: boolean },
    applied: 'maybe' | 'no',
  ): SqlError {
    if (e instanceof SqlError) return e;
    const full: ErrorContext = {
      what: ctx.what,
      sql: ctx.sql,
      where: this.target.where,
      timeoutMs: this.opts.timeoutMs,
      readOnly: ctx.readOnly ?? false,
      readOnlyReason: this.opts.readOnlyReason,
      role: this.target.role,
    };
    if (this.opts.signal.aborted) return cancelled(this.target);
    if (isPgError(e)) {
      if (e.code === '57014' && !/statement timeout/.test(e.message)) return cancelled(this.target);
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
