/**
 * One statement over Postgres's extended query protocol, written for the SQL tools' needs, as a
 * node-postgres "submittable":
 *
 * - Parse/Bind/Execute never accept a second statement, so `SELECT 1; DROP TABLE t` is refused by
 *   Postgres itself.
 * - Statements to run first (`BEGIN READ ONLY`) go out in the same network flight, so a read-only query
 *   costs one round trip instead of three.
 * - At most `maxRows + 1` rows are fetched at first; past the cap, rows are only counted (in batches, up
 *   to `countLimit`) and dropped, so a huge result neither fills memory nor hides its size.
 * - Rows are also capped in bytes while they are read: a value longer than a share of the cap is cut
 *   (with a note saying how long it was) before it is parsed, and once the budget is spent further rows
 *   are only counted. Long values are cut even before node-postgres reads them ({@link RowCutter}), so
 *   memory stays near the cap however long the values are.
 * - `awaitSync: false` answers as soon as the statement completed, leaving the Sync's reply to arrive
 *   in the background: for statements inside a transaction that is ended later (the read-only path
 *   rolls back when the connection is reset). Autocommit statements wait for it, since their commit
 *   happens there. Either way {@link StatementQuery.ready} settles with that reply: nothing else may be
 *   sent on the client before it (node-postgres 8 would queue it, with a deprecation warning; pg 9
 *   refuses).
 *
 * Why a hand-written submittable rather than pg's public Query / pg-cursor: measured in docs/SQL.md
 * ("Driver"): a read-only call over the public API needs a second round trip, and pg's Result keeps
 * only the command tag's first word. The price is node-postgres' internal Connection API, so `pg` is
 * pinned to an exact version and test/sql-protocol.test.ts checks the contract this file relies on.
 */
import type { CustomTypesConfig } from 'pg';
import { type RowCutter, rowCutterOf } from './row-cutter.js';

interface Field {
  name: string;
  dataTypeID: number;
  dataTypeModifier: number;
  format?: string;
}

/**
 * The protocol calls node-postgres' Connection offers: its internal API, the one pg-cursor and
 * pg-query-stream use too. test/sql-protocol.test.ts fails when an upgrade changes it.
 */
interface Connection {
  stream: NodeJS.EventEmitter & { cork?: () => void; uncork?: () => void };
  parse(msg: { text: string; name?: string }): void;
  bind(msg: { portal?: string; statement?: string; values?: (string | null)[] }): void;
  describe(msg: { type: 'P' | 'S'; name?: string }): void;
  execute(msg: { portal?: string; rows?: number }): void;
  close(msg: { type: 'P' | 'S'; name?: string }): void;
  flush(): void;
  sync(): void;
  sendCopyFail(msg: string): void;
}

export interface StatementOptions {
  text: string;
  values?: readonly unknown[];
  /** Rows kept; one more is fetched to know whether there are more. */
  maxRows: number;
  /** Rows counted past the cap before giving up on an exact figure. */
  countLimit: number;
  /**
   * Bytes of values kept at most (their UTF-8 text, plus the column names); past it rows are counted
   * like rows past `maxRows`. `Infinity` for neon-mcp's own queries, whose JSON must stay whole.
   */
  maxBytes: number;
  /** Parameterless statements run first, in the same flight (their results are ignored). */
  prefix?: readonly string[];
  /** Wait for the Sync's ReadyForQuery before answering (needed for an autocommit statement). */
  awaitSync: boolean;
  types: CustomTypesConfig;
}

export interface RawResult {
  fields: Field[];
  rows: unknown[][];
  /** The command tag's verb (SELECT, INSERT, CREATE TABLE, …), or '' for an empty query. */
  command: string;
  /** The number in the command tag, when there is one. */
  tagCount: number | null;
  /** Rows left out past the cap. */
  more: number;
  /** Counting stopped at the limit: `more` is a lower bound. */
  moreIsLowerBound: boolean;
  /** Bytes of the kept values, as counted against `maxBytes`. */
  bytes: number;
  /** Values cut short by the byte cap. */
  cutValues: number;
  /** The byte cap left rows out (some of `more` are there because of bytes, not rows). */
  bytesFull: boolean;
}

/** What a cut value ends with: how long it was. */
export function cutNote(bytes: number): string {
  return `…[cut: ${bytes} bytes]`;
}

