/**
 * The walls of issue 22 (items 1 and 6) against a real PostgreSQL 18 server with dblink installed, set
 * up like Neon: the branch owner (neondb_owner) is no superuser but has CREATEROLE and, through
 * neon_superuser, pg_signal_backend and the right to grant pg_read_all_data. Every attack that broke is
 * tried through the tools, each spelling, and the database is checked afterwards (nothing written, no
 * backend signalled); then each wall is tried alone, with the one in front of it out of the way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runOne, runTransaction } from '../src/sql/run.js';
import { withSession } from '../src/sql/session.js';
import { connect, useMockApi } from './helpers.js';
import { branchDatabase, OWNER, READER } from './pg/branches.js';
import { ROLE_PASSWORD } from './pg/server.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { pg, dbs } = usePostgres(api, {
  setup: async (server) => {
    // Neon's owner role: CREATEROLE, and a member of neon_superuser, which may grant pg_read_all_data.
    await server.query('postgres', 'CREATE ROLE neon_superuser NOLOGIN CREATEROLE');
    await server.query('postgres', 'GRANT pg_read_all_data TO neon_superuser WITH ADMIN OPTION');
    await server.query('postgres', `GRANT neon_superuser TO ${OWNER}`);
    await server.query('postgres', `ALTER ROLE ${OWNER} CREATEROLE`);
  },
});

let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function project() {
  const seeded = api.fake.seedProject('walls');
  const project_id = seeded.project.id as string;
  const branch_id = seeded.branch.id as string;
  await dbs.admin(branch_id, 'CREATE EXTENSION dblink');
  await dbs.query(branch_id, 'CREATE TABLE victim (x int)');
  const dsn = `host=127.0.0.1 port=${pg.port} dbname=${branchDatabase(branch_id, 'neondb')} user=${OWNER} password=${ROLE_PASSWORD} sslmode=disable`;
  return { project_id, branch_id, dsn };
}

const victimRows = async (branch_id: string) =>
  (await dbs.query<{ x: number }>(branch_id, 'SELECT x FROM victim ORDER BY x')).map((r) => r.x);

/** A session of the owner that the attacks try to end; returns its pid and whether it still answers. */
async function bystander(branch_id: string) {
  const database = await dbs.ensure(branch_id);
  const { Client } = (await import('pg')).default;
  const client = new Client({ connectionString: pg.uri(database, OWNER) });
  client.on('error', () => undefined);
  await client.connect();
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  return {
    pid,
    alive: async () =>
      client.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    close: () => client.end().catch(() => undefined),
  };
}

