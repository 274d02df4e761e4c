/**
 * Rows added, removed and changed between the same table on two branches, keyed by its primary key
 * (compare_data, issue 27 item 6). Large tables are compared the way data-diff tools do: a count and a
 * checksum of each key range are computed inside PostgreSQL on both sides, and only ranges whose
 * figures differ are split (16 ways) and compared again, down to ranges small enough to compare row
 * by row (a key and an md5 of the row each). So 10 changed rows of 1,000,000 cost one pass over each
 * table inside PostgreSQL plus a few small ranges, and only a few thousand short rows cross the wire.
 *
 * A key of several columns (composite) is split on its FIRST column only, exactly as a one-column key
 * is (so the one-column path and its SQL are the same code), and leaves are compared row by row by the
 * WHOLE key: a JSON array of the key columns' text (each value quoted and escaped, so none can run into
 * the next), read back by casting each element to its column's type. Splitting on the first column keeps
 * the range arithmetic and the checksum pass one-dimensional; the price is that rows sharing one
 * first-column value cannot be told apart by ranges, so such a range is compared row by row as a
 * whole, up to {@link LEAF_MAX} rows a side, and beyond that it is reported as not compared (its
 * checksums differ) rather than counted.
 */
import { SqlError } from './errors.js';
import type { Session } from './session.js';

/** Ranges with at most this many rows on both sides are compared row by row. */
const LEAF_ROWS = 400;
/**
 * A range that cannot be split further (all its rows share one value of the key's first column) is
 * compared row by row up to this many rows a side (a key and an md5 each: a few MB); a larger one is
 * reported as not compared. Only a key of several columns can have such ranges.
 */
export const LEAF_MAX = 50_000;
/** Ranges a differing range is split into. */
const FANOUT = 16;
/** Keys of each kind shown with their rows. */
export const SAMPLE = 5;

/** A primary key column. */
interface KeyColumn {
  name: string;
  /** Quoted (`quote_ident`). */
  quoted: string;
  /** Its type (`format_type`), for casts. */
  type: string;
}

interface Table {
  /** The table, as `regclass::text` writes it (quoted where needed). */
  rel: string;
  /** The primary key's first column, quoted: ranges are split on it. */
  key: string;
  /** Its type, for casting bounds (`integer`, `text`, `uuid`, …). */
  type: string;
  /** Integer keys split by arithmetic; others by the keys of one side. */
  integer: boolean;
  /** Every column of the primary key, in its order (one for a one-column key). */
  keys: KeyColumn[];
  columns: string[];
}

/** A key range: `lo <= key < hi`, either bound absent for none. */
interface Range {
  lo: string | null;
  hi: string | null;
}

export interface DataDiff {
  added: number;
  removed: number;
  changed: number;
  /** A few keys of each kind with their rows (untrusted database content). */
  sample: {
    added: Record<string, unknown>[];
    removed: Record<string, unknown>[];
    changed: { branch: Record<string, unknown>; base: Record<string, unknown> }[];
  };
  /** Ranges whose checksums were compared, and rows fetched to compare row by row. */
  work: { ranges_compared: number; rows_compared: number };
  /**
   * Ranges of the key's first column whose checksums differ but that were too large to compare row by
   * row (more than {@link LEAF_MAX} rows share one first-column value): not in the counts above.
   */
  not_compared?: {
    ranges: { from: string | null; before: string | null; branch_rows: number; base_rows: number }[];
  };
}

/** The key columns' names, in the key's order. */
export const keyNames = (t: Table) => t.keys.map((k) => k.name);

/** The table's primary key and columns on one side; refuses a table without a primary key. */
export async function tableOf(s: Session, oid: number): Promise<Table> {
  const rows = await s.read<{ rel: string; keys: KeyColumn[] | null; columns: string[] }>(
    // indnkeyatts: the key columns, not those of INCLUDE.
    `SELECT c.oid::regclass::text AS rel,
       (SELECT json_agg(json_build_object('name', a.attname, 'quoted', quote_ident(a.attname),
            'type', format_type(a.atttypid, NULL)) ORDER BY k.o)
          FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
         WHERE i.indrelid = c.oid AND i.indisprimary AND k.o <= i.indnkeyatts) AS keys,
       ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
     FROM pg_class c WHERE c.oid = $1`,
    [oid],
    'reading the primary key of the table',
  );
  const t = rows[0];
  const first = t?.keys?.[0];
  if (!t?.keys || !first)
    throw new SqlError(
      `compare_data: table ${t?.rel ?? oid} has no primary key, so its rows cannot be matched between branches. Add one, or compare with run_sql_readonly (EXCEPT).`,
    );
  return {
    rel: t.rel,
    key: first.quoted,
    type: first.type,
    integer: ['smallint', 'integer', 'bigint'].includes(first.type),
    keys: t.keys,
    columns: t.columns,
  };
}

