/**
 * The change ledger beyond SQL in local mode, end to end: a real MCP client → the server → the local API
 * (in-process, as `neon-mcp --local` starts it) → a real PostgreSQL. reset_branch_from_parent and
 * delete_database are recorded, and undo_change brings back the rows and the database, checked in
 * PostgreSQL. Every request and answer of the local API is checked against Neon's OpenAPI description.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { confirmed } from './confirm-token.js';
import { connect } from './helpers.js';
import { useLocalOnPostgres } from './local-on-postgres.js';

const harness = useLocalOnPostgres();
const { api, sql } = harness;

/** A project whose main branch has 100 orders, and a child branch `dev` that kept 10 of them. */
async function world(name: string) {
  const made = await api().post('/projects', { body: { project: { name } } });
  const project_id = made.project.id;
  const main = made.branch.id;
  await sql(
    project_id,
    main,
    'CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); ' +
      "INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 100) g",
  );
  const child = await api().post('/projects/{project_id}/branches', {
    path: { project_id },
    body: { branch: { name: 'dev', parent_id: main } },
  });
  const dev = child.branch.id;
  await sql(project_id, dev, 'DELETE FROM orders WHERE id > 10');
  const conn = await connect({
    apiKey: harness.local.apiKey,
    toolsets: ['branches', 'databases', 'roles', 'sql', 'safety'],
    clientOptions: { baseUrl: harness.local.baseUrl, fetch: harness.fetch },
  });
  return { project_id, main, dev, conn };
}

const count = async (project_id: string, branch_id: string, database = 'neondb') =>
  (await sql<{ n: number }>(project_id, branch_id, 'SELECT count(*)::int AS n FROM orders', database))[0]?.n;

const branchNames = async (project_id: string) =>
  (await api().get('/projects/{project_id}/branches', { path: { project_id } })).branches
    .map((b) => b.name)
    .sort();

describe('reset and delete_database recorded in local mode', () => {
  it("reset_branch_from_parent then undo_change: the branch's rows as before the reset", async () => {
    const { project_id, dev, conn } = await world('ops-reset');
    try {
      const reset = await confirmed(conn, 'reset_branch_from_parent', { project_id, branch_id: dev });
      expect(reset.change).toMatchObject({ recorded: true });
      expect(await count(project_id, dev)).toBe(100);
      const id = reset.change.change_id;
      expect(await branchNames(project_id)).toEqual([
        'dev',
        'main',
        `mcp-change-${id}`,
        `mcp-change-${id}-before`,
      ]);
      const { changes } = await conn.ok('list_changes', { project_id, branch_id: dev });
      expect(changes).toMatchObject([
        { id, tool: 'reset_branch_from_parent', restore: 'copy', undoable: true },
      ]);
      const undone = await confirmed(conn, 'undo_change', { project_id, branch_id: dev });
      expect(undone.undone[0].id).toBe(id);
      expect(await count(project_id, dev)).toBe(10);
      expect(
        (await sql<{ id: number }>(project_id, dev, 'SELECT id FROM orders ORDER BY id')).map((r) => r.id),
      ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      // The reset state is kept by the undo, and the branch still takes writes.
      expect(await count(project_id, undone.preserved_branch_id)).toBe(100);
      await sql(project_id, dev, "INSERT INTO orders VALUES (500, 'after')");
    } finally {
      await conn.close();
    }
  }, 120_000);

  it('delete_database then undo_change: the database and its rows are back', async () => {
    const { project_id, dev, conn } = await world('ops-dropdb');
    try {
      await conn.ok('create_database', { project_id, branch_id: dev, name: 'shop' });
      await sql(
        project_id,
        dev,
        "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'shop ' || g FROM generate_series(1, 7) g",
        'shop',
      );
      const del = await conn.ok('delete_database', { project_id, branch_id: dev, database: 'shop' });
      expect(del).toMatchObject({ deleted: true, change: { recorded: true } });
      const inPostgres = async () =>
        (
          await harness.server.query<{ datname: string }>(
            'postgres',
            "SELECT datname FROM pg_database WHERE datname LIKE '%shop%'",
          )
        ).length;
      const physicalBefore = await inPostgres();
      const { databases } = await conn.ok('list_databases', { project_id, branch_id: dev });
      expect(databases.map((d: { name: string }) => d.name)).toEqual(['neondb']);
      const { changes } = await conn.ok('list_changes', { project_id });
      expect(changes[0]).toMatchObject({
        tool: 'delete_database',
        branch_id: dev,
        summary: 'delete database shop',
      });
      await confirmed(conn, 'undo_change', { project_id, change_id: del.change.change_id });
      const after = await conn.ok('list_databases', { project_id, branch_id: dev });
      expect(after.databases.map((d: { name: string }) => d.name).sort()).toEqual(['neondb', 'shop']);
      expect(await count(project_id, dev, 'shop')).toBe(7);
      expect(await count(project_id, dev)).toBe(10);
      expect(await inPostgres()).toBeGreaterThan(physicalBefore);
    } finally {
      await conn.close();
    }
  }, 120_000);
});

/**
 * Why create_role and delete_role are not recorded (docs/SAFETY-NET.md): what an undo (a restore from
 * a copy) does to roles made or deleted after the restore point, measured here.
 */
describe('roles across an undo in local mode', () => {
  it('a role created after the restore point stays; a role deleted after it comes back', async () => {
    const { project_id, dev, conn } = await world('ops-roles');
    const roles = async () =>
      (await conn.ok('list_roles', { project_id, branch_id: dev })).roles
        .map((r: { name: string }) => r.name)
        .sort();
    try {
      await conn.ok('create_role', { project_id, branch_id: dev, name: 'doomed' });
      const write = await conn.ok('run_sql', {
        project_id,
        branch_id: dev,
        sql: 'DELETE FROM orders WHERE id = 1',
      });
      expect(write.change.recorded).toBe(true);
      await conn.ok('create_role', { project_id, branch_id: dev, name: 'later' });
      await conn.ok('delete_role', { project_id, branch_id: dev, role: 'doomed' });
      expect(await roles()).toEqual(['later', 'neondb_owner']);
      await confirmed(conn, 'undo_change', { project_id, change_id: write.change.change_id });
      // Not as at the restore point: 'later' was made after it and is still there.
      expect(await roles()).toEqual(['doomed', 'later', 'neondb_owner']);
      // And in PostgreSQL: it logs in again.
      const { uri } = await api().get('/projects/{project_id}/connection_uri', {
        path: { project_id },
        query: { branch_id: dev, database_name: 'neondb', role_name: 'doomed' },
      });
      const c = new pg.Client({ connectionString: uri });
      await c.connect();
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await c.end();
      expect(await count(project_id, dev)).toBe(10);
    } finally {
      await conn.close();
    }
  }, 120_000);
});