/** Bytes read past the caps, only to count rows, before counting gives up (a lower bound then). */
export const COUNT_BYTES = 64 * 1024 * 1024;

/** A value is cut at this share of the byte cap, so one long value leaves room for other rows. */
const VALUE_SHARE = 16;

/** Bytes a value of a row after the first keeps at most under a byte cap of `max`. */
function valueShare(max: number): number {
  return Math.max(256, Math.floor(max / VALUE_SHARE));
}

/** The first `limit` bytes of `text` in UTF-8, never ending inside a character. */
function utf8Prefix(text: string, limit: number): string {
  // At most `limit` characters can fit, so only that much is ever encoded (the value may be huge).
  const bytes = Buffer.from(text.slice(0, limit), 'utf8');
  if (bytes.length <= limit) return text.slice(0, limit);
  let end = limit;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that did not fit.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Bytes a value cut on the socket keeps past its share, so that a character cut in two is never kept. */
const CUT_MARGIN = 4;

/** Converts a parameter to Postgres text format (arrays as array literals, objects as JSON). */
export function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function arrayLiteral(values: unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = toText(v) as string;
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

export class StatementQuery {
  readonly promise: Promise<RawResult>;
  /**
   * Settles when the client is free for the next query: at the ReadyForQuery, or at an error (see
   * handleError); never rejects.
   */
  readonly ready: Promise<void>;
  private resolve!: (r: RawResult) => void;
  private reject!: (e: unknown) => void;
  private markReady!: () => void;
  /** Characters of the rows read past the caps only to be counted. */
  private countedBytes = 0;
  private settled = false;
  private prefixLeft: number;
  private synced = false;
  private done = false;
  private result: RawResult = {
    fields: [],
    rows: [],
    command: '',
    tagCount: null,
    more: 0,
    moreIsLowerBound: false,
    bytes: 0,
    cutValues: 0,
    bytesFull: false,
  };
  /** Bytes each row's column names add to the answer (rows become objects). */
  private nameBytes: number[] = [];
  private parsers: ((v: string) => unknown)[] = [];
  /** Cuts long values on the socket while this statement runs (none for an uncapped statement). */
  private cutter: RowCutter | undefined;

  constructor(private readonly opts: StatementOptions) {
    this.prefixLeft = opts.prefix?.length ?? 0;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The caller awaits the promise; an early failure must not count as unhandled meanwhile.
    this.promise.catch(() => undefined);
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  /** Called by node-postgres when the connection is free. */
  submit(con: Connection): null {
    const max = this.opts.maxBytes;
    if (max !== Number.POSITIVE_INFINITY) {
      this.cutter = rowCutterOf(con.stream);
      // No value keeps more than its share (see keep), in the first row too.
      this.cutter?.start(valueShare(max) + CUT_MARGIN);
    }
    con.stream.cork?.();
    try {
      for (const text of this.opts.prefix ?? []) {
        con.parse({ text });
        con.bind({});
        con.execute({});
      }
      con.parse({ text: this.opts.text });
      con.bind({ values: (this.opts.values ?? []).map(toText) });
      con.describe({ type: 'P', name: '' });
      con.execute({ portal: '', rows: this.opts.maxRows + 1 });
      con.flush();
    } finally {
      con.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    this.result.fields = msg.fields;
    this.nameBytes = msg.fields.map((f) => Buffer.byteLength(f.name) + 4);
    this.parsers = msg.fields.map((f) =>
      (this.opts.types.getTypeParser as (oid: number, format: string) => (v: string) => unknown)(
        f.dataTypeID,
        f.format ?? 'text',
      ),
    );
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    const r = this.result;
    // Full lengths of the values the cutter shortened on the socket.
    const cut = this.cutter?.take();
    // A row of a prefix statement: its results are ignored.
    if (this.prefixLeft > 0) return;
    if (r.rows.length < this.opts.maxRows && !r.bytesFull) {
      const row =
        this.opts.maxBytes === Number.POSITIVE_INFINITY
          ? msg.fields.map((v, i) => (v === null ? null : this.parse(i, v)))
          : this.keep(msg.fields, cut);
      if (row) {
        r.rows.push(row);
        if (r.rows.length >= this.opts.maxRows || r.bytesFull) this.cutter?.countOnly();
        return;
      }
    }
    r.more++;
    this.cutter?.countOnly();
    // String length (or the full length in bytes of a value cut on the socket): this only bounds how
    // much is read to count.
    for (const [i, v] of msg.fields.entries()) this.countedBytes += cut?.get(i) ?? v?.length ?? 0;
  }

  /**
   * A row within the byte budget: values longer than their share cut (and left as text, since a cut
   * value cannot be parsed), then parsed. Undefined when the row does not fit: the budget is spent.
   */
  private keep(
    fields: (string | null)[],
    cutOnSocket: Map<number, number> | undefined,
  ): unknown[] | undefined {
    const r = this.result;
    const max = this.opts.maxBytes;
    const left = max - r.bytes;
    if (left <= 0) {
      // Spent by earlier statements of the session.
      r.bytesFull = true;
      return undefined;
    }
    const share = valueShare(max);
    // The first row always shows something, so its values are cut to what is left, however little.
    const first = r.rows.length === 0;
    const row: unknown[] = new Array(fields.length);
    let bytes = 0;
    let cut = 0;
    for (const [i, v] of fields.entries()) {
      bytes += this.nameBytes[i] ?? 0;
      if (v === null) {
        row[i] = null;
        continue;
      }
      const limit = first ? Math.max(0, Math.min(share, left - bytes)) : share;
      // Cut on the socket already (longer than any limit), or longer than the limit in characters,
      // hence in bytes too: no need to encode it.
      const full = cutOnSocket?.get(i);
      const size = full !== undefined || v.length > limit ? limit + 1 : Buffer.byteLength(v);
      if (size <= limit) {
        row[i] = this.parse(i, v);
        bytes += size;
        continue;
      }
      const prefix = utf8Prefix(v, limit);
      row[i] = prefix + cutNote(full ?? Buffer.byteLength(v));
      bytes += Buffer.byteLength(prefix) + 32;
      cut++;
    }
    if (bytes > left && !first) {
      r.bytesFull = true;
      return undefined;
    }
    r.bytes += bytes;
    r.cutValues += cut;
    if (r.bytes >= max) r.bytesFull = true;
    return row;
  }

  /** A value through its column's parser; its text if the parser fails (this runs in a socket handler). */
  private parse(column: number, text: string): unknown {
    try {
      return this.parsers[column]?.(text) ?? text;
    } catch {
      return text;
    }
  }

  handlePortalSuspended(con: Connection): void {
    if (this.result.more >= this.opts.countLimit || this.countedBytes >= COUNT_BYTES) {
      this.result.moreIsLowerBound = true;
      con.close({ type: 'P', name: '' });
      this.finish(con);
      return;
    }
    con.execute({ portal: '', rows: 1000 });
    con.flush();
  }

  handleCommandComplete(msg: { text?: string }, con: Connection): void {
    if (this.prefixLeft > 0) {
      this.prefixLeft--;
      return;
    }
    // The tag is the command's words, then counts: `CREATE TABLE`, `SELECT 5`, `INSERT 0 2`.
    const words = (msg.text ?? '').trim().split(/\s+/).filter(Boolean);
    const counts = [];
    while (words.length && /^\d+$/.test(words[words.length - 1] ?? '')) counts.unshift(Number(words.pop()));
    this.result.command = words.join(' ');
    this.result.tagCount = counts.length ? (counts[counts.length - 1] ?? null) : null;
    this.finish(con);
  }

  handleEmptyQuery(con: Connection): void {
    this.finish(con);
  }

  handleError(err: unknown, con: Connection): void {
    this.cutter?.stop();
    // After an error Postgres skips everything up to the next Sync: send one, unless it was sent.
    if (!this.synced) {
      this.synced = true;
      con.sync();
    }
    // node-postgres detaches a query at its error and holds the next one until the ReadyForQuery
    // itself (as after any failed `await client.query()`), so the client counts as free from here.
    this.markReady();
    this.fail(err);
  }

  handleReadyForQuery(): void {
    this.cutter?.stop();
    this.markReady();
    if (!this.done) {
      this.fail(new Error('The server ended the statement without a result.'));
      return;
    }
    this.succeed();
  }

  handleCopyInResponse(con: Connection): void {
    con.sendCopyFail('COPY FROM STDIN is not supported by neon-mcp');
  }

  handleCopyData(): void {}

  private finish(con: Connection): void {
    this.cutter?.stop();
    this.done = true;
    if (!this.synced) {
      this.synced = true;
      con.sync();
    }
    if (!this.opts.awaitSync) this.succeed();
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.result);
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}
