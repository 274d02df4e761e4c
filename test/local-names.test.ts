/**
 * Names as the agent sees them in local mode: a branch's `neondb` is `neondb__<tag>` on the one server,
 * and SQL that names the database by its Neon name (GRANT … ON DATABASE neondb, ALTER DATABASE neondb,
 * COMMENT ON DATABASE neondb, pg_database_size('neondb')) is given the server's name by
 * src/sql/database-names.ts; what it does not cover fails with an error that names the difference.
 * The rewrite on its own first (PostgreSQL's scanner, no server), then through the tools on a real
 * embedded PostgreSQL started by startLocal({ dir }), in-process, as `neon-mcp --local DIR` does.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { databaseOfUri, renameDatabases } from '../src/sql/database-names.js';
import { connections } from '../src/sql/pools.js';
import { loadParser } from '../src/sql/statements.js';
import { connect } from './helpers.js';

const alias = { name: 'neondb', real: 'neondb__9f3e0c1d' };
const R = '"neondb__9f3e0c1d"';

describe('renameDatabases (the scanner finds the names; the rest stays as written)', () => {
  let parser: Awaited<ReturnType<typeof loadParser>>;
  beforeAll(async () => {
    parser = await loadParser();
  });
  const rename = (sql: string) => renameDatabases(parser, sql, alias);

  it.each([
    ['GRANT CONNECT ON DATABASE neondb TO app', `GRANT CONNECT ON DATABASE ${R} TO app`],
    [
      'grant connect, temp on database NeonDB, other to app',
      `grant connect, temp on database ${R}, other to app`,
    ],
    ['REVOKE ALL ON DATABASE "neondb" FROM PUBLIC', `REVOKE ALL ON DATABASE ${R} FROM PUBLIC`],
    ['ALTER DATABASE neondb SET work_mem = 1', `ALTER DATABASE ${R} SET work_mem = 1`],
    ["COMMENT ON DATABASE neondb IS 'é neondb'", `COMMENT ON DATABASE ${R} IS 'é neondb'`],
    [
      'ALTER ROLE app IN DATABASE neondb SET search_path = app',
      `ALTER ROLE app IN DATABASE ${R} SET search_path = app`,
    ],
    ['REINDEX DATABASE CONCURRENTLY neondb', `REINDEX DATABASE CONCURRENTLY ${R}`],
    [
      "SELECT pg_database_size('neondb'), has_database_privilege('app', 'neondb', 'CONNECT')",
      `SELECT pg_database_size('neondb__9f3e0c1d'), has_database_privilege('app', 'neondb__9f3e0c1d', 'CONNECT')`,
    ],
    // Non-ASCII before the name: the scanner's offsets are bytes, not characters.
    [
      "SELECT 'ünïcödé'; GRANT CONNECT ON DATABASE neondb TO app",
      `SELECT 'ünïcödé'; GRANT CONNECT ON DATABASE ${R} TO app`,
    ],
  ])('%s', (sql, expected) => {
    expect(rename(sql)).toBe(expected);
  });

  it.each([
    // Another database, a quoted name in another case, names in strings, comments and dollar quotes,
    // CREATE/DROP (a new or another database), datname comparisons: left as written.
    'GRANT CONNECT ON DATABASE other TO app',
    'GRANT CONNECT ON DATABASE "NeonDB" TO app',
    "SELECT 'ON DATABASE neondb'",
    '-- ALTER DATABASE neondb\nSELECT 1',
    '/* COMMENT ON DATABASE neondb */ SELECT 1',
    "DO $$ BEGIN EXECUTE 'GRANT CONNECT ON DATABASE neondb TO app'; END $$",
    'DROP DATABASE neondb',
    'CREATE DATABASE neondb',
    "SELECT datname FROM pg_database WHERE datname = 'neondb'",
    "SELECT pg_database_size('other')",
    'GRANT CONNECT ON DATABASE', // cut short: the server reports it
    "SELECT 'unterminated",
  ])('leaves %s', (sql) => {
    expect(rename(sql)).toBe(sql);
  });

  it('changes nothing when both names are the same (Neon)', () => {
    const same = { name: 'neondb', real: 'neondb' };
    expect(renameDatabases(parser, 'ALTER DATABASE neondb SET work_mem = 1', same)).toBe(
      'ALTER DATABASE neondb SET work_mem = 1',
    );
  });

  it('quotes a server name that needs it', () => {
    expect(renameDatabases(parser, 'ALTER DATABASE a SET x = 1', { name: 'a', real: 'We"ird' })).toBe(
      'ALTER DATABASE "We""ird" SET x = 1',
    );
    expect(renameDatabases(parser, "SELECT pg_database_size('a')", { name: 'a', real: "it's" })).toBe(
      "SELECT pg_database_size('it''s')",
    );
  });

  it('reads the database of a URI', () => {
    expect(databaseOfUri('postgresql://u:p@h:5/neondb__ab%2Fc?sslmode=disable')).toBe('neondb__ab/c');
    expect(databaseOfUri('postgresql://u:p@h:5')).toBeUndefined();
    expect(databaseOfUri('not a uri')).toBeUndefined();
  });
});

