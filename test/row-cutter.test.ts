/**
 * The row cutter of src/sql/row-cutter.ts on synthetic protocol bytes: DataRow messages rewritten with
 * their long values cut (and the full lengths handed to the query), every other message passed on
 * byte for byte, whatever the chunk boundaries. Against real PostgreSQL: test/sql-protocol.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RowCutter } from '../src/sql/row-cutter.js';

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function dataRow(values: (string | null)[]): Buffer {
  const parts = [Buffer.alloc(2)];
  parts[0]?.writeInt16BE(values.length, 0);
  for (const v of values) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(v === null ? -1 : Buffer.byteLength(v), 0);
    parts.push(len);
    if (v !== null) parts.push(Buffer.from(v));
  }
  return message('D', Buffer.concat(parts));
}

/** Splits bytes into messages and DataRows into their values. */
function parse(bytes: Buffer): { type: string; values?: (string | null)[]; raw: Buffer }[] {
  const out = [];
  let i = 0;
  while (i < bytes.length) {
    const type = String.fromCharCode(bytes[i] ?? 0);
    const len = bytes.readUInt32BE(i + 1);
    const raw = bytes.subarray(i, i + 1 + len);
    let values: (string | null)[] | undefined;
    if (type === 'D') {
      values = [];
      const n = raw.readInt16BE(5);
      let at = 7;
      for (let f = 0; f < n; f++) {
        const l = raw.readInt32BE(at);
        at += 4;
        if (l < 0) values.push(null);
        else {
          values.push(raw.subarray(at, at + l).toString());
          at += l;
        }
      }
      expect(at).toBe(raw.length);
    }
    out.push({ type, values, raw });
    i += 1 + len;
  }
  expect(i).toBe(bytes.length);
  return out;
}

/** Feeds `input` in the given chunks; `onRow` runs after each DataRow forwarded (as pg would). */
function run(
  input: Buffer,
  chunks: number[],
  setup: (c: RowCutter) => void,
  onRow: (c: RowCutter) => void = () => undefined,
) {
  const forwarded: Buffer[] = [];
  let pending = Buffer.alloc(0);
  const cuts: (Map<number, number> | undefined)[] = [];
  const cutter: RowCutter = new RowCutter((b) => {
    // Only bytes are handed on: never an empty chunk to the parser.
    expect(b.length).toBeGreaterThan(0);
    forwarded.push(Buffer.from(b));
    // Like pg-protocol: complete messages are dispatched as soon as they are in.
    pending = Buffer.concat([pending, b]);
    while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
      const len = 1 + pending.readUInt32BE(1);
      if (pending[0] === 0x44) {
        cuts.push(cutter.take());
        onRow(cutter);
      }
      pending = pending.subarray(len);
    }
  });
  setup(cutter);
  let at = 0;
  for (const size of chunks) {
    cutter.push(input.subarray(at, at + size));
    at += size;
  }
  cutter.push(input.subarray(at));
  return { out: Buffer.concat(forwarded), cuts };
}

const long = 'é'.repeat(50) + 'x'.repeat(100); // 200 bytes, a character cut in two at byte 11
const stream = Buffer.concat([
  message('T', Buffer.from('row description bytes')),
  dataRow(['short', null, long, '']),
  message('N', Buffer.from('a notice in between')),
  dataRow([long]),
  dataRow([]),
  message('C', Buffer.from('SELECT 3\0')),
  message('Z', Buffer.from('I')),
]);

