/**
 * The statement runner of src/sql/protocol.ts (StatementQuery) on a real PostgreSQL server: what it
 * sends, how it reads the command tag, how rows past the caps are counted (and when counting gives up),
 * how values are cut under a byte cap (with and without the row cutter on the socket, which must not
 * change the answer), when the result and the client's readiness settle, and parameters in text
 * format (toText). The node-postgres contract it relies on: test/sql-protocol.test.ts; the cutter on
 * synthetic bytes: test/row-cutter.test.ts; the byte cap through sessions: test/sql-limits.test.ts.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDriver } from '../src/sql/driver.js';
import {
  COUNT_BYTES,
  cutNote,
  type RawResult,
  type StatementOptions,
  StatementQuery,
  toText,
} from '../src/sql/protocol.js';
import { installRowCutter } from '../src/sql/row-cutter.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
const clients: pg.Client[] = [];
const pgWarnings: string[] = [];
const onWarning = (w: Error) => {
  if (/pg@9|already executing a query/.test(w.message)) pgWarnings.push(w.message);
};
process.on('warning', onWarning);

beforeAll(async () => {
  server = await startPostgres();
}, 90_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await server?.stop();
  process.off('warning', onWarning);
  expect(pgWarnings).toEqual([]);
});

/** A connected client; `cutter`: with the row cutter on its socket, as the SQL tools' connections. */
async function client(cutter = false): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.uri('postgres') });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  if (cutter) expect(installRowCutter(streamOf(c))).toBe(true);
  return c;
}

