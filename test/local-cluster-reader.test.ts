/**
 * Cluster.ensureReader / createRole (src/local/cluster.ts) called inside each test on a Cluster of its
 * own over a test PostgreSQL 18 server, with fresh role names: local mode runs them once at start (in
 * a beforeAll of the other tests), where mutation testing's per-test switching cannot reach them.
 * The reader role is cluster-wide: each test first drops it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, READER_ROLE } from '../src/local/cluster.js';
import { grantsOf, ROLE_PASSWORD, roleShape, startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
const pools: pg.Pool[] = [];
let n = 0;

beforeAll(async () => {
  server = await startPostgres();
  await server.query(
    'postgres',
    `CREATE ROLE lc_admin LOGIN CREATEDB CREATEROLE PASSWORD '${ROLE_PASSWORD}'`,
  );
}, 90_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await server?.stop();
});

function cluster(role?: string): Cluster {
  const url = server.uri('postgres', role);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return new Cluster(url, pool);
}

/** Fresh login roles, as the catalog's branch roles. */
async function roles(count: number): Promise<string[]> {
  const names = Array.from({ length: count }, () => `lc_role_${++n}`);
  for (const r of names) await server.query('postgres', `CREATE ROLE ${r} LOGIN`);
  return names;
}

const dropReader = () => server.query('postgres', `DROP ROLE IF EXISTS ${READER_ROLE}`);

const reader = () => roleShape(server, READER_ROLE);

/** The grants of the reader to `member` (set, inherit, admin), [] when none. */
const grantsTo = (member: string) => grantsOf(server, READER_ROLE, member);

const only = { set: true, inherit: false, admin: false };

describe('Cluster.ensureReader and createRole, called in the test', () => {
  it('makes the reader (NOLOGIN, commented, pg_read_all_data only) and lets each role SET ROLE to it, nothing more; twice is fine', async () => {
    await dropReader();
    const [a, b] = await roles(2);
    const c = cluster();
    expect(await c.ensureReader([a as string, b as string])).toBe(true);
    const r = await reader();
    expect(r?.login).toBe(false);
    expect(r?.comment).toBeTruthy();
    expect(r?.memberships).toEqual(['pg_read_all_data']);
    expect(await grantsTo(a as string)).toEqual([only]);
    expect(await grantsTo(b as string)).toEqual([only]);
    // A second start: the role exists (42710), the grants are made again, still one each.
    const [d] = await roles(1);
    expect(await cluster().ensureReader([a as string, d as string])).toBe(true);
    expect(await grantsTo(a as string)).toEqual([only]);
    expect(await grantsTo(d as string)).toEqual([only]);
    // New roles made after it are let become it too.
    const fresh = `lc_new_${++n}`;
    await c.createRole(fresh, 'a-password');
    expect(await grantsTo(fresh)).toEqual([only]);
    const made = await server.query<{ login: boolean; createrole: boolean; pw: boolean }>(
      'postgres',
      `SELECT rolcanlogin AS login, rolcreaterole AS createrole, rolpassword LIKE 'SCRAM-SHA-256$%' AS pw FROM pg_authid WHERE rolname = $1`,
      [fresh],
    );
    expect(made).toEqual([{ login: true, createrole: true, pw: true }]);
  });

  it('a role the catalog lists but the server lacks is skipped: the others still get the grant', async () => {
    await dropReader();
    const [a, b] = await roles(2);
    expect(await cluster().ensureReader([a as string, 'lc_ghost', b as string])).toBe(true);
    expect(await grantsTo(a as string)).toEqual([only]);
    expect(await grantsTo(b as string)).toEqual([only]);
  });

  it('an existing reader that can do more than read is not handed out, now or to roles made later', async () => {
    for (const unfit of [
      'NOLOGIN IN ROLE pg_read_all_data, pg_monitor',
      'LOGIN',
      'NOLOGIN CREATEDB',
      'NOLOGIN BYPASSRLS',
    ]) {
      await dropReader();
      await server.query('postgres', `CREATE ROLE ${READER_ROLE} ${unfit}`);
      const [a] = await roles(1);
      const c = cluster();
      expect(await c.ensureReader([a as string]), unfit).toBe(false);
      expect(await grantsTo(a as string), unfit).toEqual([]);
      const fresh = `lc_new_${++n}`;
      await c.createRole(fresh, 'a-password');
      expect(await grantsTo(fresh), unfit).toEqual([]);
    }
    // A fit reader found later (dropped and made anew) is handed out again by the same Cluster.
    await dropReader();
    const [a] = await roles(1);
    const c = cluster();
    expect(await c.ensureReader([])).toBe(true);
    await dropReader();
    await server.query('postgres', `CREATE ROLE ${READER_ROLE} LOGIN`);
    expect(await c.ensureReader([a as string])).toBe(false);
    const fresh = `lc_new_${++n}`;
    await c.createRole(fresh, 'a-password');
    expect(await grantsTo(fresh)).toEqual([]);
    await dropReader();
  });

  it('without a superuser connection there is no reader, and roles made are not granted it', async () => {
    await dropReader();
    const [a] = await roles(1);
    const c = cluster('lc_admin');
    expect(await c.ensureReader([a as string])).toBe(false);
    expect(await reader()).toBeUndefined();
    const fresh = `lc_new_${++n}`;
    await c.createRole(fresh, 'a-password');
    expect(await grantsTo(fresh)).toEqual([]);
  });

  it('a server it cannot ask answers false, not a crash; and a Cluster that never ran ensureReader grants nothing', async () => {
    const gone = new pg.Pool({ connectionString: 'postgresql://x:y@127.0.0.1:1/postgres', max: 1 });
    gone.on('error', () => undefined);
    pools.push(gone);
    expect(await new Cluster('postgresql://x:y@127.0.0.1:1/postgres', gone).ensureReader([])).toBe(false);
    // A fit reader exists on the server, but this Cluster has not checked it: new roles do not get it.
    await dropReader();
    expect(await cluster().ensureReader([])).toBe(true);
    const fresh = `lc_new_${++n}`;
    await cluster().createRole(fresh, 'a-password');
    expect(await grantsTo(fresh)).toEqual([]);
    await dropReader();
  });
});
