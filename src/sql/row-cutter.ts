/**
 * The row cutter: long values of DataRow messages cut on the socket, before node-postgres' protocol
 * parser reads them, while a capped statement of the runner (src/sql/protocol.ts) runs. Kept apart
 * from the runner because it works on raw protocol bytes only (test/row-cutter.test.ts feeds it
 * synthetic ones); the runner tells it when to cut and how much.
 */
/**
 * Cuts the long values of DataRow messages on the socket, before node-postgres' protocol parser sees
 * them, while a statement of the runner (StatementQuery) with a byte cap runs; every other message (and every row of
 * other queries) passes through unchanged. Why: pg-protocol reads each message whole into one buffer
 * (doubling it as it grows) and decodes every value into a string before a query sees the row, so a
 * 60 MB value cost 60 MB of buffer, its intermediate copies and a 60 MB string, and 500 rows of 1 MB
 * left 500 MB of garbage behind them (peak RSS 220–285 MB for one 60 MB value, docs/BENCHMARKS.md).
 * Here each value keeps at most `limit` bytes (a few more than the statement can keep of it), the rest
 * is skipped as it arrives, and the value's full length goes to the query with the row (`take`).
 *
 * node-postgres offers no hook for this: the cutter replaces pg-protocol's `data` listener on the
 * socket (`installRowCutter`; test/sql-protocol.test.ts checks there is exactly one to replace).
 */
export class RowCutter {
  /** Bytes kept per value while active; undefined: everything passes through. */
  private limit: number | undefined;
  /** Full lengths of the values cut, per DataRow rewritten (undefined: none cut), in order. */
  private readonly cuts: (Map<number, number> | undefined)[] = [];
  private readonly header = Buffer.alloc(5);
  private have = 0;
  /** Bytes of the current message still to pass through. */
  private skip = 0;
  private row: RowRewrite | undefined;

  constructor(private readonly forward: (bytes: Buffer) => void) {}

  /** From now on, rows keep at most `limit` bytes per value (called before the statement is sent). */
  start(limit: number): void {
    this.limit = Math.max(0, limit);
    this.cuts.length = 0;
  }

  /** The query only counts rows from now on: values keep nothing. */
  countOnly(): void {
    if (this.limit !== undefined) this.limit = 0;
  }

  stop(): void {
    this.limit = undefined;
    this.cuts.length = 0;
  }

  /** The full lengths of the cut values of the next DataRow the query handles. */
  take(): Map<number, number> | undefined {
    return this.cuts.shift();
  }

