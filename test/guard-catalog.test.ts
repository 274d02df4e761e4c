/**
 * The catalog check of read-only calls (checkCatalog in src/sql/guard.ts) on a real PostgreSQL, called in
 * each test's body: functions and operators made here with the marks PostgreSQL keeps in pg_proc, and the
 * check must refuse or allow each as PostgreSQL would resolve the call, whatever its name. `strict` is the
 * server without the privilege wall (readonly-role.ts), where only pg_catalog's functions may run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCatalog, inspect } from '../src/sql/guard.js';
import { connections } from '../src/sql/pools.js';
import { type Session, withSession } from '../src/sql/session.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let pg: TestPostgres;
const DB = 'guard_catalog';

beforeAll(async () => {
  pg = await startPostgres();
  await pg.query('postgres', `CREATE DATABASE ${DB}`);
  await pg.query(
    DB,
    `CREATE TABLE tab (cnt int, v int);
     CREATE FUNCTION gc_vol(i int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
     CREATE FUNCTION gc_stable(i int) RETURNS int STABLE LANGUAGE sql AS 'SELECT $1';
     CREATE FUNCTION gc_vol_default(a int, b int DEFAULT 0) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
     CREATE FUNCTION gc_vol_two(a int, b int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
     -- A function named like the column of tab: t.cnt reads the column, it cannot call a function of no argument.
     CREATE FUNCTION cnt() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
     -- Named like a volatile built-in on the allow-list: only pg_catalog's own is allowed.
     CREATE FUNCTION public.random() RETURNS float8 VOLATILE LANGUAGE sql AS 'SELECT 0.5::float8';
     CREATE SCHEMA other;
     CREATE FUNCTION other.gc_same() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
     CREATE FUNCTION public.gc_same() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1';
     CREATE SCHEMA "Mixed";
     CREATE FUNCTION "Mixed".gc_mixed() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
     CREATE FUNCTION gc_op_vol(int, int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT $1 = $2';
     CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = gc_op_vol);
     CREATE FUNCTION gc_op_stable(int, int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT $1 = $2';
     CREATE OPERATOR ~~~ (LEFTARG = int, RIGHTARG = int, FUNCTION = gc_op_stable);
     -- A function spelled like that operator: x."~~~" cannot call it (two arguments), 1 ~~~ 2 does not either.
     CREATE FUNCTION "~~~"(int, int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT $1 = $2';`,
  );
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await pg?.stop();
});

/** The catalog check of `sql` on the test database: undefined when allowed, else the refusal's message. */
async function check(sql: string, strict = false): Promise<string | undefined> {
  const found = await inspect(sql);
  return withSession(
    { uri: pg.uri(DB), where: `database ${DB}` },
    { signal: new AbortController().signal, timeoutMs: 10_000 },
    (s) =>
      checkCatalog(s, found, 'run_sql_readonly', strict).then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      ),
  );
}

const VOLATILE =
  'PostgreSQL marks it volatile: it may act outside the transaction (write over its own connection, signal or lock), which the rollback of a read-only call does not undo';
const STRICT =
  'this server has no read-only role for neon-mcp (see the log), so only built-in functions known to be safe are allowed';

