/**
 * The safety net through a real MCP client (src/tools/safety.ts, src/neon/ledger.ts): writes by run_sql
 * and run_sql_transaction recorded, listed, and undone on the Neon fake backed by real PostgreSQL. A
 * project without history (history_retention_seconds 0) gets copy restore points, which the fake backs
 * with real copies, so undo is checked on the data; a project with history gets LSN restore points,
 * checked by the restore request they make (PostgreSQL cannot go back to an LSN for the fake).
 */
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { confirmed } from './confirm-token.js';
import { BASE, connect, useMockApi } from './helpers.js';
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

function seed(history: number) {
  const { project, branch } = api.fake.seedProject('safety');
  project.history_retention_seconds = history;
  return { project_id: project.id as string, branch_id: branch.id as string };
}

const count = async (branch: string) =>
  Number((await dbs.query<{ n: string }>(branch, 'SELECT count(*) AS n FROM orders'))[0]?.n);

describe('safety net on the fake', () => {
  it('records a DELETE, lists it, and undoes it from a copy, keeping the deleted state as a branch', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const del = await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders' });
      expect(del.row_count).toBe(50);
      expect(del.change).toMatchObject({
        recorded: true,
        change_id: expect.stringMatching(/^[0-9a-f]{12}$/),
      });
      expect(await count(branch_id)).toBe(0);

      // A read is not recorded and makes no copy.
      const branchesBefore = api.fake.branchesOf(project_id).length;
      const read = await conn.ok('run_sql', { project_id, sql: 'SELECT count(*) FROM orders' });
      expect(read.change).toBeUndefined();
      expect(api.fake.branchesOf(project_id).length).toBe(branchesBefore);

      // The rows before the change: run_sql_readonly as_of its ID (on a temporary branch, deleted after).
      const past = await conn.ok('run_sql_readonly', {
        project_id,
        sql: 'SELECT count(*)::int AS n FROM orders',
        as_of: del.change.change_id,
      });
      expect(past.rows).toEqual([{ n: 50 }]);
      expect(past).toMatchObject({
        branch_id,
        as_of: { change: del.change.change_id, at: expect.any(String) },
      });
      expect(
        (await conn.ok('run_sql_readonly', { project_id, sql: 'SELECT count(*)::int AS n FROM orders' }))
          .rows,
      ).toEqual([{ n: 0 }]);
      for (const as_of of ['yesterday', '0/XYZ', '12345'])
        expect(await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT 1', as_of })).toMatch(
          /as_of "[^"]+" is neither a change ID from list_changes \(12 hex digits\), an LSN \(like 0\/1E19478\) nor an ISO time/,
        );
      expect(
        await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT 1', as_of: '1'.repeat(101) }),
      ).toMatch(/as_of.*at most 100 characters/);
      expect(
        await conn.fails('describe_table', { project_id, table: 'orders', as_of: '0123456789ab' }),
      ).toMatch(/no change 0123456789ab is recorded/);
      const listed = await conn.ok('list_changes', { project_id });
      expect(listed.changes).toHaveLength(1);
      expect(listed.changes[0]).toMatchObject({
        id: del.change.change_id,
        tool: 'run_sql',
        branch_id,
        summary: 'DELETE FROM orders',
        restore: 'copy',
        undoable: true,
      });

      const undone = await confirmed(conn, 'undo_change', { project_id, change_id: del.change.change_id });
      expect(undone.preserved_branch).toBe(`undone-${del.change.change_id}`);
      expect(undone.note).toMatch(/every write to it in the .* since, by anyone, is undone/);
      expect(await count(branch_id)).toBe(50);
      // The deleted state is kept under the change's name.
      expect(await count(undone.preserved_branch_id)).toBe(0);

      const after = await conn.ok('list_changes', { project_id });
      expect(after.changes[0].undone_as).toBe(undone.preserved_branch_id);
      expect(await conn.fails('undo_change', { project_id, change_id: del.change.change_id })).toMatch(
        /was undone already/,
      );
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('the confirmation says every write since then, by anyone, is undone, and names the keeping branch', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const first = await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders WHERE id <= 10' });
      await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders WHERE id > 40' });
      // The application writes too, without neon-mcp.
      await dbs.query(branch_id, 'DELETE FROM orders WHERE id = 20');
      const refusal = await conn.fails('undo_change', { project_id, change_id: first.change.change_id });
      expect(refusal).toMatch(/every write to branch "main" .* since .* by anyone/);
      expect(refusal).toMatch(new RegExp(`branch "undone-${first.change.change_id}" keeps them`));
      expect(await count(branch_id)).toBe(29);
      await confirmed(conn, 'undo_change', { project_id, change_id: first.change.change_id });
      // All three writes are undone, the application's included.
      expect(await count(branch_id)).toBe(50);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('a transaction that rolled back or only read is not recorded; one that wrote is', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'safety', 'branches'] });
    try {
      expect(
        await conn.fails('run_sql_transaction', {
          project_id,
          statements: ['DELETE FROM orders', 'SELECT 1/0'],
        }),
      ).toMatch(/division by zero/);
      const read = await conn.ok('run_sql_transaction', {
        project_id,
        statements: ['SELECT 1', 'SHOW work_mem'],
      });
      expect(read.change).toBeUndefined();
      const tx = await conn.ok('run_sql_transaction', {
        project_id,
        statements: ["UPDATE orders SET item = 'x' WHERE id <= 3", 'DELETE FROM orders WHERE id = 50'],
      });
      expect(tx.change.recorded).toBe(true);
      const listed = await conn.ok('list_changes', { project_id });
      expect(listed.changes.map((c: { id: string }) => c.id)).toEqual([tx.change.change_id]);
      // Only the copy of the recorded change is left.
      expect(
        api.fake
          .branchesOf(project_id)
          .map((b) => b.name)
          .sort(),
      ).toEqual(['main', `mcp-change-${tx.change.change_id}`]);
      // Listings count the restore point without showing it; a search shows it; completions leave it out.
      const listedBranches = await conn.ok('list_branches', { project_id });
      expect(listedBranches.branches.map((b: { name: string }) => b.name)).toEqual(['main']);
      expect(listedBranches.restore_points).toBe(1);
      expect(listedBranches.restore_points_note).toMatch(
        /^1 branch named mcp-change-… \(the safety net's restore points, made and pruned by the server\) not listed: list_changes shows what they undo; search "mcp-change" lists them\.$/,
      );
      const searched = await conn.ok('list_branches', { project_id, search: 'mcp-change' });
      expect(searched.branches.map((b: { name: string }) => b.name)).toEqual([
        `mcp-change-${tx.change.change_id}`,
      ]);
      expect(searched.restore_points).toBeUndefined();
      const view = JSON.parse(
        (
          (await conn.mcp.readResource({ uri: `neon://projects/${project_id}` })).contents[0] as {
            text: string;
          }
        ).text,
      );
      expect(view.branches.map((b: { name: string }) => b.name)).toEqual(['main']);
      expect(view.branches[0].children).toEqual([]);
      expect(view.restore_points).toBe(1);
      const offered = await conn.mcp.complete({
        ref: { type: 'ref/resource', uri: 'neon://projects/{project_id}/branches/{branch_id}/schema' },
        argument: { name: 'branch_id', value: '' },
        context: { arguments: { project_id } },
      });
      expect(offered.completion.values.join(' ')).not.toMatch(/mcp-change/);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('with history: the LSN read just before the write is what undo restores to', async () => {
    const { project_id, branch_id } = seed(86_400);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const before = (
        await dbs.admin<{ lsn: string }>(branch_id, 'SELECT pg_current_wal_insert_lsn()::text AS lsn')
      )[0]?.lsn;
      const del = await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders WHERE id > 25' });
      const after = (
        await dbs.admin<{ lsn: string }>(branch_id, 'SELECT pg_current_wal_insert_lsn()::text AS lsn')
      )[0]?.lsn;
      const [change] = (await conn.ok('list_changes', { project_id, branch_id })).changes;
      expect(change).toMatchObject({
        id: del.change.change_id,
        restore: 'history',
        rows: 25,
        undoable: true,
      });
      expect(change.note).toMatch(/within the project's history window \(24 h\)/);
      const lsn = (v: string) => BigInt(`0x${v.split('/')[0]}`) * 2n ** 32n + BigInt(`0x${v.split('/')[1]}`);
      expect(lsn(change.lsn)).toBeGreaterThanOrEqual(lsn(before as string));
      expect(lsn(change.lsn)).toBeLessThan(lsn(after as string));
      // The record branch is made from the default branch, without a compute.
      const record = api.fake.branchesOf(project_id).find((b) => b.name === `mcp-change-${change.id}`);
      expect(record?.parent_id).toBe(branch_id);
      expect(api.fake.endpointsOf(project_id, record?.id)).toEqual([]);

      // A read as of the change branches at its LSN, with an expiry, and deletes the branch after.
      const asOfBranches = () =>
        api.requests
          .filter(
            (r) =>
              r.method === 'POST' &&
              r.path.endsWith('/branches') &&
              (r.body as any)?.branch?.name?.startsWith('mcp-asof-'),
          )
          .map((r) => (r.body as { branch: Record<string, string> }).branch);
      const past = await conn.ok('run_sql_readonly', {
        project_id,
        sql: 'SELECT 1 AS one',
        as_of: change.id,
      });
      expect(past.as_of).toEqual({ change: change.id, at: change.at, lsn: change.lsn });
      expect(past.branch_id).toBe(branch_id);
      const [asOfBranch] = asOfBranches();
      expect(asOfBranch).toMatchObject({ parent_id: branch_id, parent_lsn: change.lsn });
      expect(Date.parse(asOfBranch?.expires_at ?? '')).toBeGreaterThan(Date.now());
      expect(Date.parse(asOfBranch?.expires_at ?? '')).toBeLessThanOrEqual(Date.now() + 3_600_000);
      expect(api.fake.branchesOf(project_id).some((b) => b.name.startsWith('mcp-asof-'))).toBe(false);

      // An LSN and a time read the branch at that point of its history.
      const byLsn = await conn.ok('run_sql_readonly', {
        project_id,
        sql: 'SELECT 1 AS one',
        as_of: change.lsn,
      });
      expect(byLsn.as_of).toEqual({ lsn: change.lsn });
      const at = new Date(Date.now() - 1_000).toISOString();
      const byTime = await conn.ok('describe_table', { project_id, table: 'orders', as_of: at });
      expect(byTime.as_of).toEqual({ timestamp: at.replace(/\.\d{3}Z$/, 'Z') });
      expect(asOfBranches().slice(1)).toMatchObject([
        { parent_id: branch_id, parent_lsn: change.lsn },
        { parent_id: branch_id, parent_timestamp: at.replace(/\.\d{3}Z$/, 'Z') },
      ]);
      expect(api.fake.branchesOf(project_id).some((b) => b.name.startsWith('mcp-asof-'))).toBe(false);

      await confirmed(conn, 'undo_change', { project_id, branch_id });
      const restore = api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/restore'));
      expect(restore.map((r) => r.body)).toEqual([
        { source_branch_id: branch_id, source_lsn: change.lsn, preserve_under_name: `undone-${change.id}` },
      ]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('describe_table, run_sql_readonly and compare_schema as_of a change read the branch before it; the temporary branch goes, on error too', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'schema', 'safety'] });
    const temps = () => api.fake.branchesOf(project_id).filter((b) => b.name.startsWith('mcp-asof-'));
    const columns = (r: any) => r.table.columns.map((c: { name: string }) => c.name);
    try {
      const alter = await conn.ok('run_sql', {
        project_id,
        sql: 'ALTER TABLE orders ADD COLUMN shipped boolean',
      });
      const del = await conn.ok('run_sql', { project_id, sql: 'DELETE FROM orders WHERE id > 10' });
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
      // Just before the DELETE: the column is there, and the 50 rows.
      const rows = await conn.ok('run_sql_readonly', {
        project_id,
        branch_id,
        sql: 'SELECT count(*)::int AS n, count(shipped)::int AS s FROM orders',
        as_of: del.change.change_id,
      });
      expect(rows.rows).toEqual([{ n: 50, s: 0 }]);

      // compare_schema: the base (default: the branch itself) as of the change, the branch as it is now.
      const cmp = await conn.ok('compare_schema', { project_id, branch_id, as_of: alter.change.change_id });
      expect(cmp.summary).toEqual(['column shipped of public.orders: added']);
      expect(cmp).toMatchObject({
        branch_id,
        base_branch_id: branch_id,
        as_of: { change: alter.change.change_id },
      });
      const since = await conn.ok('compare_schema', { project_id, branch_id, as_of: del.change.change_id });
      expect(since.identical).toBe(true);
      expect(temps()).toEqual([]);

      // A read that fails still deletes its temporary branch.
      expect(
        await conn.fails('run_sql_readonly', {
          project_id,
          sql: 'SELECT * FROM nowhere',
          as_of: del.change.change_id,
        }),
      ).toMatch(/nowhere/);
      expect(
        await conn.fails('describe_table', { project_id, table: 'nowhere', as_of: del.change.change_id }),
      ).toMatch(/nowhere/);
      expect(temps()).toEqual([]);
      // A change ID names its branch: another branch is refused, saying what to do.
      const other = api.fake.makeBranch(project_id, { name: 'other', parent_id: branch_id });
      expect(
        await conn.fails('run_sql_readonly', {
          project_id,
          branch_id: other.id,
          sql: 'SELECT 1',
          as_of: del.change.change_id,
        }),
      ).toMatch(/was made on branch .*, not .*: read that branch, or give as_of as a time or an LSN/);
    } finally {
      await conn.close();
    }
  }, 90_000);

  it('as_of where Neon refuses an expiry: the temporary branch is made once more without one; another refusal is not retried', async () => {
    const { project_id, branch_id } = seed(86_400);
    await dbs.ensure(branch_id);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    const asked: { expires: boolean }[] = [];
    let refusal = 'expires_at is not available for this project';
    api.use(
      http.post(`${BASE}/projects/:project_id/branches`, async ({ request }) => {
        const body = (await request.clone().json()) as { branch?: { name?: string; expires_at?: string } };
        if (!body.branch?.name?.startsWith('mcp-asof-')) return undefined;
        asked.push({ expires: Boolean(body.branch.expires_at) });
        if (body.branch.expires_at || !refusal.includes('expir'))
          return HttpResponse.json({ code: '', message: refusal }, { status: 400 });
        return undefined;
      }),
    );
    try {
      const at = new Date(Date.now() - 1_000).toISOString();
      const out = await conn.ok('run_sql_readonly', { project_id, sql: 'SELECT 1 AS one', as_of: at });
      expect(out.rows).toEqual([{ one: 1 }]);
      expect(asked).toEqual([{ expires: true }, { expires: false }]);
      expect(api.fake.branchesOf(project_id).some((b) => b.name.startsWith('mcp-asof-'))).toBe(false);

      asked.length = 0;
      refusal = 'branch limit reached';
      expect(await conn.fails('run_sql_readonly', { project_id, sql: 'SELECT 1 AS one', as_of: at })).toMatch(
        /branch limit reached/,
      );
      expect(asked).toEqual([{ expires: true }]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('--read-only refuses as_of (a temporary branch is a change), saying why; the tools stay, read-only, without it', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.ensure(branch_id);
    const conn = await connect({ readOnly: true });
    try {
      const { tools } = await conn.mcp.listTools();
      for (const name of ['run_sql_readonly', 'describe_table', 'compare_schema']) {
        const tool = tools.find((t) => t.name === name);
        expect(tool?.annotations?.readOnlyHint, name).toBe(true);
        expect(Object.keys(tool?.inputSchema.properties ?? {}), name).toContain('as_of');
      }
      const made = api.fake.branchesOf(project_id).length;
      for (const [tool, args] of [
        ['run_sql_readonly', { sql: 'SELECT 1' }],
        ['describe_table', { table: 'orders' }],
        ['compare_schema', { branch_id }],
      ] as const) {
        expect(await conn.fails(tool, { project_id, ...args, as_of: '2026-01-01T00:00:00Z' })).toMatch(
          new RegExp(
            `${tool}: as_of is refused: this server runs with --read-only, and a read as of a moment needs a temporary branch .*Leave as_of out`,
          ),
        );
      }
      expect(api.fake.branchesOf(project_id).length).toBe(made);
      expect(
        (await conn.ok('run_sql_readonly', { project_id, sql: 'SELECT count(*)::int AS n FROM orders' }))
          .rows,
      ).toEqual([{ n: 50 }]);
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('refuses what it cannot undo, with what to do', async () => {
    const { project_id } = seed(3600);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      expect(await conn.fails('undo_change', { project_id })).toMatch(
        /No change to undo is recorded on branch/,
      );
      expect(await conn.fails('undo_change', { project_id, change_id: '0123456789ab' })).toMatch(
        /No change 0123456789ab is recorded .* list_changes/,
      );
      expect(await conn.fails('undo_change', { project_id, change_id: 'nope' })).toMatch(/12 hex digits/);
    } finally {
      await conn.close();
    }
  });

  it('compare_data lists exactly the rows a transaction changed, by key, counts first', async () => {
    const { project_id, branch_id } = seed(0);
    await dbs.query(
      branch_id,
      "INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(51, 20000) g; " +
        "CREATE TABLE tags (name text PRIMARY KEY, n int); INSERT INTO tags SELECT 'tag-' || g, g FROM generate_series(1, 3000) g",
    );
    const child = api.fake.makeBranch(project_id, { name: 'dev', parent_id: branch_id });
    api.fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
    api.fake.makeRole(child.id, 'neondb_owner');
    await dbs.ensure(child.id);
    const conn = await connect({ toolsets: ['sql', 'safety'] });
    try {
      const same = await conn.ok('compare_data', { project_id, table: 'orders', branch_id: child.id });
      expect(same).toMatchObject({ added: 0, removed: 0, changed: 0, base_branch_id: branch_id });
      await conn.ok('run_sql_transaction', {
        project_id,
        branch_id: child.id,
        statements: [
          "UPDATE orders SET item = 'changed' WHERE id IN (7, 9000, 19999)",
          'DELETE FROM orders WHERE id IN (1, 12345)',
          "INSERT INTO orders VALUES (20001, 'new'), (-5, 'below')",
          "UPDATE tags SET n = 0 WHERE name IN ('tag-17', 'tag-2999')",
          "DELETE FROM tags WHERE name = 'tag-1000'",
        ],
      });
      const diff = await conn.ok('compare_data', { project_id, table: 'orders', branch_id: child.id });
      expect(diff).toMatchObject({ added: 2, removed: 2, changed: 3 });
      expect(diff.sample.added.map((r: { id: number }) => r.id)).toEqual([-5, 20001]);
      expect(diff.sample.removed.map((r: { id: number }) => r.id)).toEqual([1, 12345]);
      expect(diff.sample.changed[0]).toEqual({
        branch: { id: 7, item: 'changed' },
        base: { id: 7, item: 'item 7' },
      });
      // Not read whole: only small ranges were compared row by row.
      expect(diff.work.rows_compared).toBeLessThan(10_000);
      // A text key splits by the keys themselves.
      const tags = await conn.ok('compare_data', {
        project_id,
        table: 'public.tags',
        branch_id: child.id,
        base_branch_id: branch_id,
      });
      expect(tags).toMatchObject({ added: 0, removed: 1, changed: 2 });
      expect(tags.work.rows_compared).toBeLessThan(3000);
      await dbs.query(child.id, 'CREATE TABLE nokey (a int)');
      await dbs.query(branch_id, 'CREATE TABLE nokey (a int)');
      expect(await conn.fails('compare_data', { project_id, table: 'nokey', branch_id: child.id })).toMatch(
        /has no primary key/,
      );
    } finally {
      await conn.close();
    }
  }, 60_000);
});