/** Several key columns: each row's key as a JSON array of the columns' text (see the file's comment). */
const composite = (t: Table) => t.keys.length > 1;
const keyText = (t: Table) =>
  `json_build_array(${t.keys.map((k) => `t.${k.quoted}::text`).join(', ')})::text`;

const HASH = `('x' || left(md5(t::text), 15))::bit(60)::bigint`;

function where(t: Table, r: Range, first: number): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  if (r.lo !== null) {
    params.push(r.lo);
    parts.push(`t.${t.key} >= $${first + params.length - 1}::${t.type}`);
  }
  if (r.hi !== null) {
    params.push(r.hi);
    parts.push(`t.${t.key} < $${first + params.length - 1}::${t.type}`);
  }
  return { sql: parts.length ? parts.join(' AND ') : 'true', params };
}

/**
 * Count and checksum of each of `bounds`' ranges (the last one ends at `hi`), on one side, in one pass
 * over the range: width_bucket numbers each row's range for any ordered key type.
 */
async function sums(s: Session, t: Table, bounds: string[], hi: string | null): Promise<string[]> {
  const w = where(t, { lo: bounds[0] ?? null, hi }, 2);
  const rows = await s.read<{ i: number; n: string; h: string }>(
    `SELECT width_bucket(t.${t.key}, $1::${t.type}[]) AS i, count(*)::text AS n, sum(${HASH})::text AS h
     FROM ${t.rel} t WHERE ${w.sql} GROUP BY 1`,
    [bounds, ...w.params],
    'computing checksums of key ranges',
  );
  const by = new Map(rows.map((r) => [Number(r.i), `${r.n}:${r.h}`]));
  return bounds.map((_, i) => by.get(i + 1) ?? '0:0');
}

/** Keys and row digests of a range, on one side. */
async function digests(s: Session, t: Table, r: Range): Promise<Map<string, string>> {
  const w = where(t, r, 1);
  const k = composite(t) ? keyText(t) : `t.${t.key}::text`;
  const rows = await s.read<{ k: string; h: string }>(
    `SELECT ${k} AS k, md5(t::text) AS h FROM ${t.rel} t WHERE ${w.sql}`,
    w.params,
    'reading row digests',
  );
  return new Map(rows.map((x) => [x.k, x.h]));
}

/** Split points of a range: arithmetic for integer keys, else every 1/16th of the keys on `s`'s side. */
async function split(s: Session, t: Table, r: Range, min: string, max: string): Promise<string[]> {
  if (t.integer) {
    const lo = BigInt(r.lo ?? min);
    const hi = r.hi === null ? BigInt(max) + 1n : BigInt(r.hi);
    const step = (hi - lo + BigInt(FANOUT) - 1n) / BigInt(FANOUT);
    const points: string[] = [];
    for (let p = lo; p < hi; p += step > 0n ? step : 1n) points.push(p.toString());
    return points;
  }
  const w = where(t, r, 1);
  const rows = await s.read<{ p: string }>(
    `SELECT min(k)::text AS p FROM (SELECT t.${t.key} AS k, ntile(${FANOUT}) OVER (ORDER BY t.${t.key}) AS b
       FROM ${t.rel} t WHERE ${w.sql}) x GROUP BY b ORDER BY min(k)`,
    w.params,
    'choosing key ranges',
  );
  // Keys of several columns repeat first-column values: bucket bounds must be distinct.
  const points = [...new Set(rows.map((x) => x.p))];
  // The first range starts where the range does, so keys of the other side below the first key count.
  if (points.length && r.lo !== null) points[0] = r.lo;
  else if (points.length) points[0] = min;
  return points;
}

/**
 * Compares `t` on `branch` with `base` (each a session inside a READ ONLY transaction). `oid` is the
 * table on the branch side; the base must have the same columns.
 */
