/**
 * Rows added, removed and changed between the same table on two branches, keyed by its primary key
 * (compare_data, issue 27 item 6). Large tables are compared the way data-diff tools do: a count and a
 * checksum of each key range are computed inside PostgreSQL on both sides, and only ranges whose
 * figures differ are split (16 ways) and compared again, down to ranges small enough to compare row
 * by row (a key and an md5 of the row each). So 10 changed rows of 1,000,000 cost one pass over each
 * table inside PostgreSQL plus a few small ranges, and only a few thousand short rows cross the wire.
 */
import { SqlError } from './errors.js';
import type { Session } from './session.js';

/** Ranges with at most this many rows on both sides are compared row by row. */
const LEAF_ROWS = 400;
/** Ranges a differing range is split into. */
const FANOUT = 16;
/** Keys of each kind shown with their rows. */
export const SAMPLE = 5;

interface Table {
  /** The table, as `regclass::text` writes it (quoted where needed). */
  rel: string;
  /** The primary key column, quoted. */
  key: string;
  /** Its type, for casting bounds (`integer`, `text`, `uuid`, …). */
  type: string;
  /** Integer keys split by arithmetic; others by the keys of one side. */
  integer: boolean;
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
}

/** The table's primary key and columns on one side; refuses a table without a one-column key. */
export async function tableOf(s: Session, oid: number): Promise<Table> {
  const rows = await s.read<{
    rel: string;
    key: string | null;
    type: string | null;
    keys: number;
    columns: string[];
  }>(
    `SELECT c.oid::regclass::text AS rel,
       (SELECT quote_ident(a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
       (SELECT format_type(a.atttypid, NULL) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = c.oid AND i.indisprimary) AS type,
       (SELECT i.indnatts FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::int AS keys,
       ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
     FROM pg_class c WHERE c.oid = $1`,
    [oid],
    'reading the primary key of the table',
  );
  const t = rows[0];
  if (!t?.key || !t.type)
    throw new SqlError(
      `compare_data: table ${t?.rel ?? oid} has no primary key, so its rows cannot be matched between branches. Add one, or compare with run_sql_readonly (EXCEPT).`,
    );
  if (t.keys !== 1)
    throw new SqlError(
      `compare_data: the primary key of ${t.rel} has ${t.keys} columns; compare_data matches rows by a one-column key only.`,
    );
  return {
    rel: t.rel,
    key: t.key,
    type: t.type,
    integer: ['smallint', 'integer', 'bigint'].includes(t.type),
    columns: t.columns,
  };
}

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
  const rows = await s.read<{ k: string; h: string }>(
    `SELECT t.${t.key}::text AS k, md5(t::text) AS h FROM ${t.rel} t WHERE ${w.sql}`,
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
  const points = rows.map((x) => x.p);
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
  if (t.columns.join(',') !== baseTable.columns.join(',') || t.key !== baseTable.key)
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
        // A range that no longer splits is compared row by row whatever its size.
        queue.push({ r: sub, na: count(x[i]), nb: count(y[i]), last: points.length < 2 });
      }
    }
  }
  const rowsOf = async (s: Session, keys: string[]) =>
    keys.length
      ? s.read<Record<string, unknown>>(
          `SELECT * FROM ${t.rel} t WHERE t.${t.key} = ANY($1::${t.type}[]) ORDER BY t.${t.key}`,
          [keys],
          'reading sample rows',
        )
      : [];
  const cmp = (x: string, y: string) =>
    t.integer ? (BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0) : x.localeCompare(y);
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