  push(chunk: Buffer): void {
    let i = 0;
    // Start of the bytes of this chunk not yet forwarded.
    let from = 0;
    const flush = (to: number) => {
      if (to > from) this.forward(chunk.subarray(from, to));
      from = to;
    };
    while (i < chunk.length) {
      if (this.row) {
        i = this.row.feed(chunk, i);
        from = i;
        if (this.row.done) {
          this.cuts.push(this.row.cut);
          const out = this.row.message();
          this.row = undefined;
          this.forward(out);
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      // A message header: type byte, then the length of the message without the type byte.
      const start = i;
      const held = this.have;
      const n = Math.min(5 - held, chunk.length - i);
      chunk.copy(this.header, held, i, i + n);
      this.have += n;
      i += n;
      if (this.have < 5) {
        // Held back until it is complete: whether this message is rewritten is not known yet.
        flush(start);
        from = chunk.length;
        return;
      }
      this.have = 0;
      const body = this.header.readUInt32BE(1) - 4;
      if (this.header[0] === 0x44 /* DataRow */ && this.limit !== undefined) {
        flush(start);
        from = i;
        this.row = new RowRewrite(body, this.limit);
        continue;
      }
      // Passed on as it came; the part of the header held from the previous chunk goes first.
      if (held > 0) this.forward(Buffer.from(this.header.subarray(0, held)));
      this.skip = body;
    }
    flush(chunk.length);
  }
}

/** One DataRow being rewritten with its long values cut (see {@link RowCutter}). */
class RowRewrite {
  done = false;
  /** Field index → full length in bytes, of the values cut. */
  cut: Map<number, number> | undefined;
  private out = Buffer.alloc(0);
  private at = 5;
  private readonly small = Buffer.alloc(4);
  private smallHave = 0;
  private fields = -1;
  private field = 0;
  /** Of the current value: bytes still to copy (-1 while its length is being read), then to skip. */
  private copy = -1;
  private drop = 0;

  constructor(
    private readonly body: number,
    private readonly limit: number,
  ) {}

  /** Consumes bytes of `chunk` from `i`; returns where it stopped (the message's end or the chunk's). */
  feed(chunk: Buffer, i: number): number {
    while (!this.done) {
      if (this.fields < 0) {
        const n = this.readSmall(chunk, i, 2);
        i += n;
        if (this.smallHave > 0 || n === 0) return i;
        this.fields = this.small.readInt16BE(0);
        // At most every value's length and `limit` bytes of it, and never more than the message.
        const size = 5 + Math.min(this.body, 2 + Math.max(0, this.fields) * (4 + this.limit));
        this.out = Buffer.allocUnsafe(Math.max(7, size));
        this.out.writeInt16BE(this.fields, this.at);
        this.at += 2;
        if (this.fields <= 0) this.done = true;
        continue;
      }
      if (this.copy < 0) {
        const n = this.readSmall(chunk, i, 4);
        i += n;
        if (this.smallHave > 0 || n === 0) return i;
        const length = this.small.readInt32BE(0);
        // -1 is NULL (no bytes follow).
        const keep = length < 0 ? -1 : Math.min(length, this.limit);
        if (length > keep && keep >= 0) {
          this.cut ??= new Map();
          this.cut.set(this.field, length);
        }
        this.out.writeInt32BE(keep, this.at);
        this.at += 4;
        this.copy = Math.max(0, keep);
        this.drop = Math.max(0, length) - this.copy;
      }
      if (this.copy > 0) {
        const n = Math.min(this.copy, chunk.length - i);
        if (n === 0) return i;
        chunk.copy(this.out, this.at, i, i + n);
        this.at += n;
        this.copy -= n;
        i += n;
        if (this.copy > 0) return i;
      }
      if (this.drop > 0) {
        const d = Math.min(this.drop, chunk.length - i);
        if (d === 0) return i;
        this.drop -= d;
        i += d;
        if (this.drop > 0) return i;
      }
      this.copy = -1;
      this.field++;
      if (this.field >= this.fields) this.done = true;
    }
    return i;
  }

  /** The rewritten message: type, length, the field count and the values as kept. */
  message(): Buffer {
    this.out[0] = 0x44;
    this.out.writeUInt32BE(this.at - 1, 1);
    return this.out.subarray(0, this.at);
  }

  /**
   * Reads into `small` the rest of a 2- or 4-byte integer that may be split between chunks; returns the
   * bytes consumed. `smallHave` is back at 0 once the integer is complete.
   */
  private readSmall(chunk: Buffer, i: number, size: number): number {
    const n = Math.min(size - this.smallHave, chunk.length - i);
    chunk.copy(this.small, this.smallHave, i, i + n);
    this.smallHave += n;
    if (this.smallHave === size) this.smallHave = 0;
    return n;
  }
}

const cutters = new WeakMap<object, RowCutter>();

/** The cutter installed on a connection's socket, if any (the runner drives it while a capped statement runs). */
export function rowCutterOf(stream: object): RowCutter | undefined {
  return cutters.get(stream);
}

/** Whether a connection's socket reads through a {@link RowCutter} (for the tests of pools.ts). */
export function hasRowCutter(stream: object): boolean {
  return cutters.has(stream);
}

/**
 * Puts a {@link RowCutter} between a connection's socket and node-postgres' protocol parser. Returns
 * false (and changes nothing) unless the socket has exactly one `data` listener, pg-protocol's.
 */
export function installRowCutter(stream: NodeJS.EventEmitter): boolean {
  const listeners = stream.listeners('data');
  if (listeners.length !== 1 || cutters.has(stream)) return false;
  const parse = listeners[0] as (chunk: Buffer) => void;
  const cutter = new RowCutter((bytes) => parse.call(stream, bytes));
  stream.removeListener('data', parse);
  stream.on('data', (chunk: Buffer) => cutter.push(chunk));
  cutters.set(stream, cutter);
  return true;
}
