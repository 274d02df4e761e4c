/**
 * Local mode keeps projects apart on its one PostgreSQL server, by what the server enforces: a branch's
 * roles cannot read another project's live statements (no pg_read_all_stats), and no role's password is
 * ever in statement text (pg_stat_activity, pg_stat_statements, the server's log with
 * log_statement = all): roles are given SCRAM verifiers, and the catalog's bound passwords are kept out
 * of the log. pg_stat_statements still serves each owner its own statements (list_slow_queries).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { type EmbeddedServer, freePort, startEmbedded } from '../src/local/postgres.js';

const SUPERUSER_PW = 'isolation-superuser-pw';
let dir: string;
let server: EmbeddedServer;
let port: number;
let local: LocalMode;
let client: NeonClient;
let serverLog = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-isolation-'));
  chmodSync(dir, 0o755);
  port = await freePort();
  server = await startEmbedded({
    dataDir: join(dir, 'data'),
    port,
    superuser: 'postgres',
    password: SUPERUSER_PW,
    persistent: false,
    initdbFlags: ['--no-sync'],
    settings: [
      'listen_addresses=127.0.0.1',
      'unix_socket_directories=',
      'fsync=off',
      'shared_preload_libraries=pg_stat_statements',
      // Every statement's text (and its bound parameters, unless cut) goes to the log.
      'log_statement=all',
    ],
    onLog: (text) => {
      serverLog += text;
    },
  });
  local = await startLocal({
    postgresUrl: `postgresql://postgres:${SUPERUSER_PW}@127.0.0.1:${port}/postgres?sslmode=disable`,
  });
  client = new NeonClient({ apiKey: local.apiKey, baseUrl: local.baseUrl });
}, 120_000);

afterAll(async () => {
  await local?.stop();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function sql<R extends Record<string, any>>(uri: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

async function project(name: string) {
  const made = await client.post('/projects', { body: { project: { name } } });
  const project_id = made.project.id;
  const branch_id = made.branch.id;
  const { uri } = await client.get('/projects/{project_id}/connection_uri', {
    path: { project_id },
    query: { branch_id, database_name: 'neondb', role_name: 'neondb_owner' },
  });
  return { project_id, branch_id, uri };
}

const superuserUri = (db: string) =>
  `postgresql://postgres:${SUPERUSER_PW}@127.0.0.1:${port}/${db}?sslmode=disable`;

describe('local mode isolation', () => {
  it("a project's roles cannot read another project's live statements", async () => {
    const a = await project('shop');
    const b = await project('other');
    const card = '4111-1111-1111-1111';
    const running = sql(a.uri, `SELECT '${card}' AS card, pg_sleep(1.5)`);
    try {
      const seen = async (uri: string) => {
        for (let i = 0; i < 100; i++) {
          const rows = await sql<{ query: string | null }>(uri, 'SELECT query FROM pg_stat_activity');
          if (rows.some((r) => r.query?.includes(card))) return true;
          if (uri !== b.uri) await new Promise((r) => setTimeout(r, 10));
          else return false;
        }
        return false;
      };
      // The statement is running: the superuser sees it, a role of the other project does not.
      expect(await seen(superuserUri('postgres'))).toBe(true);
      expect(await seen(b.uri)).toBe(false);
      const roles = await sql<{ r: string | null }>(
        b.uri,
        "SELECT string_agg(b.rolname, ',') AS r FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = current_user::regrole",
      );
      expect(roles[0]?.r ?? '').not.toContain('pg_read_all_stats');
    } finally {
      await running;
    }
  }, 60_000);

  it('no password is in any statement text the server shows or logs', async () => {
    const a = await project('secrets');
    const branch = await client.post('/projects/{project_id}/branches', {
      path: { project_id: a.project_id },
      body: { branch: { name: 'dev', parent_id: a.branch_id }, endpoints: [{ type: 'read_write' }] },
    });
    await client.post('/projects/{project_id}/branches/{branch_id}/roles', {
      path: { project_id: a.project_id, branch_id: a.branch_id },
      body: { role: { name: 'app' } },
    });
    await client.post('/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password', {
      path: { project_id: a.project_id, branch_id: branch.branch.id, role_name: 'neondb_owner' },
    });
    const passwords: string[] = [];
    for (const [branch_id, role_name] of [
      [a.branch_id, 'neondb_owner'],
      [a.branch_id, 'app'],
      [branch.branch.id, 'neondb_owner'],
    ] as const) {
      const { password } = await client.get(
        '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password',
        { path: { project_id: a.project_id, branch_id, role_name } },
      );
      passwords.push(password!);
      // The verifier works: the role logs in with its password.
      const { uri } = await client.get('/projects/{project_id}/connection_uri', {
        path: { project_id: a.project_id },
        query: { branch_id, database_name: 'neondb', role_name },
      });
      expect(await sql(uri, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    }
    // The log did record the role statements, with verifiers.
    expect(serverLog).toMatch(/CREATE ROLE .*PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(serverLog).toMatch(/ALTER ROLE .*PASSWORD 'SCRAM-SHA-256\$4096:/);
    // Every statement of every database, as the superuser sees them (the view is in the project's
    // database, where local mode created the extension).
    const [{ d }] = await sql<{ d: string }>(a.uri, 'SELECT current_database() AS d');
    const statements = await sql<{ query: string }>(superuserUri(d), 'SELECT query FROM pg_stat_statements');
    expect(statements.some((s) => /CREATE ROLE/.test(s.query))).toBe(true);
    for (const pw of passwords) {
      expect(serverLog).not.toContain(pw);
      expect(statements.some((s) => s.query.includes(pw))).toBe(false);
    }
  }, 60_000);

  it('pg_stat_statements serves a project owner its own statements (list_slow_queries)', async () => {
    const a = await project('slow');
    await sql(a.uri, 'SELECT 42 AS marker_own_statement');
    const rows = await sql<{ query: string }>(
      a.uri,
      "SELECT query FROM pg_stat_statements WHERE query LIKE '%marker_own_statement%' AND query NOT LIKE '%pg_stat_statements%'",
    );
    expect(rows.length).toBeGreaterThan(0);
  }, 60_000);
});