describe('names as the agent sees them, through the tools on a local branch', () => {
  let dir: string;
  let local: LocalMode | undefined;
  let conn: Awaited<ReturnType<typeof connect>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-names-'));
    chmodSync(dir, 0o755);
    local = await startLocal({ dir, beforeCopy: (id) => connections.closeTagged(id) });
    conn = await connect({ apiKey: local.apiKey, clientOptions: { baseUrl: local.baseUrl } });
  }, 180_000);

  afterAll(async () => {
    await conn?.close();
    await connections.closeAll();
    await local?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function asSuperuser<T extends Record<string, any>>(text: string): Promise<T[]> {
    const pw = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
    const port = readFileSync(join(dir, 'port'), 'utf8').trim();
    const c = new pg.Client({
      connectionString: `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres?sslmode=disable`,
    });
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  }

  it('GRANT, ALTER DATABASE, COMMENT ON DATABASE and pg_database_size name neondb and reach the branch copy', async () => {
    const { projects } = await conn.ok('list_projects', {});
    const project_id = projects[0].id;
    const created = await conn.ok('create_branch', { project_id, name: 'names' });
    const branch_id = created.branch.id;
    const real = new URL(created.connection_uri).pathname.slice(1);
    expect(real).toMatch(/^neondb__[0-9a-f]{8}$/);

    await conn.ok('run_sql', {
      project_id,
      branch_id,
      sql: "COMMENT ON DATABASE neondb IS 'the names branch'",
    });
    await conn.ok('run_sql', { project_id, branch_id, sql: 'ALTER DATABASE neondb SET work_mem = 7777' });
    await conn.ok('run_sql_transaction', {
      project_id,
      branch_id,
      statements: ['CREATE ROLE names_app', 'GRANT CONNECT ON DATABASE neondb TO names_app'],
    });
    const size = await conn.ok('run_sql', {
      project_id,
      branch_id,
      sql: "SELECT pg_database_size('neondb') > 0 AS ok",
    });
    expect(JSON.stringify(size)).toMatch(/"ok":\s*true/);

    // On the server: the branch's copy changed, the parent's (main's) did not.
    const rows = await asSuperuser<{
      datname: string;
      comment: string | null;
      acl: string | null;
      config: string | null;
    }>(
      `SELECT d.datname, shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl,
              (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
       FROM pg_database d WHERE d.datname LIKE 'neondb__%' ORDER BY d.datname = '${real}' DESC`,
    );
    expect(rows[0]).toMatchObject({ datname: real, comment: 'the names branch', config: 'work_mem=7777' });
    expect(rows[0].acl).toMatch(/names_app=c/);
    for (const other of rows.slice(1)) {
      expect(other.comment).toBeNull();
      expect(other.acl ?? '').not.toMatch(/names_app/);
    }
  }, 120_000);

  it('a statement the rewrite does not cover fails with the difference named', async () => {
    const { projects } = await conn.ok('list_projects', {});
    const project_id = projects[0].id;
    const err = await conn.fails('run_sql', { project_id, sql: 'DROP DATABASE neondb' });
    expect(err).toMatch(/database "neondb" does not exist/);
    expect(err).toMatch(
      /in local mode \(neon-mcp --local\) this branch's database neondb is called neondb__[0-9a-f]{8} on the server/,
    );
    expect(err).toMatch(/current_database\(\)/);
    expect(err).not.toMatch(/list them with list_databases/);
  }, 60_000);
});
