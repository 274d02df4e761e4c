/**
 * Read-only SQL in local mode has the privilege wall of src/sql/readonly-role.ts: local mode makes the
 * reader role as the superuser (branch roles cannot grant pg_read_all_data) and lets each branch role
 * become it, WITH INHERIT FALSE, SET TRUE. So explain_sql's analyze works, a write hidden in a STABLE
 * function is refused by PostgreSQL, no fallback line is logged; and a branch role gains no reading of
 * its own without `SET ROLE`, and nothing of another project's databases, which it cannot connect to.
 * On a real embedded PostgreSQL started by startLocal({ dir }), in-process, as `neon-mcp --local DIR`
 * does.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { READER_ROLE as LOCAL_READER } from '../src/local/cluster.js';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { connections } from '../src/sql/pools.js';
import { READER_ROLE } from '../src/sql/readonly-role.js';
import { connect } from './helpers.js';

let dir: string;
let local: LocalMode | undefined;
let api: NeonClient;
let conn: Awaited<ReturnType<typeof connect>>;
const stderr: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

async function start() {
  local = await startLocal({ dir, beforeCopy: (id) => connections.closeTagged(id) });
  api = new NeonClient({ apiKey: local.apiKey, baseUrl: local.baseUrl });
  conn = await connect({ apiKey: local.apiKey, clientOptions: { baseUrl: local.baseUrl } });
}

async function stop() {
  await conn?.close();
  await connections.closeAll();
  await local?.stop();
  local = undefined;
}

/** The embedded server's superuser, from what local mode keeps in DIR. */
function superuserUri(database: string): string {
  const pw = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
  const port = readFileSync(join(dir, 'port'), 'utf8').trim();
  return `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}?sslmode=disable`;
}

async function asSuperuser<R extends Record<string, any>>(database: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: superuserUri(database) });
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

/** 'ok', or the SQLSTATE of the error, connecting included. */
async function sqlstateOf(uri: string, text: string): Promise<string> {
  const c = new pg.Client({ connectionString: uri });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query(text);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function ownerOf(project_id: string) {
  const { branches } = await api.get('/projects/{project_id}/branches', { path: { project_id } });
  const branch_id = branches[0].id;
  const { uri } = await api.get('/projects/{project_id}/connection_uri', {
    path: { project_id },
    query: { branch_id, database_name: 'neondb', role_name: 'neondb_owner' },
  });
  const u = new URL(uri);
  return { branch_id, uri, role: decodeURIComponent(u.username), database: u.pathname.slice(1) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-readonly-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter DIR.
  chmodSync(dir, 0o755);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any, ...rest: any[]) => {
    stderr.push(String(chunk));
    return realWrite(chunk, ...rest);
  });
  await start();
}, 180_000);