describe('checkCatalog: functions, by their mark in pg_proc', () => {
  it('refuses a volatile function of the database, named with its schema, and says why and what to do', async () => {
    expect(await check('SELECT gc_vol(1)')).toBe(
      `run_sql_readonly: public.gc_vol() is not allowed in a read-only call: ${VOLATILE}. ` +
        '(Written as x.f or (expr).f, PostgreSQL calls f(x) when x has no column f.) ' +
        'To run it on purpose, use run_sql (not offered when the server runs with --read-only).',
    );
  });

  it('allows a STABLE function with the privilege wall behind it; without it, only pg_catalog', async () => {
    expect(await check('SELECT gc_stable(1)')).toBeUndefined();
    expect(await check('SELECT gc_stable(1)', true)).toBe(
      `run_sql_readonly: public.gc_stable() is not allowed in a read-only call: ${STRICT}. ` +
        '(Written as x.f or (expr).f, PostgreSQL calls f(x) when x has no column f.) ' +
        'To run it on purpose, use run_sql (not offered when the server runs with --read-only).',
    );
    // Built-ins, immutable or on the allow-list, pass both ways.
    for (const sql of ["SELECT lower('A'), gen_random_uuid(), clock_timestamp()", 'SELECT 1 + 2']) {
      expect(await check(sql), sql).toBeUndefined();
      expect(await check(sql, true), sql).toBeUndefined();
    }
  });

  it("refuses volatile built-ins off the allow-list, and another schema's function named like one on it", async () => {
    expect(await check("SELECT nextval('s')")).toMatch(
      /^run_sql_readonly: pg_catalog\.nextval\(\) is not allowed/,
    );
    expect(await check('SELECT pg_advisory_lock(1)')).toMatch(
      /pg_catalog\.pg_advisory_lock\(\) is not allowed/,
    );
    expect(await check('SELECT public.random()')).toMatch(
      /^run_sql_readonly: public\.random\(\) is not allowed/,
    );
    // Unqualified, random() could be either: the unsafe one refuses the call.
    expect(await check('SELECT random()')).toMatch(/^run_sql_readonly: public\.random\(\) is not allowed/);
    expect(await check('SELECT pg_catalog.random()')).toBeUndefined();
  });

  it('a schema named in the call picks that schema only, matched as PostgreSQL folds names', async () => {
    expect(await check('SELECT public.gc_same()')).toBeUndefined();
    expect(await check('SELECT other.gc_same()')).toMatch(
      /^run_sql_readonly: other\.gc_same\(\) is not allowed/,
    );
    expect(await check('SELECT gc_same()')).toMatch(/other\.gc_same\(\) is not allowed/);
    expect(await check('SELECT "Mixed".gc_mixed()')).toMatch(/Mixed\.gc_mixed\(\) is not allowed/);
    expect(await check('SELECT GC_VOL(1)')).toMatch(/public\.gc_vol\(\) is not allowed/);
  });

  it('x.f and (expr).f are calls of f when f takes one argument (or one without a default)', async () => {
    expect(await check('SELECT x.gc_vol FROM int4(1) AS x')).toMatch(/public\.gc_vol\(\) is not allowed/);
    expect(await check('SELECT (1).gc_vol')).toMatch(/public\.gc_vol\(\) is not allowed/);
    expect(await check('SELECT x.gc_vol_default FROM int4(1) AS x')).toMatch(
      /public\.gc_vol_default\(\) is not allowed/,
    );
    // Two arguments needed, or none: x.f cannot call it (PostgreSQL reads a column or fails).
    expect(await check('SELECT x.gc_vol_two FROM int4(1) AS x')).toBeUndefined();
    expect(await check('SELECT t.cnt, gc_stable(t.v) FROM tab t')).toBeUndefined();
    // Called as a function, the same cnt is refused.
    expect(await check('SELECT cnt()')).toMatch(/public\.cnt\(\) is not allowed/);
  });

  it('names every function refused once, with both reasons when both apply', async () => {
    expect(await check('SELECT gc_vol(1), gc_vol(2), x.gc_vol_default FROM int4(1) AS x')).toMatch(
      /^run_sql_readonly: public\.gc_vol\(\) and public\.gc_vol_default\(\) are not allowed in a read-only call: PostgreSQL marks it volatile[^;]*\. \(/,
    );
    expect(await check('SELECT gc_vol(1), gc_stable(1)', true)).toBe(
      `run_sql_readonly: public.gc_vol() and public.gc_stable() are not allowed in a read-only call: ${VOLATILE}; ${STRICT}. ` +
        '(Written as x.f or (expr).f, PostgreSQL calls f(x) when x has no column f.) ' +
        'To run it on purpose, use run_sql (not offered when the server runs with --read-only).',
    );
  });

  it('asks the catalog only when the text calls something', async () => {
    let asked = 0;
    // No call: a star, an array subscript and BETWEEN (a keyword, not an operator name) ask nothing either.
    const found = await inspect("SELECT 1, 'a'::text, t.*, (ARRAY[1, 2])[1], 1 BETWEEN 0 AND 2 FROM tab t");
    await withSession(
      { uri: pg.uri(DB), where: `database ${DB}` },
      { signal: new AbortController().signal, timeoutMs: 10_000 },
      async (s) => {
        const counting: Pick<Session, 'exec'> = {
          exec: (...args: Parameters<Session['exec']>) => {
            asked++;
            return s.exec(...args);
          },
        };
        await checkCatalog(counting, found, 'run_sql_readonly', true);
        expect(asked).toBe(0);
        await checkCatalog(counting, await inspect('SELECT 1 + 1'), 'run_sql_readonly', true);
        expect(asked).toBe(1);
        await checkCatalog(counting, await inspect('SELECT gc_stable(1)'), 'run_sql_readonly', false);
        expect(asked).toBe(2);
      },
    );
  });
});

describe('checkCatalog: when the catalog cannot be asked', () => {
  it('a lost connection fails the call, naming the look-up (nothing is allowed unchecked)', async () => {
    const found = await inspect('SELECT gc_stable(1)');
    const err = await withSession(
      { uri: pg.uri(DB), where: `database ${DB}` },
      { signal: new AbortController().signal, timeoutMs: 10_000 },
      async (s) => {
        const { rows } = await s.exec<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await pg.query('postgres', 'SELECT pg_terminate_backend($1, 5000)', [rows[0]?.pid]);
        return checkCatalog(s, found, 'run_sql_readonly', false).then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
      },
    );
    expect(err).toMatch(
      new RegExp(
        `^run_sql_readonly: checking the functions it calls failed on database ${DB}: the connection was lost`,
      ),
    );
  });
});

describe('checkCatalog: operators, by the function behind them', () => {
  it('refuses an operator whose function is volatile; one over a STABLE function only without the wall', async () => {
    expect(await check('SELECT 1 === 2')).toBe(
      `run_sql_readonly: operator public.=== is not allowed in a read-only call: ${VOLATILE}. ` +
        '(Written as x.f or (expr).f, PostgreSQL calls f(x) when x has no column f.) ' +
        'To run it on purpose, use run_sql (not offered when the server runs with --read-only).',
    );
    expect(await check('SELECT 1 ~~~ 2')).toBeUndefined();
    expect(await check('SELECT 1 ~~~ 2, x."~~~" FROM int4(1) AS x')).toBeUndefined();
    expect(await check('SELECT "~~~"(1, 2)')).toMatch(/^run_sql_readonly: public\.~~~\(\) is not allowed/);
    expect(await check('SELECT 1 ~~~ 2', true)).toMatch(
      /^run_sql_readonly: operator public\.~~~ is not allowed/,
    );
    expect(await check('SELECT 1 = 2 AND 1 < 2', true)).toBeUndefined();
  });
});
