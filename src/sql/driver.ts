/**
 * node-postgres, loaded on the first SQL call and never at start-up (start-up time and memory of the
 * server are measured, and most sessions never run SQL). Only types are imported statically.
 */
import type * as Pg from 'pg';

export interface Driver {
  pg: typeof Pg;
  /** Value parsers for result columns (see {@link parsers}). */
  types: Pg.CustomTypesConfig;
}

let loading: Promise<Driver> | undefined;

/** The driver, imported once; a failed import is retried on the next call. */
export function loadDriver(): Promise<Driver> {
  loading ??= (async () => {
    const pgModule = await import('pg');
    const pg = ((pgModule as unknown as { default?: typeof Pg }).default ?? pgModule) as typeof Pg;
    return { pg, types: parsers(pg) };
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Whether the driver has been imported (tests check start-up stays free of it). */
export function driverLoaded(): boolean {
  return loading !== undefined;
}

/*
 * What a row value becomes in JSON. Numbers and booleans that JSON carries exactly are parsed; json and
 * jsonb become objects; everything else keeps Postgres's text form, which is exact and unambiguous
 * (timestamps keep their time zone as Postgres printed it, numeric keeps every digit, bytea is \x hex)
 * where node-postgres' defaults would make Date objects in the local zone or Buffers.
 */
const PARSED = new Set([
  16, // bool
  21, // int2
  23, // int4
  26, // oid
  114, // json
  3802, // jsonb
  1000, // bool[]
  1005, // int2[]
  1007, // int4[]
  199, // json[]
  3807, // jsonb[]
  1009, // text[]
  1015, // varchar[]
]);

function parsers(pg: typeof Pg): Pg.CustomTypesConfig {
  const identity = (value: string) => value;
  const number = (value: string) => {
    const n = Number(value);
    return Number.isFinite(n) ? n : value;
  };
  // int8 (count(*), bigserial) as a number while it is exact, else as text.
  const int8 = (value: string) => {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  };
  return {
    getTypeParser: ((oid: number, format?: string) => {
      if (format === 'binary') return pg.types.getTypeParser(oid, 'binary');
      if (oid === 20) return int8;
      if (oid === 700 || oid === 701) return number;
      if (PARSED.has(oid)) return pg.types.getTypeParser(oid, 'text');
      return identity;
    }) as Pg.CustomTypesConfig['getTypeParser'],
  };
}

/** Names of common built-in types, so most results need no catalog lookup. */
export const BUILTIN_TYPE_NAMES: Record<number, string> = {
  16: 'boolean',
  17: 'bytea',
  18: '"char"',
  19: 'name',
  20: 'bigint',
  21: 'smallint',
  23: 'integer',
  25: 'text',
  26: 'oid',
  114: 'json',
  142: 'xml',
  650: 'cidr',
  700: 'real',
  701: 'double precision',
  869: 'inet',
  1000: 'boolean[]',
  1005: 'smallint[]',
  1007: 'integer[]',
  1009: 'text[]',
  1016: 'bigint[]',
  1042: 'character',
  1043: 'character varying',
  1082: 'date',
  1083: 'time without time zone',
  1114: 'timestamp without time zone',
  1184: 'timestamp with time zone',
  1186: 'interval',
  1266: 'time with time zone',
  1700: 'numeric',
  2249: 'record',
  2950: 'uuid',
  3220: 'pg_lsn',
  3802: 'jsonb',
  3807: 'jsonb[]',
};