afterAll(async () => {
  await stop();
  vi.restoreAllMocks();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('read-only SQL in local mode, with the reader role', () => {
  it('makes the role readonly-role.ts expects, under the same name', async () => {
    expect(LOCAL_READER).toBe(READER_ROLE);
    const [r] = await asSuperuser(
      'postgres',
      `
      SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
             shobj_description(r.oid, 'pg_authid') AS comment,
             (SELECT array_agg(g.rolname::text) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
               WHERE m.member = r.oid) AS memberships
      FROM pg_roles r WHERE r.rolname = '${READER_ROLE}'`,
    );
    expect(r).toEqual({
      rolcanlogin: false,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
      comment: expect.stringMatching(/^Made by neon-mcp: the identity of its read-only SQL calls/),
      memberships: ['pg_read_all_data'],
    });
  });

  it('explain_sql analyze works on a SELECT, and the no-role fallback is not logged', async () => {
    const { projects } = await conn.ok('list_projects', {});
    const project_id = projects[0].id;
    await conn.ok('run_sql', { project_id, sql: 'CREATE TABLE items (id int PRIMARY KEY)' });
    await conn.ok('run_sql', { project_id, sql: 'INSERT INTO items SELECT generate_series(1, 10)' });
    const plan = await conn.ok('explain_sql', {
      project_id,
      sql: 'SELECT count(*) FROM items',
      analyze: true,
    });
    expect(JSON.stringify(plan)).toMatch(/actual/i);
    const r = await conn.ok('run_sql_readonly', {
      project_id,
      sql: 'SELECT count(*)::int AS n, current_user AS u FROM items',
    });
    expect(r.rows).toEqual([{ n: 10, u: READER_ROLE }]);
    expect(stderr.join('')).not.toMatch(/without the privilege wall/);
  });

  it('a write hidden in a STABLE function is refused by PostgreSQL', async () => {
    const { projects } = await conn.ok('list_projects', {});
    const project_id = projects[0].id;
    for (const sql of [
      'CREATE TABLE notes (t text)',
      `CREATE FUNCTION scribble() RETURNS void VOLATILE LANGUAGE plpgsql
         AS $$BEGIN INSERT INTO notes VALUES ('written'); END$$`,
      // STABLE, so the catalog check lets it through; what it calls writes.
      `CREATE FUNCTION looks_harmless() RETURNS int STABLE LANGUAGE plpgsql
         AS $$BEGIN PERFORM scribble(); RETURN 1; END$$`,
    ])
      await conn.ok('run_sql', { project_id, sql });
    const err = await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT looks_harmless()' });
    // Refused by PostgreSQL (the transaction mode comes first; the reader could not INSERT either), not
    // by neon-mcp's catalog check, which refuses user functions only without the reader role.
    expect(err).toMatch(/Postgres error (25006|42501)/);
    const after = await conn.ok('run_sql', { project_id, sql: 'SELECT count(*)::int AS n FROM notes' });
    expect(after.rows).toEqual([{ n: 0 }]);
    expect(stderr.join('')).not.toMatch(/without the privilege wall/);
  });
});

describe('what a branch role gains: SET ROLE to the reader, nothing else', () => {
  it("cannot reach another project's database, and without SET ROLE reads nothing more in its own", async () => {
    const a = await ownerOf((await conn.ok('list_projects', {})).projects[0].id);
    const made = await conn.ok('create_project', { name: 'other' });
    const b = await ownerOf(made.project.id);
    await asSuperuser(a.database, "CREATE TABLE a_secret AS SELECT 'card 4111' AS v");
    await asSuperuser(b.database, "CREATE TABLE b_secret AS SELECT 'pin 1234' AS v");

    const [m] = await asSuperuser(
      b.database,
      `
      SELECT pg_has_role('${b.role}', '${READER_ROLE}', 'SET') AS may_set,
             pg_has_role('${b.role}', '${READER_ROLE}', 'USAGE') AS inherits,
             pg_has_role('${b.role}', 'pg_read_all_data', 'USAGE') AS reads_all,
             has_database_privilege('${b.role}', '${a.database}', 'CONNECT') AS connects_a`,
    );
    expect(m).toEqual({ may_set: true, inherits: false, reads_all: false, connects_a: false });

    // Another project's database, and the server's own: not even a connection (42501).
    const toA = new URL(b.uri);
    toA.pathname = `/${a.database}`;
    expect(await sqlstateOf(toA.toString(), 'SELECT 1')).toBe('42501');
    for (const db of ['postgres', 'template1']) {
      toA.pathname = `/${db}`;
      expect(await sqlstateOf(toA.toString(), 'SELECT 1')).toBe('42501');
    }
    // In its own database, a table it was not granted stays closed to it (INHERIT FALSE).
    expect(await sqlstateOf(b.uri, 'SELECT v FROM b_secret')).toBe('42501');
    // Through the tools: B's read-only call reads B, and cannot reach A's table.
    const project_id = made.project.id;
    const own = await conn.ok('run_sql_readonly', { project_id, sql: 'SELECT v FROM b_secret' });
    expect(own.rows).toEqual([{ v: 'pin 1234' }]);
    expect(await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT v FROM a_secret' })).toMatch(
      /a_secret|does not exist|42P01/,
    );
  });
});

describe('data directories made before the reader role', () => {
  it('lets their roles become it at the next start', async () => {
    const a = await ownerOf((await conn.ok('list_projects', {})).projects[0].id);
    // As a data directory of a neon-mcp from before the reader role: its roles cannot become it.
    await asSuperuser('postgres', `DROP ROLE ${READER_ROLE}`);
    await stop();
    await start();
    const [m] = await asSuperuser(
      'postgres',
      `SELECT pg_has_role('${a.role}', '${READER_ROLE}', 'SET') AS may_set`,
    );
    expect(m).toEqual({ may_set: true });
    const { projects } = await conn.ok('list_projects', {});
    const plan = await conn.ok('explain_sql', { project_id: projects[0].id, sql: 'SELECT 1', analyze: true });
    expect(JSON.stringify(plan)).toMatch(/actual/i);
  }, 180_000);
});