function streamOf(c: pg.Client): NodeJS.EventEmitter {
  return (c as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream;
}

async function options(extra: Partial<StatementOptions>): Promise<StatementOptions> {
  const { types } = await loadDriver();
  return {
    text: 'SELECT 1',
    maxRows: 100,
    countLimit: 1000,
    maxBytes: Number.POSITIVE_INFINITY,
    awaitSync: true,
    types,
    ...extra,
  };
}

/** Runs one statement; resolves once the client is free again. */
async function run(c: pg.Client, text: string, extra: Partial<StatementOptions> = {}): Promise<RawResult> {
  const q = new StatementQuery(await options({ text, ...extra }));
  c.query(q as unknown as pg.Submittable);
  try {
    return await q.promise;
  } finally {
    await q.ready;
  }
}

/** The result without the fields' details (table OIDs and the like): their names only. */
function plain(r: RawResult): Omit<RawResult, 'fields'> & { fields: string[] } {
  return { ...r, fields: r.fields.map((f) => f.name) };
}

/** The value lengths of every DataRow node-postgres parses on this client while `fn` runs. */
async function rowsSeen(c: pg.Client, fn: () => Promise<unknown>): Promise<number[][]> {
  const con = (c as unknown as { connection: NodeJS.EventEmitter }).connection;
  const seen: number[][] = [];
  const onRow = (msg: { fields: (string | null)[] }) => seen.push(msg.fields.map((f) => f?.length ?? -1));
  con.on('dataRow', onRow);
  try {
    await fn();
  } finally {
    con.off('dataRow', onRow);
  }
  return seen;
}

const EMPTY = { more: 0, moreIsLowerBound: false, bytes: 0, cutValues: 0, bytesFull: false };

describe('toText: parameters in Postgres text format', () => {
  it('sends NULL for null and undefined, and scalars as their text', () => {
    expect(toText(null)).toBeNull();
    expect(toText(undefined)).toBeNull();
    expect(toText(true)).toBe('true');
    expect(toText(false)).toBe('false');
    expect(toText(0)).toBe('0');
    expect(toText(-1.5)).toBe('-1.5');
    expect(toText(12n)).toBe('12');
    expect(toText('')).toBe('');
    expect(toText('it\'s "x"')).toBe('it\'s "x"');
  });

  it('sends objects as JSON and arrays as array literals, quoting every element', () => {
    expect(toText({ a: [1, 'b'], c: null })).toBe('{"a":[1,"b"],"c":null}');
    expect(toText([])).toBe('{}');
    expect(toText([1, 'two', null, undefined, true, false])).toBe('{"1","two",NULL,NULL,"true","false"}');
    expect(toText([[1, 2], [3, null], []])).toBe('{{"1","2"},{"3",NULL},{}}');
    expect(toText(['a"b', 'c\\d', '\\"', ''])).toBe('{"a\\"b","c\\\\d","\\\\\\"",""}');
    expect(toText([{ k: 'v"' }])).toBe('{"{\\"k\\":\\"v\\\\\\"\\"}"}');
  });

  it('round-trips through PostgreSQL: arrays, quotes, backslashes, NULLs, JSON and booleans', async () => {
    const c = await client();
    const tricky = ['a"b', 'c\\d', 'NULL', '', ' sp ', '{x,y}', 'é'];
    const r = await run(
      c,
      'SELECT $1::int[] AS ints, $2::text[] AS texts, $3::int[] AS grid, $4::jsonb AS doc, $5::boolean AS yes, $6::boolean AS no, $7::text AS missing, $8::text AS plain, $9::jsonb[] AS docs',
      {
        values: [
          [1, null, 3],
          tricky,
          [
            [1, 2],
            [3, 4],
          ],
          { a: 'q"\\', n: [1, null] },
          true,
          false,
          undefined,
          'x',
          [{ a: 1 }, { b: 'c"' }],
        ],
      },
    );
    expect(r.rows).toEqual([
      [
        [1, null, 3],
        tricky,
        [
          [1, 2],
          [3, 4],
        ],
        { a: 'q"\\', n: [1, null] },
        true,
        false,
        null,
        'x',
        [{ a: 1 }, { b: 'c"' }],
      ],
    ]);
  });
});

describe('StatementQuery: one statement, its tag and its rows', () => {
  it('answers a small uncapped result whole, with its fields and command tag', async () => {
    const c = await client();
    const r = await run(c, "SELECT 1 AS a, NULL::int AS b, 'x' AS c, NULL::text AS d");
    expect(plain(r)).toEqual({
      fields: ['a', 'b', 'c', 'd'],
      rows: [[1, null, 'x', null]],
      command: 'SELECT',
      tagCount: 1,
      ...EMPTY,
    });
  });

  it('reads the whole command tag: its words, and the last number as the count', async () => {
    const c = await client();
    expect(plain(await run(c, 'CREATE TEMP TABLE tags (x int)'))).toEqual({
      fields: [],
      rows: [],
      command: 'CREATE TABLE',
      tagCount: null,
      ...EMPTY,
    });
    expect(plain(await run(c, 'INSERT INTO tags SELECT generate_series(1, 12)'))).toEqual({
      fields: [],
      rows: [],
      command: 'INSERT',
      tagCount: 12,
      ...EMPTY,
    });
    const updated = await run(c, 'UPDATE tags SET x = x + 100 WHERE x > 2 RETURNING x');
    expect(updated).toMatchObject({ command: 'UPDATE', tagCount: 10, more: 0 });
    expect(updated.rows).toHaveLength(10);
    expect(await run(c, 'SELECT * FROM tags')).toMatchObject({ command: 'SELECT', tagCount: 12 });
    expect(await run(c, 'DELETE FROM tags WHERE x > 1000')).toMatchObject({ command: 'DELETE', tagCount: 0 });
    expect(await run(c, 'DROP TABLE tags')).toMatchObject({ command: 'DROP TABLE', tagCount: null });
  });

  it('runs the prefix statements first, in the same flight, and answers only the last statement', async () => {
    const c = await client();
    const r = await run(c, 'SELECT 2 AS x, current_setting($1) AS ro', {
      prefix: ['BEGIN READ ONLY', 'SELECT 1, 2, 3', 'SET LOCAL application_name = prefixed'],
      values: ['transaction_read_only'],
      awaitSync: false,
    });
    expect(plain(r)).toEqual({
      fields: ['x', 'ro'],
      rows: [[2, 'on']],
      command: 'SELECT',
      tagCount: 1,
      ...EMPTY,
    });
    expect((await c.query('SHOW application_name')).rows).toEqual([{ application_name: 'prefixed' }]);
    await c.query('ROLLBACK');
    // Under a byte cap, with the cutter on the socket: the prefix's long value is cut (and ignored),
    // the statement's own value keeps its full length in the note.
    const capped = await client(true);
    const cut = await run(capped, `SELECT repeat('x', 1000) AS v`, {
      prefix: ['BEGIN', `SELECT repeat('z', 10000), 1`],
      maxBytes: 4096,
      maxRows: 1,
      awaitSync: false,
    });
    expect(cut).toMatchObject({ rows: [[`${'x'.repeat(256)}${cutNote(1000)}`]], more: 0, cutValues: 1 });
    await capped.query('ROLLBACK');
  });

  it('sends Parse, Bind, Describe of the portal and Execute of maxRows + 1 rows, then more in batches of 1000', async () => {
    const c = await client();
    const con = (c as unknown as { connection: Record<string, (...a: unknown[]) => unknown> }).connection;
    const sent: unknown[][] = [];
    const names = ['parse', 'bind', 'describe', 'execute', 'close', 'flush', 'sync'];
    const originals = names.map((n) => con[n]);
    for (const [i, n] of names.entries()) {
      con[n] = (...args: unknown[]) => {
        sent.push([n, ...args]);
        return originals[i]?.apply(con, args);
      };
    }
    try {
      const counted = await run(c, 'SELECT g FROM generate_series(1, 1500) g WHERE g > $1', {
        values: [0],
        prefix: ['SET statement_timeout = 0'],
        maxRows: 2,
        countLimit: 5000,
      });
      expect(counted).toMatchObject({
        rows: [[1], [2]],
        more: 1498,
        moreIsLowerBound: false,
        command: 'SELECT',
      });
      expect(sent).toEqual([
        ['parse', { text: 'SET statement_timeout = 0' }],
        ['bind', {}],
        ['execute', {}],
        ['parse', { text: 'SELECT g FROM generate_series(1, 1500) g WHERE g > $1' }],
        ['bind', { values: ['0'] }],
        ['describe', { type: 'P', name: '' }],
        ['execute', { portal: '', rows: 3 }],
        ['flush'],
        ['execute', { portal: '', rows: 1000 }],
        ['flush'],
        ['execute', { portal: '', rows: 1000 }],
        ['flush'],
        ['sync'],
      ]);

      // Counting gives up at countLimit: the portal is closed, and the statement ends there.
      sent.length = 0;
      const stopped = await run(c, 'SELECT g FROM generate_series(1, 10) g', { maxRows: 2, countLimit: 1 });
      expect(plain(stopped)).toEqual({
        fields: ['g'],
        rows: [[1], [2]],
        // No CommandComplete: the portal was closed before its end.
        command: '',
        tagCount: null,
        ...EMPTY,
        more: 1,
        moreIsLowerBound: true,
      });
      expect(sent).toEqual([
        ['parse', { text: 'SELECT g FROM generate_series(1, 10) g' }],
        ['bind', { values: [] }],
        ['describe', { type: 'P', name: '' }],
        ['execute', { portal: '', rows: 3 }],
        ['flush'],
        ['close', { type: 'P', name: '' }],
        ['sync'],
      ]);
    } finally {
      for (const [i, n] of names.entries()) con[n] = originals[i] as (...a: unknown[]) => unknown;
    }
    expect((await c.query('SELECT 3 AS x')).rows).toEqual([{ x: 3 }]);
  });

  it('counts rows past the cap exactly below countLimit, and stops at the first batch that reaches it', async () => {
    const c = await client();
    const series = (n: number) => `SELECT g, NULL::int AS n FROM generate_series(1, ${n}) g`;
    expect(await run(c, series(50), { maxRows: 2, countLimit: 100 })).toMatchObject({
      rows: [
        [1, null],
        [2, null],
      ],
      more: 48,
      moreIsLowerBound: false,
      command: 'SELECT',
    });
    // 1 row counted with the first fetch, then 1000 per batch: 1001 reaches the limit exactly.
    expect(await run(c, series(5000), { maxRows: 2, countLimit: 1001 })).toMatchObject({
      more: 1001,
      moreIsLowerBound: true,
      command: '',
    });
    expect(await run(c, series(5000), { maxRows: 2, countLimit: 1002 })).toMatchObject({
      more: 2001,
      moreIsLowerBound: true,
    });
    // The client is free again: the closed portal's Sync was answered.
    expect((await c.query('SELECT 4 AS x')).rows).toEqual([{ x: 4 }]);
  });

  it(`stops counting once ${COUNT_BYTES} bytes of values were read past the caps, whatever countLimit says`, async () => {
    expect(COUNT_BYTES).toBe(64 * 1024 * 1024);
    const c = await client(true);
    // 100 kB per row: the 1001 rows counted after the first fetch are past 64 MiB (the cutter keeps
    // none of their bytes, but counts their full length).
    const text = `SELECT g, repeat('x', 100000) AS v, NULL AS n FROM generate_series(1, 1500) g`;
    const r = await run(c, text, { maxRows: 1, countLimit: 1_000_000, maxBytes: 100_000 });
    expect(r.rows).toEqual([[1, `${'x'.repeat(6250)}${cutNote(100_000)}`, null]]);
    expect(r).toMatchObject({ more: 1001, moreIsLowerBound: true, cutValues: 1, bytesFull: false });
    // Exactly 64 MiB read by the end of a batch is enough: row 2 (counted with the first fetch),
    // then 1000 rows of 67000 bytes.
    const exact = `SELECT repeat('x', CASE g WHEN 1 THEN 10 WHEN 2 THEN ${COUNT_BYTES - 67_000_000} ELSE 67000 END) AS v FROM generate_series(1, 1500) g`;
    expect(await run(c, exact, { maxRows: 1, countLimit: 1_000_000, maxBytes: 100_000 })).toMatchObject({
      rows: [['x'.repeat(10)]],
      more: 1001,
      moreIsLowerBound: true,
    });
    // Below that, the count is exact.
    const small = `SELECT g, repeat('x', 1000) AS v, NULL AS n FROM generate_series(1, 1500) g`;
    expect(await run(c, small, { maxRows: 1, countLimit: 1_000_000, maxBytes: 100_000 })).toMatchObject({
      more: 1499,
      moreIsLowerBound: false,
    });
  });
});

describe('StatementQuery: the byte cap', () => {
  // Each case runs on a client without the row cutter and on one with it: the cutter only saves
  // memory, the answer is the same.
  const both = async (text: string, extra: Partial<StatementOptions>) => {
    const [a, b] = [await run(await client(), text, extra), await run(await client(true), text, extra)];
    expect(plain(b)).toEqual(plain(a));
    return plain(a);
  };

  it('keeps a row that fills the budget exactly, and marks the budget full', async () => {
    // 200 bytes: 'a' and its name (1 + 4), then 189 bytes and the name (4 + 1).
    const filled = {
      fields: ['v'],
      rows: [['a'], ['b'.repeat(189)]],
      command: 'SELECT',
      ...EMPTY,
      bytes: 200,
      bytesFull: true,
    };
    expect(await both(`SELECT * FROM (VALUES ('a'), (repeat('b', 189))) t(v)`, { maxBytes: 200 })).toEqual({
      ...filled,
      tagCount: 2,
    });
    // A row more is counted, not kept.
    expect(
      await both(`SELECT * FROM (VALUES ('a'), (repeat('b', 189)), ('c')) t(v)`, { maxBytes: 200 }),
    ).toEqual({ ...filled, tagCount: 3, more: 1 });
    // One byte less, and the second row does not fit (a first row always shows something).
    expect(await both(`SELECT * FROM (VALUES ('a'), (repeat('b', 189))) t(v)`, { maxBytes: 199 })).toEqual({
      ...filled,
      rows: [['a']],
      tagCount: 2,
      more: 1,
      bytes: 6,
    });
  });

  it('cuts a value longer than its share (1/16 of the cap, at least 256 bytes), and keeps one of exactly its share', async () => {
    const text = `SELECT * FROM (VALUES ('a', NULL), (repeat('b', 256), 'y'), (repeat('c', 257), NULL)) t(v, w)`;
    expect(await both(text, { maxBytes: 4096 })).toEqual({
      fields: ['v', 'w'],
      rows: [
        ['a', null],
        ['b'.repeat(256), 'y'],
        [`${'c'.repeat(256)}${cutNote(257)}`, null],
      ],
      command: 'SELECT',
      tagCount: 3,
      ...EMPTY,
      // Names 5 + 5 per row; 1, 256 + 1, then 256 kept and 32 for the note.
      bytes: 10 + 1 + 10 + 257 + 10 + 256 + 32,
      cutValues: 1,
    });
    const large = await both(`SELECT repeat('d', 5000) AS v FROM generate_series(1, 2)`, {
      maxBytes: 64_000,
    });
    expect(large.rows).toEqual([
      [`${'d'.repeat(4000)}${cutNote(5000)}`],
      [`${'d'.repeat(4000)}${cutNote(5000)}`],
    ]);
  });

  it('cuts the first row to what is left, and marks the budget full when its cut values spend it exactly', async () => {
    // 'v' (5) + 256 kept + 32 for the note = 293.
    expect(await both(`SELECT repeat('x', 1000) AS v`, { maxBytes: 293 })).toEqual({
      fields: ['v'],
      rows: [[`${'x'.repeat(256)}${cutNote(1000)}`]],
      command: 'SELECT',
      tagCount: 1,
      ...EMPTY,
      bytes: 293,
      cutValues: 1,
      bytesFull: true,
    });
    expect(await both(`SELECT repeat('x', 1000) AS v`, { maxBytes: 294 })).toMatchObject({
      bytes: 293,
      bytesFull: false,
    });
    // Less than a share left: the value keeps what is left after its name.
    expect(await both(`SELECT repeat('x', 1000) AS v, 'tail' AS w`, { maxBytes: 100 })).toMatchObject({
      rows: [[`${'x'.repeat(95)}${cutNote(1000)}`, cutNote(4)]],
      bytes: 5 + 95 + 32 + 5 + 32,
      cutValues: 2,
      bytesFull: true,
    });
  });

  it('cuts between characters, never inside one', async () => {
    // 95 bytes left for the value of the first row: 47 two-byte characters fit, not 48.
    expect((await both(`SELECT repeat('é', 1000) AS v`, { maxBytes: 100 })).rows).toEqual([
      [`${'é'.repeat(47)}${cutNote(2000)}`],
    ]);
    // A share of 256 bytes after one ASCII byte: 127 characters (255 bytes).
    const shifted = await both(`SELECT 'a' || repeat('é', 300) AS v FROM generate_series(1, 2)`, {
      maxBytes: 4096,
    });
    expect(shifted.rows[1]).toEqual([`a${'é'.repeat(127)}${cutNote(601)}`]);
    // Fewer characters than the share, more bytes: cut by bytes (128 characters, 256 bytes).
    const wide = await both(`SELECT repeat('é', 200) AS v FROM generate_series(1, 2)`, { maxBytes: 4096 });
    expect(wide.rows[1]).toEqual([`${'é'.repeat(128)}${cutNote(400)}`]);
    // Four-byte characters: 64 of them in 256 bytes.
    const emoji = await both(`SELECT repeat('😀', 100) AS v FROM generate_series(1, 2)`, { maxBytes: 4096 });
    expect(emoji.rows[1]).toEqual([`${'😀'.repeat(64)}${cutNote(400)}`]);
    // Exactly the share in bytes: kept whole.
    const exact = await both(`SELECT repeat('é', 128) AS v FROM generate_series(1, 2)`, { maxBytes: 4096 });
    expect(exact.rows[1]).toEqual(['é'.repeat(128)]);
  });

  it('has the cutter keep nothing of the rows once maxRows rows or the byte budget are reached', async () => {
    const c = await client(true);
    // A 1 MB cap: each value keeps its share, 64 kB (and the cutter's margin of 4 bytes).
    const rows = await rowsSeen(c, () =>
      run(c, `SELECT repeat('x', 100000) AS v, 'y' AS w FROM generate_series(1, 6)`, {
        maxRows: 3,
        maxBytes: 1024 * 1024,
      }),
    );
    expect(rows).toEqual([
      [65540, 1],
      [65540, 1],
      [65540, 1],
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    const spent = await rowsSeen(c, () =>
      run(c, `SELECT repeat('x', 1000) AS v FROM generate_series(1, 3)`, { maxBytes: 293 }),
    );
    expect(spent).toEqual([[260], [0], [0]]);
    // And an uncapped statement on the same connection reads its values whole.
    const whole = await rowsSeen(c, () =>
      run(c, `SELECT repeat('x', 100000) AS v FROM generate_series(1, 2)`),
    );
    expect(whole).toEqual([[100000], [100000]]);
  });

  it('keeps no row when the budget was spent before the statement', async () => {
    expect(await both(`SELECT 1 AS a`, { maxBytes: 0 })).toEqual({
      fields: ['a'],
      rows: [],
      command: 'SELECT',
      tagCount: 1,
      ...EMPTY,
      more: 1,
      bytesFull: true,
    });
  });
});

describe('StatementQuery: parsers, errors and settling', () => {
  it('leaves a value as text when its parser throws (the parser runs in a socket handler)', async () => {
    const { types } = await loadDriver();
    const failing = {
      getTypeParser: ((oid: number, format: string) => {
        if (oid === 23)
          return () => {
            throw new Error('no');
          };
        return (types.getTypeParser as (o: number, f: string) => unknown)(oid, format);
      }) as pg.CustomTypesConfig['getTypeParser'],
    };
    const c = await client();
    const text = `SELECT 7 AS n, true AS b, 'x' AS s`;
    expect((await run(c, text, { types: failing })).rows).toEqual([['7', true, 'x']]);
    expect((await run(c, text, { types: failing, maxBytes: 1000 })).rows).toEqual([['7', true, 'x']]);
  });

  it('asks for text parsers when a field does not say its format', async () => {
    const asked: [number, string][] = [];
    const q = new StatementQuery(
      await options({
        types: {
          getTypeParser: ((oid: number, format: string) => {
            asked.push([oid, format]);
            return (v: string) => `${format}:${v}`;
          }) as pg.CustomTypesConfig['getTypeParser'],
        },
      }),
    );
    q.handleRowDescription({
      fields: [
        { name: 'a', dataTypeID: 23, dataTypeModifier: -1 },
        { name: 'b', dataTypeID: 25, dataTypeModifier: -1, format: 'binary' },
      ],
    });
    expect(asked).toEqual([
      [23, 'text'],
      [25, 'binary'],
    ]);
  });

  it('fails a statement the server ended without a result, and frees the client', async () => {
    const q = new StatementQuery(await options({}));
    let ready = false;
    void q.ready.then(() => {
      ready = true;
    });
    q.handleReadyForQuery();
    await expect(q.promise).rejects.toThrow(/^The server ended the statement without a result\.$/);
    await q.ready;
    expect(ready).toBe(true);
  });

  it('fails on an error, with one Sync, and leaves a capped statement without a cutter working', async () => {
    const c = await client();
    for (const maxBytes of [Number.POSITIVE_INFINITY, 1000]) {
      await expect(run(c, 'SELECT 1 / 0', { maxBytes })).rejects.toMatchObject({ code: '22012' });
      expect((await c.query('SELECT 5 AS x')).rows).toEqual([{ x: 5 }]);
    }
  });

  it('settles an autocommit statement at the commit (so a failed commit fails it), a statement in a transaction at its completion', async () => {
    const c = await client();
    await c.query(`CREATE TEMP TABLE parent (id int PRIMARY KEY);
      CREATE TEMP TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)`);
    const order: string[] = [];
    const track = async (extra: Partial<StatementOptions>, text: string) => {
      const q = new StatementQuery(await options({ text, ...extra }));
      const result = q.promise.then(
        () => order.push('result'),
        (e: { code?: string }) => order.push(`error ${e.code}`),
      );
      const ready = q.ready.then(() => order.push('ready'));
      c.query(q as unknown as pg.Submittable);
      // The next query queued at once: it must get its own answer, whatever Syncs the first sent.
      const next = c.query('SELECT 6 AS x');
      await Promise.all([result, ready]);
      expect((await next).rows).toEqual([{ x: 6 }]);
    };

    // Autocommit: the deferred check fails at the commit, after the INSERT completed.
    await track({ awaitSync: true }, 'INSERT INTO child VALUES (1)');
    expect(order).toEqual(['ready', 'error 23503']);
    order.length = 0;
    await track({ awaitSync: true }, 'INSERT INTO parent VALUES (1)');
    expect(order).toEqual(['ready', 'result']);

    // In a transaction: the answer comes at the completion, the client is free at the ReadyForQuery.
    order.length = 0;
    await track({ awaitSync: false, prefix: ['BEGIN'] }, 'INSERT INTO child VALUES (2)');
    expect(order).toEqual(['result', 'ready']);
    await c.query('ROLLBACK');
    expect((await c.query('SELECT count(*)::int AS n FROM child')).rows).toEqual([{ n: 0 }]);
  });
});

describe('installRowCutter', () => {
  it('replaces the only data listener, and refuses a stream with none, several, or a cutter already', () => {
    const none = new EventEmitter();
    expect(installRowCutter(none)).toBe(false);
    expect(none.listenerCount('data')).toBe(0);

    const several = new EventEmitter();
    const a = () => undefined;
    const b = () => undefined;
    several.on('data', a).on('data', b);
    expect(installRowCutter(several)).toBe(false);
    expect(several.listeners('data')).toEqual([a, b]);

    const one = new EventEmitter();
    const got: Buffer[] = [];
    const parse = function (this: unknown, chunk: Buffer) {
      expect(this).toBe(one);
      got.push(chunk);
    };
    one.on('data', parse);
    expect(installRowCutter(one)).toBe(true);
    expect(one.listenerCount('data')).toBe(1);
    expect(one.listeners('data')[0]).not.toBe(parse);
    // Another listener of another event does not matter; a second cutter is refused.
    expect(installRowCutter(one)).toBe(false);
    expect(one.listenerCount('data')).toBe(1);
    // Bytes go through the cutter to the parser (whole messages, here a ReadyForQuery).
    one.emit('data', Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
    expect(Buffer.concat(got)).toEqual(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
  });
});