describe('read-only SQL: the attacks that broke are refused, through the tools', () => {
  it('dblink in attribute notation writes nothing: run_sql_readonly, --read-only run_sql and explain_sql analyze', async () => {
    const { project_id, branch_id, dsn } = await project();
    const attack = `SELECT c.dblink_connect, e.dblink_exec FROM text('${dsn}') c, text('INSERT INTO victim VALUES (2)') e`;
    // Nothing but neon-mcp stops it: as the owner, outside neon-mcp, it writes.
    await dbs.query(branch_id, attack);
    expect(await victimRows(branch_id)).toEqual([2]);
    await dbs.query(branch_id, 'DELETE FROM victim; SELECT dblink_disconnect()');

    for (const readOnly of [false, true]) {
      conn = await connect({ readOnly });
      const calls: [string, Record<string, unknown>][] = [
        ['run_sql_readonly', { sql: attack }],
        ['explain_sql', { sql: attack, analyze: true }],
        ['run_sql_readonly', { sql: `SELECT (text('${dsn}')).dblink_connect` }],
        ['run_sql_readonly', { sql: `SELECT query_to_xml($q$${attack}$q$, true, true, '')` }],
      ];
      for (const [tool, args] of calls) {
        const err = await conn.fails(tool, { project_id, ...args });
        expect(err, `${tool} ${JSON.stringify(args)}`).toMatch(
          /dblink_(connect|exec)\(\) (is|are) not allowed/,
        );
        expect(err).toMatch(/volatile/);
      }
      await conn.close();
    }
    // run_sql and run_sql_transaction under --read-only (hidden from the tool list, the same code).
    const target = {
      uri: pg.uri(await dbs.ensure(branch_id), OWNER),
      where: 'the test database',
      role: OWNER,
    };
    const opts = { signal: new AbortController().signal, timeoutMs: 10_000 };
    await withSession(target, opts, async (s) => {
      await expect(runOne(s, attack, { maxRows: 10, readOnly: true, what: 'run_sql' })).rejects.toThrow(
        /dblink_(connect|exec)\(\) (is|are) not allowed/,
      );
      await expect(
        runTransaction(s, [{ sql: 'SELECT 1' }, { sql: attack }], {
          maxRows: 10,
          readOnly: true,
          tool: 'run_sql_transaction',
        }),
      ).rejects.toThrow(/statement 2\): .*dblink_(connect|exec)\(\) (is|are) not allowed/);
    });
    expect(await victimRows(branch_id)).toEqual([]);
  });

  it('signals and advisory locks in every spelling are refused, and the bystander lives', async () => {
    const { project_id, branch_id } = await project();
    const other = await bystander(branch_id);
    try {
      conn = await connect({ readOnly: true });
      const spellings = [
        `SELECT x.pg_terminate_backend FROM int4(${other.pid}) AS x`,
        `SELECT (${other.pid}).pg_terminate_backend`,
        `SELECT (${other.pid}).pg_cancel_backend`,
        'SELECT (pg_backend_pid()).pg_cancel_backend',
        `SELECT query_to_xml('SELECT x.pg_terminate_backend FROM int4(${other.pid}) AS x', true, true, '')`,
        'SELECT x.pg_advisory_lock FROM int8(42) AS x',
        'SELECT (42::bigint).pg_try_advisory_lock',
      ];
      for (const sql of spellings) {
        const err = await conn.fails('run_sql_readonly', { project_id, sql });
        expect(err, sql).toMatch(/not allowed in a read-only call/);
      }
      expect(await other.alive()).toBe(true);
      const locks = await dbs.admin(branch_id, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'");
      expect(locks).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('the role cannot be switched back from inside a read-only call', async () => {
    const { project_id } = await project();
    conn = await connect({ readOnly: true });
    for (const sql of [
      'RESET ROLE',
      `SET ROLE ${OWNER}`,
      `SET LOCAL ROLE ${OWNER}`,
      'SET SESSION AUTHORIZATION DEFAULT',
      'RESET ALL',
      `SELECT set_config('role', '${OWNER}', true)`,
      `SELECT set_config(' ROLE ', '${OWNER}', true)`,
      `SELECT set_config(lower('ROLE'), '${OWNER}', true)`,
      `SELECT query_to_xml('SELECT set_config(''role'', ''${OWNER}'', true)', true, true, '')`,
    ]) {
      const err = await conn.fails('run_sql_readonly', { project_id, sql });
      expect(err, sql).toMatch(/not allowed in a read-only call/);
      expect(err).toMatch(/role/i);
    }
    // A harmless setting is still fine.
    const ok = await conn.ok('run_sql_readonly', {
      project_id,
      sql: "SELECT set_config('search_path', 'public', true) AS p, current_user AS u",
    });
    expect(ok.rows).toEqual([{ p: 'public', u: 'neon_mcp_reader' }]);
  });

  it('reads still work as the reader: tables of the owner, volatile functions on the list, plain EXPLAIN', async () => {
    const { project_id, branch_id } = await project();
    await dbs.query(branch_id, 'INSERT INTO victim VALUES (7); CREATE SEQUENCE s; SELECT nextval($$s$$)');
    conn = await connect({ readOnly: true });
    const r = await conn.ok('run_sql_readonly', {
      project_id,
      sql: "SELECT x, random() < 2 AS r, gen_random_uuid() IS NOT NULL AS u, pg_relation_size('victim') >= 0 AS s, current_user AS who FROM victim",
    });
    expect(r.rows).toEqual([{ x: 7, r: true, u: true, s: true, who: 'neon_mcp_reader' }]);
    const plan = await conn.ok('explain_sql', { project_id, sql: 'SELECT * FROM victim', analyze: true });
    expect(plan.plan).toMatch(/actual time=/);
    // nextval writes: refused (by the catalog check here, by READ ONLY behind it).
    expect(await conn.fails('run_sql_readonly', { project_id, sql: "SELECT nextval('s')" })).toMatch(
      /pg_catalog\.nextval\(\) is not allowed/,
    );
  });

  it('explain_sql analyze runs the statement read-only', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const err = await conn.fails('explain_sql', {
      project_id,
      sql: 'INSERT INTO victim VALUES (3)',
      analyze: true,
    });
    expect(err).toMatch(/25006 \(read_only_sql_transaction\)/);
    expect(await victimRows(branch_id)).toEqual([]);
  });
});

describe('each wall alone', () => {
  it('the privilege wall: as neon_mcp_reader PostgreSQL refuses the signal the parser would have let through', async () => {
    const { branch_id } = await project();
    const other = await bystander(branch_id);
    try {
      // First a read-only call, so that neon-mcp makes the role.
      const c = await connect({ readOnly: true });
      await c.ok('run_sql_readonly', {
        project_id: api.fake.branches.get(branch_id)?.project_id,
        sql: 'SELECT 1',
      });
      await c.close();
      const uri = pg.uri(await dbs.ensure(branch_id), OWNER);
      const target = { uri, where: 'the test database', role: OWNER };
      const opts = { signal: new AbortController().signal, timeoutMs: 10_000 };
      const err = await withSession(target, opts, async (s) => {
        s.beginReadOnly('neon_mcp_reader');
        return s
          .run(`SELECT pg_terminate_backend(${other.pid})`, undefined, {
            maxRows: 1,
            what: 'bare',
            autocommit: false,
          })
          .then(
            () => 'ran',
            (e: Error) => e.message,
          );
      });
      expect(err).toMatch(/42501|permission denied|must be a member/);
      // …while the owner itself could (pg_signal_backend): the role is the wall.
      expect(await other.alive()).toBe(true);
      const asOwner = await withSession(target, opts, async (s) => {
        s.beginReadOnly();
        return s
          .run(`SELECT pg_cancel_backend(${other.pid}) AS ok`, undefined, {
            maxRows: 1,
            what: 'bare',
            autocommit: false,
          })
          .then((r) => r.rows[0]?.ok);
      });
      expect(asOwner).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('without the privilege wall (a role that cannot create roles): strict catalog check, no analyze', async () => {
    const { project_id, branch_id } = await project();
    await dbs.query(
      branch_id,
      `CREATE FUNCTION sneaky(int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_cancel_backend($1)';
       GRANT SELECT ON victim TO ${READER}`,
    );
    conn = await connect({ readOnly: true });
    const role = READER;
    api.fake.makeRole(branch_id, READER);
    // A user's function marked STABLE: with the reader role PostgreSQL would refuse its signal; here
    // nothing would, so it is refused.
    expect(await conn.fails('run_sql_readonly', { project_id, role, sql: 'SELECT sneaky(1)' })).toMatch(
      /public\.sneaky\(\) is not allowed.+only built-in functions known to be safe/,
    );
    expect(await conn.fails('explain_sql', { project_id, role, sql: 'SELECT 1', analyze: true })).toMatch(
      /analyze is refused/,
    );
    const r = await conn.ok('run_sql_readonly', {
      project_id,
      role,
      sql: 'SELECT count(*)::int AS n, lower($1) AS l, current_user AS u FROM victim',
      params: ['A'],
    });
    expect(r.rows).toEqual([{ n: 0, l: 'a', u: READER }]);
    const plan = await conn.ok('explain_sql', { project_id, role, sql: 'SELECT * FROM victim' });
    expect(plan.plan).toMatch(/Seq Scan/);
  });

  it('with the privilege wall, a STABLE user function runs as the reader, and its signal is refused by PostgreSQL', async () => {
    const { project_id, branch_id } = await project();
    const other = await bystander(branch_id);
    try {
      await dbs.query(
        branch_id,
        "CREATE FUNCTION sneaky(int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_terminate_backend($1)'",
      );
      conn = await connect({ readOnly: true });
      const err = await conn.fails('run_sql_readonly', { project_id, sql: `SELECT sneaky(${other.pid})` });
      expect(err).toMatch(/42501|permission denied/);
      expect(await other.alive()).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('the reader role on other servers', () => {
  it('as a superuser (local mode, a --database-url superuser) the calls run as the reader all the same', async () => {
    const { project_id, branch_id } = await project();
    const other = await bystander(branch_id);
    try {
      api.fake.makeRole(branch_id, 'postgres'); // the fake connects any other role as the superuser
      conn = await connect({ readOnly: true });
      const role = 'postgres';
      const who = await conn.ok('run_sql_readonly', { project_id, role, sql: 'SELECT current_user AS u' });
      expect(who.rows).toEqual([{ u: 'neon_mcp_reader' }]);
      for (const sql of ['RESET ROLE', 'SET SESSION AUTHORIZATION DEFAULT']) {
        expect(await conn.fails('run_sql_readonly', { project_id, role, sql }), sql).toMatch(/not allowed/);
      }
      await dbs.query(
        branch_id,
        "CREATE FUNCTION sneaky(int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_terminate_backend($1)'",
      );
      const err = await conn.fails('run_sql_readonly', {
        project_id,
        role,
        sql: `SELECT sneaky(${other.pid})`,
      });
      expect(err).toMatch(/42501|permission denied/);
      expect(await other.alive()).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('a neon_mcp_reader that holds more than reading is not used: the stricter checks apply', async () => {
    // The role made by a first call (on another database: the check runs once per server and process
    // for each database's URI), then given more.
    const first = await project();
    conn = await connect({ readOnly: true });
    await conn.ok('run_sql_readonly', { project_id: first.project_id, sql: 'SELECT 1' });
    await conn.close();
    const { project_id, branch_id } = await project();
    await pg.query('postgres', `GRANT pg_signal_backend TO neon_mcp_reader`);
    try {
      await dbs.query(branch_id, "CREATE FUNCTION harmless() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1'");
      conn = await connect({ readOnly: true });
      const err = await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT harmless()' });
      expect(err).toMatch(/public\.harmless\(\) is not allowed.+only built-in functions known to be safe/);
      expect(await conn.fails('explain_sql', { project_id, sql: 'SELECT 1', analyze: true })).toMatch(
        /analyze is refused/,
      );
      const who = await conn.ok('run_sql_readonly', { project_id, sql: 'SELECT current_user AS u' });
      expect(who.rows).toEqual([{ u: OWNER }]);
    } finally {
      await pg.query('postgres', `REVOKE pg_signal_backend FROM neon_mcp_reader`);
    }
  });
});

describe("neon-mcp's own deadline", () => {
  it('SET LOCAL statement_timeout = 0 does not outlive --sql-timeout', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect({ sqlTimeoutMs: 500 });
    const started = performance.now();
    const err = await conn.fails('run_sql_transaction', {
      project_id,
      statements: ['SET LOCAL statement_timeout = 0', 'INSERT INTO victim VALUES (1)', 'SELECT pg_sleep(30)'],
    });
    const took = performance.now() - started;
    expect(err).toMatch(/cancelled by neon-mcp: it ran past the limit of 0\.5 s \(--sql-timeout\)/);
    expect(err).toMatch(/none of the 3 statements was applied/);
    expect(took).toBeLessThan(10_000);
    expect(await victimRows(branch_id)).toEqual([]);
    // The backend stopped sleeping.
    const sleeping = await dbs.admin(
      branch_id,
      "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()",
    );
    expect(sleeping).toEqual([]);
  });
});
