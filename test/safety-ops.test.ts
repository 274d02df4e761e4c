/**
 * The change ledger beyond SQL, through a real MCP client on the Neon fake backed by real PostgreSQL
 * (src/neon/ledger.ts PendingRestore and PendingChange.copying): reset_branch_from_parent,
 * restore_branch and delete_database are recorded, listed, and undone. A reset or restore keeps the old
 * state under preserve_under_name (the person's, or a hidden mcp-change-<id>-before), and its record is
 * a copy of it; delete_database's restore point is a copy of the branch made just before it.
 */
import { describe, expect, it } from 'vitest';
import { confirmed, confirmToken } from './confirm-token.js';
import { connect, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api, {
  rootSetup: async (db) => {
    await db.query(
      'CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); ' +
        "INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 50) g",
    );
  },
});

/** A project with a child branch `dev` of main that lost rows 11 to 50. */
async function world(history: number) {
  const { project, branch } = api.fake.seedProject('safety-ops');
  project.history_retention_seconds = history;
  const project_id = project.id as string;
  await dbs.ensure(branch.id);
  const dev = api.fake.makeBranch(project_id, { name: 'dev', parent_id: branch.id });
  for (const d of api.fake.databasesOf(branch.id)) api.fake.makeDatabase(dev.id, d.name, d.owner_name);
  for (const r of api.fake.rolesOf(branch.id)) api.fake.makeRole(dev.id, r.name, { password: r.password });
  await dbs.query(dev.id, 'DELETE FROM orders WHERE id > 10');
  return { project_id, main: branch.id as string, dev: dev.id as string };
}

const count = async (branch: string) =>
  Number((await dbs.query<{ n: string }>(branch, 'SELECT count(*) AS n FROM orders'))[0]?.n);

const names = (project_id: string) =>
  api.fake
    .branchesOf(project_id)
    .map((b) => b.name as string)
    .sort();

