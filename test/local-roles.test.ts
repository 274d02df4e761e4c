/**
 * Roles made with SQL in local mode (issue 26 item 2): a read-only role made by create_role is listed by
 * list_roles, gets a connection string later (a new password set with SQL, said so) and is deleted by
 * delete_role, after which PostgreSQL has no such role. Local mode keeps roles cluster-wide under
 * physical names: the listing must show neither those of the branch's Neon roles nor another branch's
 * roles. On a real embedded PostgreSQL started by startLocal({ dir }), in-process, as `neon-mcp --local
 * DIR` does.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { connections } from '../src/sql/pools.js';
import { connect } from './helpers.js';

let dir: string;
let local: LocalMode | undefined;
let conn: Awaited<ReturnType<typeof connect>>;

/** The embedded server's superuser, from what local mode keeps in DIR. */
function superuserUri(database: string): string {
  const pw = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
  const port = readFileSync(join(dir, 'port'), 'utf8').trim();
  return `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}?sslmode=disable`;
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

async function rolesNamed(name: string): Promise<number> {
  const c = new pg.Client({ connectionString: superuserUri('postgres') });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [name]);
    return rows[0].n;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-roles-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter DIR.
  chmodSync(dir, 0o755);
  local = await startLocal({ dir, beforeCopy: (id) => connections.closeTagged(id) });
  conn = await connect({
    apiKey: local.apiKey,
    clientOptions: { baseUrl: local.baseUrl },
    toolsets: ['projects', 'roles', 'databases', 'branches', 'sql'],
  });
}, 180_000);

afterAll(async () => {
  await conn?.close();
  await connections.closeAll();
  await local?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('roles made with SQL in local mode', () => {
  it('a read-only role made by create_role: listed, a connection string later, deleted, gone from pg_roles', async () => {
    const { projects } = await conn.ok('list_projects', {});
    const project_id = projects[0].id;
    const { branches } = await conn.ok('list_branches', { project_id });
    const branch_id = branches.find((b: any) => b.default).id;
    await conn.ok('run_sql', {
      project_id,
      sql: 'CREATE TABLE lr_items AS SELECT 1 AS id',
    });
    // Another branch's role (made with SQL there) is no role of this branch.
    const other = await conn.ok('create_branch', { project_id, name: 'lr-other' });
    const otherId = other.branch?.id ?? other.branch_id;
    await conn.ok('create_role', {
      project_id,
      branch_id: otherId,
      name: 'lr_elsewhere',
      access: 'read_only',
    });

    const made = await conn.ok('create_role', { project_id, branch_id, name: 'lr_ro', access: 'read_only' });
    const list = await conn.ok('list_roles', { project_id, branch_id });
    expect(list.roles).toEqual([
      expect.objectContaining({ name: 'neondb_owner' }),
      { name: 'lr_ro', made_with: 'sql', access: 'read_only', made_by: 'create_role' },
    ]);
    expect(list.sql_roles_note).toBeUndefined();

    const cs = await conn.ok('get_connection_string', { project_id, branch_id, role: 'lr_ro' });
    expect(cs.password_note).toMatch(/new password for role lr_ro, set with SQL/);
    expect(await sqlstateOf(cs.uri, 'SELECT * FROM lr_items')).toBe('ok');
    expect(await sqlstateOf(cs.uri, 'INSERT INTO lr_items VALUES (2)')).toBe('42501');
    expect(await sqlstateOf(made.uri, 'SELECT 1')).toBe('28P01');

    const del = await conn.ok('delete_role', { project_id, branch_id, role: 'lr_ro' });
    expect(del).toMatchObject({ deleted: true, role: { name: 'lr_ro', made_with: 'sql' } });
    expect(await rolesNamed('lr_ro')).toBe(0);
    const after = await conn.ok('list_roles', { project_id, branch_id });
    expect(after.roles.map((r: any) => r.name)).toEqual(['neondb_owner']);
    const err = await conn.fails('get_role', { project_id, branch_id, role: 'lr_ro' });
    expect(err).toMatch(new RegExp(`get_role: role "lr_ro" was not found on branch ${branch_id}`));
    expect(await rolesNamed('lr_elsewhere')).toBe(1);
  });
});
