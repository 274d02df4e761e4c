/**
 * The safety net end to end in local mode: a real MCP client → the server → the local API (in-process,
 * as `neon-mcp --local` starts it) → a real PostgreSQL. Local projects have no history, so each write
 * gets a copy of its branch made just before it, and undo restores from that copy
 * (src/local/api/restore-from.ts). Every request and answer of the local API is checked against Neon's
 * OpenAPI description.
 */
import { describe, expect, it } from 'vitest';
import { confirmed } from './confirm-token.js';
import { connect } from './helpers.js';
import { useLocalOnPostgres } from './local-on-postgres.js';

const harness = useLocalOnPostgres();
const { api, sql } = harness;

async function world(name: string) {
  const made = await api().post('/projects', { body: { project: { name } } });
  const project_id = made.project.id;
  const branch_id = made.branch.id;
  await sql(
    project_id,
    branch_id,
    'CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); ' +
      "INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 100) g",
  );
  const conn = await connect({
    apiKey: harness.local.apiKey,
    toolsets: ['sql', 'schema', 'safety'],
    clientOptions: { baseUrl: harness.local.baseUrl, fetch: harness.fetch },
  });
  return { project_id, branch_id, conn };
}

const count = async (project_id: string, branch_id: string) =>
  (await sql<{ n: number }>(project_id, branch_id, 'SELECT count(*)::int AS n FROM orders'))[0]?.n;

describe('safety net in local mode', () => {
  it('DELETE FROM orders by run_sql is listed, undone with every row back, and the deleted state kept', async () => {
    const { project_id, branch_id, conn } = await world('undo-delete');
    try {
      const del = await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders' });
      expect(del.change).toMatchObject({ recorded: true });
      expect(await count(project_id, branch_id)).toBe(0);
      // The rows as they were just before the change, read on a temporary branch deleted after.
      const past = await conn.ok('run_sql_readonly', {
        project_id,
        sql: 'SELECT count(*)::int AS n, max(item) AS last FROM orders',
        as_of: del.change.change_id,
      });
      expect(past.rows).toEqual([{ n: 100, last: 'item 99' }]);
      expect(past).toMatchObject({ branch_id, as_of: { change: del.change.change_id } });
      expect(
        (await api().get('/projects/{project_id}/branches', { path: { project_id } })).branches
          .map((b) => b.name)
          .filter((n) => n.startsWith('mcp-asof-')),
      ).toEqual([]);
      // Local mode keeps no history: a time is refused with the reason, and nothing is left behind.
      expect(
        await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT 1', as_of: '2026-01-01T00:00:00Z' }),
      ).toMatch(/parent_timestamp is not available in local mode/);
      const { changes } = await conn.ok('list_changes', { project_id, branch_id });
      expect(changes).toMatchObject([
        { id: del.change.change_id, tool: 'run_sql', summary: 'DELETE FROM orders', undoable: true },
      ]);
      const undone = await confirmed(conn, 'undo_change', { project_id });
      expect(undone.undone[0].id).toBe(del.change.change_id);
      expect(await count(project_id, branch_id)).toBe(100);
      const rows = await sql<{ id: number; item: string }>(
        project_id,
        branch_id,
        'SELECT * FROM orders ORDER BY id',
      );
      expect(rows[99]).toEqual({ id: 100, item: 'item 100' });
      // The deleted state is a branch of its own, named after the change.
      expect(undone.preserved_branch).toBe(`undone-${del.change.change_id}`);
      expect(await count(project_id, undone.preserved_branch_id)).toBe(0);
      // The branch still takes writes by its own role afterwards.
      await sql(project_id, branch_id, "INSERT INTO orders VALUES (101, 'after')");
    } finally {
      await conn.close();
    }
  }, 120_000);

  it('describe_table and compare_schema as_of a change show the schema before an ALTER TABLE; nothing is left behind', async () => {
    const { project_id, branch_id, conn } = await world('as-of-schema');
    try {
      const alter = await conn.ok('run_sql', {
        project_id,
        sql: 'ALTER TABLE orders ADD COLUMN shipped boolean',
      });
      await conn.ok('run_sql', { project_id, sql: 'UPDATE orders SET shipped = true WHERE id <= 10' });
      const columns = (r: any) => r.table.columns.map((c: { name: string }) => c.name);
      expect(columns(await conn.ok('describe_table', { project_id, table: 'orders' }))).toEqual([
        'id',
        'item',
        'shipped',
      ]);
      const before = await conn.ok('describe_table', {
        project_id,
        table: 'orders',
        as_of: alter.change.change_id,
      });
      expect(columns(before)).toEqual(['id', 'item']);
      expect(before).toMatchObject({ branch_id, as_of: { change: alter.change.change_id } });
      const cmp = await conn.ok('compare_schema', { project_id, branch_id, as_of: alter.change.change_id });
      expect(cmp.summary).toEqual(['column shipped of public.orders: added']);
      expect(cmp).toMatchObject({ branch_id, base_branch_id: branch_id });
      // A failed read deletes its temporary branch too.
      expect(
        await conn.fails('run_sql_readonly', {
          project_id,
          sql: 'SELECT * FROM nowhere',
          as_of: alter.change.change_id,
        }),
      ).toMatch(/nowhere/);
      expect(
        (await api().get('/projects/{project_id}/branches', { path: { project_id } })).branches
          .map((b) => b.name)
          .filter((n) => n.startsWith('mcp-asof-')),
      ).toEqual([]);
    } finally {
      await conn.close();
    }
  }, 120_000);

  it('a migration completed then undone leaves the schema as before', async () => {
    const { project_id, branch_id, conn } = await world('undo-migration');
    try {
      const before = (await conn.ok('get_branch_schema', { project_id })).sql;
      const prepared = await conn.ok('prepare_database_migration', {
        project_id,
        migration_sql:
          'ALTER TABLE orders ADD COLUMN shipped boolean NOT NULL DEFAULT false; DROP TABLE IF EXISTS nothing;',
      });
      const done = await conn.ok('complete_database_migration', {
        project_id,
        migration_id: prepared.migration_id,
      });
      expect(done.change).toMatchObject({ recorded: true });
      expect((await conn.ok('get_branch_schema', { project_id })).sql).toContain('shipped');
      const { changes } = await conn.ok('list_changes', { project_id });
      expect(changes[0]).toMatchObject({ tool: 'complete_database_migration', branch_id });
      await confirmed(conn, 'undo_change', { project_id, change_id: done.change.change_id });
      expect((await conn.ok('get_branch_schema', { project_id })).sql).toBe(before);
      expect(await count(project_id, branch_id)).toBe(100);
    } finally {
      await conn.close();
    }
  }, 120_000);
});