export async function compareData(
  branch: Session,
  base: Session,
  t: Table,
  baseTable: Table,
): Promise<DataDiff> {
  const keyOf = (x: Table) => JSON.stringify(x.keys.map((k) => [k.quoted, k.type]));
  if (t.columns.join(',') !== baseTable.columns.join(',') || keyOf(t) !== keyOf(baseTable))
    throw new SqlError(
      `compare_data: ${t.rel} has different columns or keys on the two branches, so every row would differ. compare_schema shows how; compare data once the schemas match.`,
    );
  const bounds = async (s: Session) =>
    (
      await s.read<{ lo: string | null; hi: string | null; n: string }>(
        `SELECT min(t.${t.key})::text AS lo, max(t.${t.key})::text AS hi, count(*)::text AS n FROM ${t.rel} t`,
        [],
        'reading the key range',
      )
    )[0];
  const [a, b] = [await bounds(branch), await bounds(base)];
  const work = { ranges_compared: 0, rows_compared: 0 };
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  const skipped: NonNullable<DataDiff['not_compared']>['ranges'] = [];
  const leaf = async (r: Range) => {
    const [x, y] = [await digests(branch, t, r), await digests(base, t, r)];
    work.rows_compared += x.size + y.size;
    for (const [k, h] of x) {
      const other = y.get(k);
      if (other === undefined) added.push(k);
      else if (other !== h) changed.push(k);
    }
    for (const k of y.keys()) if (!x.has(k)) removed.push(k);
  };
  if (a?.lo != null || b?.lo != null) {
    const min = await pick(branch, t, a?.lo ?? null, b?.lo ?? null, 'least');
    const max = await pick(branch, t, a?.hi ?? null, b?.hi ?? null, 'greatest');
    // Each range with its row count on the branch's side and on the base's.
    const queue: { r: Range; na: number; nb: number; last?: boolean }[] = [
      { r: { lo: null, hi: null }, na: Number(a?.n ?? 0), nb: Number(b?.n ?? 0) },
    ];
    while (queue.length) {
      const { r, na, nb, last } = queue.pop() as (typeof queue)[number];
      if (last && Math.max(na, nb) > LEAF_MAX) {
        skipped.push({ from: r.lo, before: r.hi, branch_rows: na, base_rows: nb });
        continue;
      }
      if (Math.max(na, nb) <= LEAF_ROWS || last) {
        await leaf(r);
        continue;
      }
      const points = await split(na >= nb ? branch : base, t, r, min, max);
      const [x, y] = [await sums(branch, t, points, r.hi), await sums(base, t, points, r.hi)];
      work.ranges_compared += points.length;
      for (let i = 0; i < points.length; i++) {
        if (x[i] === y[i]) continue;
        const sub = { lo: points[i] as string, hi: i + 1 < points.length ? (points[i + 1] as string) : r.hi };
        const count = (v: string | undefined) => Number(v?.split(':')[0] ?? 0);
        // A range that no longer splits is compared row by row (up to LEAF_MAX rows a side).
        queue.push({ r: sub, na: count(x[i]), nb: count(y[i]), last: points.length < 2 });
      }
    }
  }
  // One-column keys: the rows by key, as always. Several: the JSON arrays back to typed key tuples.
  const match = composite(t)
    ? `(${t.keys.map((k) => `t.${k.quoted}`).join(', ')}) IN (SELECT ${t.keys
        .map((k, i) => `(x.k->>${i})::${k.type}`)
        .join(', ')} FROM json_array_elements($1::json) AS x(k))`
    : `t.${t.key} = ANY($1::${t.type}[])`;
  const order = t.keys.map((k) => `t.${k.quoted}`).join(', ');
  const rowsOf = async (s: Session, keys: string[]) =>
    keys.length
      ? s.read<Record<string, unknown>>(
          `SELECT * FROM ${t.rel} t WHERE ${match} ORDER BY ${order}`,
          [composite(t) ? `[${keys.join(',')}]` : keys],
          'reading sample rows',
        )
      : [];
  const one = (integer: boolean, x: string, y: string) =>
    integer ? (BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0) : x.localeCompare(y);
  const cmp = composite(t)
    ? (x: string, y: string) => {
        const [a, b] = [JSON.parse(x) as string[], JSON.parse(y) as string[]];
        for (let i = 0; i < t.keys.length; i++) {
          const integer = ['smallint', 'integer', 'bigint'].includes(t.keys[i]?.type as string);
          const c = one(integer, a[i] as string, b[i] as string);
          if (c) return c;
        }
        return 0;
      }
    : (x: string, y: string) => one(t.integer, x, y);
  for (const list of [added, removed, changed]) list.sort(cmp);
  const changedBase = await rowsOf(base, changed.slice(0, SAMPLE));
  const changedBranch = await rowsOf(branch, changed.slice(0, SAMPLE));
  return {
    added: added.length,
    removed: removed.length,
    changed: changed.length,
    sample: {
      added: await rowsOf(branch, added.slice(0, SAMPLE)),
      removed: await rowsOf(base, removed.slice(0, SAMPLE)),
      changed: changedBranch.map((row, i) => ({ branch: row, base: changedBase[i] ?? {} })),
    },
    work,
    ...(skipped.length ? { not_compared: { ranges: skipped } } : {}),
  };
}

/** The least or greatest of two keys (either may be absent), as PostgreSQL orders them. */
async function pick(s: Session, t: Table, x: string | null, y: string | null, fn: 'least' | 'greatest') {
  const rows = await s.read<{ v: string }>(
    `SELECT ${fn}($1::${t.type}, $2::${t.type})::text AS v`,
    [x, y],
    'comparing keys',
  );
  return rows[0]?.v as string;
}