describe('RowCutter', () => {
  it('passes everything through unchanged while no capped statement runs', () => {
    for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
      const chunks = Array.from({ length: Math.ceil(stream.length / size) }, () => size);
      const { out, cuts } = run(stream, chunks, () => undefined);
      expect(out.equals(stream)).toBe(true);
      expect(cuts).toEqual([undefined, undefined, undefined]);
    }
  });

  it('cuts long values to the limit and reports their full length, at every chunk boundary', () => {
    for (let split = 0; split <= stream.length; split++) {
      for (const second of [1, 4, 1000]) {
        const { out, cuts } = run(stream, [split, second], (c) => c.start(11));
        const messages = parse(out);
        expect(messages.map((m) => m.type).join('')).toBe('TDNDDCZ');
        // Messages other than rows are byte for byte what came.
        const original = parse(stream);
        for (const [i, m] of messages.entries())
          if (m.type !== 'D') expect(m.raw.equals(original[i]?.raw ?? Buffer.alloc(0))).toBe(true);
        const first = Buffer.from(long).subarray(0, 11).toString();
        expect(messages[1]?.values).toEqual(['short', null, first, '']);
        expect(messages[3]?.values).toEqual([first]);
        expect(messages[4]?.values).toEqual([]);
        expect(cuts).toEqual([new Map([[2, 200]]), new Map([[0, 200]]), undefined]);
      }
    }
  });

  it('keeps nothing of the values once the query only counts, and stops at stop()', () => {
    const rows = Buffer.concat([dataRow(['abc', long]), dataRow(['def', long]), dataRow(['ghi', long])]);
    let seen = 0;
    const { out, cuts } = run(
      rows,
      [7, 300],
      (c) => c.start(1000),
      (c) => {
        seen++;
        if (seen === 1) c.countOnly();
        if (seen === 2) c.stop();
      },
    );
    const messages = parse(out);
    expect(messages.map((m) => m.values)).toEqual([
      ['abc', long],
      ['', ''],
      ['ghi', long],
    ]);
    expect(cuts).toEqual([
      undefined,
      new Map([
        [0, 3],
        [1, 200],
      ]),
      undefined,
    ]);
  });

  it('changes nothing when told to count only while no capped statement runs', () => {
    const { out, cuts } = run(stream, [9, 30], (c) => {
      c.countOnly();
    });
    expect(out.equals(stream)).toBe(true);
    expect(cuts).toEqual([undefined, undefined, undefined]);
    // Nor after a statement stopped.
    const after = run(stream, [9, 30], (c) => {
      c.start(3);
      c.stop();
      c.countOnly();
    });
    expect(after.out.equals(stream)).toBe(true);
  });

  it('hands a row on as soon as its last byte is in, whether its last value was kept whole or cut', () => {
    for (const [values, cut] of [
      [['abc', 'de'], undefined],
      [['abc', long], new Map([[1, 200]])],
      [[long, null], new Map([[0, 200]])],
    ] as const) {
      const forwarded: Buffer[] = [];
      const cutter = new RowCutter((b) => forwarded.push(Buffer.from(b)));
      cutter.start(11);
      const row = dataRow([...values]);
      // In two chunks, the second ending with the row: nothing may wait for a next chunk.
      cutter.push(row.subarray(0, 8));
      cutter.push(row.subarray(8));
      const messages = parse(Buffer.concat(forwarded));
      expect(messages.map((m) => m.values)).toEqual([
        values.map((v) => (v === null ? null : Buffer.from(v).subarray(0, 11).toString())),
      ]);
      expect(cutter.take()).toEqual(cut);
    }
  });

  it('never holds more than it keeps of a long value: the rewritten row is sized by the limit', () => {
    const forwarded: Buffer[] = [];
    const cutter = new RowCutter((b) => forwarded.push(b));
    cutter.start(11);
    const huge = 'z'.repeat(4 * 1024 * 1024);
    const row = dataRow(['a', huge]);
    for (let at = 0; at < row.length; at += 64 * 1024) cutter.push(row.subarray(at, at + 64 * 1024));
    expect(forwarded).toHaveLength(1);
    const out = forwarded[0] as Buffer;
    expect(parse(out).map((m) => m.values)).toEqual([['a', 'z'.repeat(11)]]);
    // The message and the memory behind it: far less than the 4 MB value. (The memory behind a small
    // buffer is Node's pool, 8 KiB on Node 20 and 64 KiB on Node 24; a row that kept a slice of the
    // input would hold all 4 MB.)
    expect(out.length).toBe(5 + 2 + 4 + 1 + 4 + 11);
    expect(out.buffer.byteLength).toBeLessThan(1024 * 1024);
    expect(cutter.take()).toEqual(new Map([[1, huge.length]]));
  });
});
