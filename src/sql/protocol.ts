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
 * - `awaitSync: false` answers as soon as the statement completed, leaving the Sync's reply to arrive
 *   in the background: for statements inside a transaction that is ended later (the read-only path
 *   rolls back when the connection is reset). Autocommit statements wait for it, since their commit
 *   happens there.
 */
import type { CustomTypesConfig } from 'pg';

interface Field {
  name: string;
  dataTypeID: number;
  dataTypeModifier: number;
  format?: string;
}

/** The protocol calls node-postgres' Connection offers (its internal API, stable across 8.x). */
interface Connection {
  stream: { cork?: () => void; uncork?: () => void };
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
}

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
  private resolve!: (r: RawResult) => void;
  private reject!: (e: unknown) => void;
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
  };
  private parsers: ((v: string) => unknown)[] = [];

  constructor(private readonly opts: StatementOptions) {
    this.prefixLeft = opts.prefix?.length ?? 0;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The caller awaits the promise; an early failure must not count as unhandled meanwhile.
    this.promise.catch(() => undefined);
  }

  /** Called by node-postgres when the connection is free. */
  submit(con: Connection): null {
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
    this.parsers = msg.fields.map((f) =>
      (this.opts.types.getTypeParser as (oid: number, format: string) => (v: string) => unknown)(
        f.dataTypeID,
        f.format ?? 'text',
      ),
    );
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    if (this.result.rows.length < this.opts.maxRows) {
      this.result.rows.push(msg.fields.map((v, i) => (v === null ? null : this.parse(i, v))));
    } else {
      this.result.more++;
    }
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
    if (this.result.more >= this.opts.countLimit) {
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
    // After an error Postgres skips everything up to the next Sync: send one, unless it was sent.
    if (!this.synced) {
      this.synced = true;
      con.sync();
    }
    this.fail(err);
  }

  handleReadyForQuery(): void {
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