describe('reset and restore recorded on the fake', () => {
  for (const history of [0, 86_400]) {
    it(`reset_branch_from_parent is listed and undone: the branch's rows as before (history ${history})`, async () => {
      const { project_id, dev } = await world(history);
      const conn = await connect({ toolsets: ['branches', 'safety'] });
      try {
        expect(await count(dev)).toBe(10);
        const reset = await confirmed(conn, 'reset_branch_from_parent', { project_id, branch_id: dev });
        expect(await count(dev)).toBe(50);
        expect(reset.change).toMatchObject({
          recorded: true,
          change_id: expect.stringMatching(/^[0-9a-f]{12}$/),
        });
        const id = reset.change.change_id;
        // The old state is kept under a hidden name, not shown as a branch of the person's.
        expect(reset.preserved_branch).toBeUndefined();
        expect(names(project_id)).toEqual(['dev', 'main', `mcp-change-${id}`, `mcp-change-${id}-before`]);
        expect(
          (await conn.ok('list_branches', { project_id })).branches
            .map((b: { name: string }) => b.name)
            .sort(),
        ).toEqual(['dev', 'main']);
        const before = api.fake.branchesOf(project_id).find((b) => b.name === `mcp-change-${id}-before`);
        expect(before?.expires_at).toBeDefined();

        const { changes } = await conn.ok('list_changes', { project_id });
        expect(changes).toHaveLength(1);
        expect(changes[0]).toMatchObject({
          id,
          tool: 'reset_branch_from_parent',
          branch_id: dev,
          restore: 'copy',
          undoable: true,
        });
        expect(changes[0].summary).toMatch(/^reset from parent br-/);

        const undone = await confirmed(conn, 'undo_change', { project_id, change_id: id });
        expect(await count(dev)).toBe(10);
        // The reset state is kept by the undo.
        expect(await count(undone.preserved_branch_id)).toBe(50);
      } finally {
        await conn.close();
      }
    }, 60_000);
  }

  it("restore_branch with the person's preserve_under_name: that branch shown, the record a copy of it", async () => {
    const { project_id, main, dev } = await world(0);
    const conn = await connect({ toolsets: ['branches', 'safety'] });
    try {
      const restored = await confirmed(conn, 'restore_branch', {
        project_id,
        branch_id: dev,
        source_branch_id: main,
        preserve_under_name: 'dev-old',
      });
      expect(restored.preserved_branch.name).toBe('dev-old');
      expect(restored.change.recorded).toBe(true);
      expect(await count(dev)).toBe(50);
      expect(await count(restored.preserved_branch.id)).toBe(10);
      const record = api.fake
        .branchesOf(project_id)
        .find((b) => b.name === `mcp-change-${restored.change.change_id}`);
      expect(record?.parent_id).toBe(restored.preserved_branch.id);
      expect(names(project_id)).not.toContain(`mcp-change-${restored.change.change_id}-before`);
      const { changes, note } = await conn.ok('list_changes', { project_id, branch_id: dev });
      expect(changes[0]).toMatchObject({ tool: 'restore_branch', summary: `restore from branch ${main}` });
      // The note names what is recorded, restores among them, and what is not.
      expect(note).toMatch(/resets and restores of a branch, and deleted databases; not roles\./);
      await confirmed(conn, 'undo_change', { project_id, branch_id: dev });
      expect(await count(dev)).toBe(10);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('a reset whose operation failed: the state kept is recorded all the same, never left unbounded', async () => {
    const { project_id, dev } = await world(86_400);
    const conn = await connect({ toolsets: ['branches', 'safety'] });
    try {
      const args = { project_id, branch_id: dev };
      const confirm = await confirmToken(conn, 'reset_branch_from_parent', args);
      api.fake.failNextOperation = 'disk full';
      expect(await conn.fails('reset_branch_from_parent', { ...args, confirm })).toMatch(/disk full/);
      const { changes } = await conn.ok('list_changes', { project_id });
      expect(changes).toMatchObject([{ tool: 'reset_branch_from_parent', branch_id: dev }]);
      const before = api.fake
        .branchesOf(project_id)
        .find((b) => b.name === `mcp-change-${changes[0].id}-before`);
      expect(before?.expires_at).toBeDefined();
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('a reset the person did not confirm records nothing and makes no branch', async () => {
    const { project_id, dev } = await world(0);
    const conn = await connect({ toolsets: ['branches', 'safety'] });
    try {
      const before = names(project_id);
      expect(await conn.fails('reset_branch_from_parent', { project_id, branch_id: dev })).toMatch(/confirm/);
      expect(names(project_id)).toEqual(before);
      expect((await conn.ok('list_changes', { project_id })).changes).toEqual([]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('a branch with children of its own and no preserve_under_name: refused by Neon as before, nothing recorded', async () => {
    const { project_id, dev } = await world(0);
    api.fake.makeBranch(project_id, { name: 'dev-child', parent_id: dev });
    const conn = await connect({ toolsets: ['branches', 'safety'] });
    try {
      const refusal = await conn.fails('reset_branch_from_parent', { project_id, branch_id: dev });
      const token = /confirm: "(nmc1\.[^"]+)"/.exec(refusal)?.[1];
      expect(
        await conn.fails('reset_branch_from_parent', { project_id, branch_id: dev, confirm: token }),
      ).toMatch(/preserve_under_name is required/);
      expect(names(project_id)).toEqual(['dev', 'dev-child', 'main']);
      expect(await count(dev)).toBe(10);
    } finally {
      await conn.close();
    }
  }, 60_000);
});

describe('deleting a branch with restore points', () => {
  it("deletes the branch's restore points with it; a child of the person's still refuses it", async () => {
    const { project_id, dev } = await world(86_400);
    const conn = await connect({ toolsets: ['branches', 'safety'] });
    try {
      await confirmed(conn, 'reset_branch_from_parent', { project_id, branch_id: dev });
      expect(names(project_id).filter((n) => n.startsWith('mcp-change-'))).toHaveLength(2);
      const mine = api.fake.makeBranch(project_id, { name: 'mine', parent_id: dev });
      expect(await conn.fails('delete_branch', { project_id, branch_id: dev })).toMatch(/children/);
      expect(names(project_id).filter((n) => n.startsWith('mcp-change-'))).toHaveLength(2);
      await conn.ok('delete_branch', { project_id, branch_id: mine.id });
      await conn.ok('delete_branch', { project_id, branch_id: dev });
      expect(names(project_id)).toEqual(['main']);
    } finally {
      await conn.close();
    }
  }, 60_000);
});

describe('delete_database recorded on the fake', () => {
  it('is listed with a copy made just before it, and undo restores the branch from that copy', async () => {
    const { project_id, dev } = await world(86_400);
    const conn = await connect({ toolsets: ['databases', 'safety'] });
    try {
      const del = await conn.ok('delete_database', { project_id, branch_id: dev, database: 'neondb' });
      expect(del).toMatchObject({ deleted: true, change: { recorded: true } });
      const id = del.change.change_id;
      const copy = api.fake.branchesOf(project_id).find((b) => b.name === `mcp-change-${id}`);
      expect(copy?.parent_id).toBe(dev);
      // The copy holds the database as it was (the fake gives it the databases of its parent then).
      expect(api.fake.databasesOf(copy?.id).map((d) => d.name)).toEqual(['neondb']);
      expect(api.fake.databasesOf(dev)).toEqual([]);
      const { changes } = await conn.ok('list_changes', { project_id });
      expect(changes[0]).toMatchObject({
        id,
        tool: 'delete_database',
        branch_id: dev,
        restore: 'copy',
        summary: 'delete database neondb',
        undoable: true,
      });
      await confirmed(conn, 'undo_change', { project_id, change_id: id });
      const restore = api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/restore'));
      expect(restore.map((r) => r.body)).toEqual([
        { source_branch_id: copy?.id, preserve_under_name: `undone-${id}` },
      ]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('a deletion that fails: nothing recorded, no copy left', async () => {
    const { project_id, dev } = await world(0);
    const conn = await connect({ toolsets: ['databases', 'safety'] });
    try {
      await conn.ok('delete_database', { project_id, branch_id: dev, database: 'neondb' });
      expect(await conn.fails('delete_database', { project_id, branch_id: dev, database: 'neondb' })).toMatch(
        /not found/i,
      );
      expect((await conn.ok('list_changes', { project_id })).changes).toHaveLength(1);
      expect(names(project_id).filter((n) => n.startsWith('mcp-change-'))).toHaveLength(1);
    } finally {
      await conn.close();
    }
  }, 60_000);
});
