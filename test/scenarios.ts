/**
 * The everyday tasks of issue 9 (item 11) as scenarios, end to end: a real MCP client calls the tools
 * as an agent would, and each scenario then checks the outcome the agent would check, with Postgres
 * itself where it can (the data is there, the role cannot write, the index exists), through the
 * connection strings the tools hand out, plus how many tool calls the task took.
 *
 * Nothing here knows what is behind the server: `everydayScenarios` takes a backend (how to make a
 * project, how to connect a client), so the same scenarios run against the Neon fake with a real
 * PostgreSQL (test/scenarios.test.ts) and later against other backends (issue 14's local mode).
 */
import type { Client } from '@modelcontextprotocol/client';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { withToken } from './confirm-token.js';

/** What a scenario needs from a backend. */
export interface ScenarioBackend {
  /**
   * A new project of its own: a default branch `main` with a database `neondb` owned by the role
   * `neondb_owner`, and a read-write compute. Returns its ID.
   */
  project(name: string): Promise<string>;
  /** A real MCP client connected to a server on this backend (default toolsets unless told). */
  connect(options?: { readOnly?: boolean }): Promise<{ mcp: Client; close(): Promise<void> }>;
  /**
   * The name a role logs in with on the server, when the backend gives it another one (local mode
   * makes role names unique per branch on its one cluster). Default: the role's own name.
   */
  loginOf?(role: string): RegExp;
  /**
   * What this backend does not serve, and the words its refusal must contain (e.g. /local mode/): the
   * scenarios that need it then check that the tool answers a clear error instead.
   */
  notServed?: { snapshots?: RegExp };
}

type Result = Awaited<ReturnType<Client['callTool']>>;

/** The text of a result's first text block. */
const textOf = (res: Result) =>
  (res.content as { type: string; text?: string }[]).find((c) => c.type === 'text')?.text ?? '';

/** An agent's session: tool calls, counted (the checks a test makes on the side are not). */
class Agent {
  calls = 0;
  constructor(private readonly mcp: Client) {}

  async call(name: string, args: Record<string, unknown>): Promise<Result> {
    this.calls++;
    return this.mcp.callTool({ name, arguments: args });
  }

  /** A call that must succeed; its structured answer. */
  async ok<T = any>(name: string, args: Record<string, unknown>): Promise<T> {
    const res = await this.call(name, args);
    if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
    return res.structuredContent as T;
  }

  /** A call that must fail; its error text (what the agent reads to decide what to do next). */
  async fails(name: string, args: Record<string, unknown>): Promise<string> {
    const res = await this.call(name, args);
    if (!res.isError) throw new Error(`${name} was expected to fail but returned ${textOf(res)}`);
    return textOf(res);
  }

  /** The tools offered (tools/list, not a tool call). */
  async tools() {
    return (await this.mcp.listTools()).tools;
  }

  /** A check on the side: not one of the agent's calls. */
  async peek<T = any>(name: string, args: Record<string, unknown>): Promise<T> {
    const out = await this.ok<T>(name, args);
    this.calls--;
    return out;
  }
}

/** Runs SQL with a connection string as a client program would; rows, or the SQLSTATE it failed with. */
async function sqlAs(uri: string, sql: string): Promise<{ rows?: Record<string, unknown>[]; code?: string }> {
  const client = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return { rows: (await client.query(sql)).rows };
  } catch (e) {
    return { code: (e as { code?: string }).code ?? String(e) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The scenarios, as one `describe` block per backend. */
export function everydayScenarios(label: string, backend: ScenarioBackend): void {
  async function session<T>(fn: (agent: Agent) => Promise<T>, options?: { readOnly?: boolean }): Promise<T> {
    const { mcp, close } = await backend.connect(options);
    try {
      return await fn(new Agent(mcp));
    } finally {
      await close();
    }
  }

  /** The owner's connection string of a branch's database, asked for on the side. */
  const ownerUri = async (agent: Agent, project_id: string, branch_id?: string): Promise<string> =>
    (await agent.peek('get_connection_string', { project_id, ...(branch_id ? { branch_id } : {}) })).uri;

  const loginOf = (role: string) =>
    backend.loginOf?.(role) ?? new RegExp(`^${role.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

  describe(`everyday tasks (${label})`, () => {
    it('lists the projects, then the first one’s branches', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        const { projects } = await agent.ok('list_projects', {});
        expect(projects.map((p: { id: string }) => p.id)).toContain(project_id);
        const { branches } = await agent.ok('list_branches', { project_id: projects[0].id });
        expect(branches).toContainEqual(expect.objectContaining({ name: 'main', default: true }));
        expect(agent.calls).toBe(2);
      });
    });

    it('creates a branch with a compute and connects with the URI it returns', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        const out = await agent.ok('create_branch', { project_id, name: 'feature-login' });
        expect(out.branch.name).toBe('feature-login');
        const { rows } = await sqlAs(out.connection_uri, 'SELECT current_user AS who, 1 AS one');
        expect(rows).toEqual([{ who: expect.stringMatching(loginOf('neondb_owner')), one: 1 }]);
        expect(agent.calls).toBe(1);
      });
    });

    it('creates a table with rows and reads them back', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql_transaction', {
          project_id,
          statements: [
            'CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL)',
            "INSERT INTO customers VALUES (1, 'ada@example.com'), (2, 'bob@example.com')",
          ],
        });
        const read = await agent.ok('run_sql_readonly', {
          project_id,
          sql: 'SELECT id, email FROM customers ORDER BY id',
        });
        expect(read.rows).toEqual([
          { id: 1, email: 'ada@example.com' },
          { id: 2, email: 'bob@example.com' },
        ]);
        expect(agent.calls).toBe(2);
        // Really there, for any other client of the database.
        const seen = await sqlAs(
          await ownerUri(agent, project_id),
          'SELECT count(*)::int AS n FROM customers',
        );
        expect(seen.rows).toEqual([{ n: 2 }]);
      });
    });

    it('diffs a branch’s schema with its parent, column by column', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', {
          project_id,
          sql: 'CREATE TABLE orders (id int PRIMARY KEY, total numeric)',
        });
        const dev = await agent.ok('create_branch', { project_id, name: 'dev', compute: true });
        await agent.ok('run_sql', {
          project_id,
          branch_id: 'dev',
          sql: 'ALTER TABLE orders ADD COLUMN note text',
        });
        const cmp = await agent.ok('compare_schema', { project_id, branch_id: 'dev' });
        expect(cmp.identical).toBe(false);
        expect(cmp.diff).toMatch(/^\+\s+note text$/m);
        expect(cmp.diff).toMatch(/orders/);
        expect(agent.calls).toBe(4);
        // The parent is untouched.
        const main = await sqlAs(
          await ownerUri(agent, project_id),
          "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'orders'",
        );
        expect(main.rows).toEqual([{ n: 2 }]);
        expect(dev.branch.id).toMatch(/^br-/);
      });
    });

    it('migrates safely: prepares on a temporary branch, verifies there, completes on the parent', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql_transaction', {
          project_id,
          statements: [
            'CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL)',
            "INSERT INTO users VALUES (1, 'ada'), (2, 'bob')",
          ],
        });
        const prep = await agent.ok('prepare_database_migration', {
          project_id,
          migration_sql:
            "ALTER TABLE users ADD COLUMN email text; UPDATE users SET email = name || '@example.com'; ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
          verify_sql: 'SELECT count(*)::int AS missing FROM users WHERE email IS NULL',
        });
        expect(prep.verify.rows).toEqual([{ missing: 0 }]);
        // Verified on the temporary branch, while the parent has no such column yet.
        const temp = await agent.ok('run_sql_readonly', {
          project_id,
          branch_id: prep.temp_branch_id,
          sql: 'SELECT email FROM users ORDER BY id',
        });
        expect(temp.rows).toEqual([{ email: 'ada@example.com' }, { email: 'bob@example.com' }]);
        const before = await sqlAs(await ownerUri(agent, project_id), 'SELECT email FROM users');
        expect(before.code).toBe('42703');
        const done = await agent.ok('complete_database_migration', {
          project_id,
          migration_id: prep.migration_id,
        });
        expect(done.applied).toBe(true);
        expect(agent.calls).toBe(4);
        const after = await sqlAs(await ownerUri(agent, project_id), 'SELECT email FROM users ORDER BY id');
        expect(after.rows).toEqual([{ email: 'ada@example.com' }, { email: 'bob@example.com' }]);
        const { branches } = await agent.peek('list_branches', { project_id });
        expect(branches.map((b: { id: string }) => b.id)).not.toContain(prep.temp_branch_id);
      });
    });

    it('explains a slow query, tries an index on a temporary branch, then applies it', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql_transaction', {
          project_id,
          statements: [
            'CREATE TABLE events (id serial PRIMARY KEY, account_id int NOT NULL, payload text)',
            "INSERT INTO events (account_id, payload) SELECT g % 2000, 'x' FROM generate_series(1, 40000) g",
            'ANALYZE events',
          ],
        });
        const query = 'SELECT * FROM events WHERE account_id = $1';
        const plan = await agent.ok('explain_sql', { project_id, sql: query, params: [7] });
        expect(JSON.stringify(plan.plan)).toMatch(/Seq Scan on events/);
        const ddl = 'CREATE INDEX events_account_idx ON events (account_id)';
        const tune = await agent.ok('prepare_query_tuning', {
          project_id,
          sql: query,
          params: [7],
          ddl: [ddl],
        });
        expect(tune.comparison.verdict).toBe('faster');
        await agent.ok('complete_query_tuning', { project_id, tuning_id: tune.tuning_id, apply: true });
        expect(agent.calls).toBe(4);
        const idx = await sqlAs(
          await ownerUri(agent, project_id),
          "SELECT indexname FROM pg_indexes WHERE tablename = 'events' ORDER BY 1",
        );
        expect(idx.rows).toEqual([{ indexname: 'events_account_idx' }, { indexname: 'events_pkey' }]);
      });
    });

    it('resets a branch from its parent, then deletes it', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', { project_id, sql: 'CREATE TABLE notes (id int)' });
        const dev = await agent.ok('create_branch', { project_id, name: 'scratch' });
        const scratch = dev.branch.id as string;
        await agent.ok('run_sql', { project_id, branch_id: scratch, sql: 'CREATE TABLE junk (id int)' });
        await agent.ok(
          'reset_branch_from_parent',
          await withToken(agent, 'reset_branch_from_parent', { project_id, branch_id: 'scratch' }),
        );
        // The branch has its parent's data again: the table made on it is gone, the parent's is there.
        const tables = await agent.ok('list_tables', { project_id, branch_id: scratch });
        const names = JSON.stringify(tables);
        expect(names).toContain('notes');
        expect(names).not.toContain('junk');
        await agent.ok('delete_branch', { project_id, branch_id: 'scratch' });
        // Six calls, and the refusal that hands out the reset's confirmation token (no forms here); a
        // branch neither default nor protected is deleted without one.
        expect(agent.calls).toBe(7);
        const { branches } = await agent.peek('list_branches', { project_id });
        expect(branches.map((b: { id: string }) => b.id)).not.toContain(scratch);
        expect(await agent.fails('get_branch', { project_id, branch_id: scratch })).toMatch(/not found|404/i);
      });
    });

    it('makes a read-only role, which can read and cannot write', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql_transaction', {
          project_id,
          statements: ['CREATE TABLE sales (id int, amount int)', 'INSERT INTO sales VALUES (1, 10)'],
        });
        // roles is one enable_toolsets call away (it does not fit the default token budget).
        await agent.ok('enable_toolsets', { toolsets: ['roles'] });
        const made = await agent.ok('create_role', { project_id, name: 'analytics', access: 'read_only' });
        expect(made.role).toMatchObject({ name: 'analytics', access: 'read_only' });
        expect(agent.calls).toBe(3);
        expect(await sqlAs(made.uri, 'SELECT sum(amount)::int AS total FROM sales')).toEqual({
          rows: [{ total: 10 }],
        });
        for (const write of [
          'INSERT INTO sales VALUES (2, 20)',
          'UPDATE sales SET amount = 0',
          'DELETE FROM sales',
          'TRUNCATE sales',
          'CREATE TABLE mine (id int)',
        ])
          expect((await sqlAs(made.uri, write)).code, write).toBe('42501');
        // Also on a table made after the role.
        await agent.peek('run_sql', { project_id, sql: 'CREATE TABLE refunds (id int)' });
        expect((await sqlAs(made.uri, 'SELECT * FROM refunds')).rows).toEqual([]);
        expect((await sqlAs(made.uri, 'INSERT INTO refunds VALUES (1)')).code).toBe('42501');
      });
    });

    // Issue 26 item 2: the role the agent made is one it can find, connect as later, and remove.
    it('makes a read-only role, finds it, gets its connection string later, deletes it', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', { project_id, sql: 'CREATE TABLE visits AS SELECT 1 AS id' });
        await agent.ok('enable_toolsets', { toolsets: ['roles'] });
        await agent.ok('create_role', { project_id, name: 'eco_reader', access: 'read_only' });
        const { roles } = await agent.ok('list_roles', { project_id });
        expect(roles).toContainEqual({
          name: 'eco_reader',
          made_with: 'sql',
          access: 'read_only',
          made_by: 'create_role',
        });
        const later = await agent.ok('get_connection_string', { project_id, role: 'eco_reader' });
        expect(later.password_note).toMatch(/set with SQL/);
        expect((await sqlAs(later.uri, 'SELECT count(*)::int AS n FROM visits')).rows).toEqual([{ n: 1 }]);
        expect((await sqlAs(later.uri, 'DELETE FROM visits')).code).toBe('42501');
        await agent.ok('delete_role', { project_id, branch_id: 'main', role: 'eco_reader' });
        expect(agent.calls).toBe(6);
        const gone = await agent.peek('run_sql_readonly', {
          project_id,
          sql: "SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'eco_reader'",
        });
        expect(gone.rows).toEqual([{ n: 0 }]);
      });
    });

    // Issue 26 items 4 and 6, issue 27 item 7: three branches in one call each way, each with an expiry.
    it('makes three branches in one call and deletes them in one call', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        const made = await agent.ok('create_branch', { project_id, names: ['try-a', 'try-b', 'try-c'] });
        expect(made.summary).toBe('3 of 3 branches created.');
        for (const b of made.branches) {
          expect(b.parent).toMatchObject({ name: 'main' });
          expect(Date.parse(b.branch.expires_at) - Date.now()).toBeGreaterThan(6 * 86_400_000);
          expect(b.expiry).toMatch(/^Neon deletes this branch at /);
          expect((await sqlAs(b.connection_uri, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        }
        const del = await agent.ok('delete_branch', { project_id, branch_ids: ['try-a', 'try-b', 'try-c'] });
        expect(del.summary).toBe('3 of 3 branches deleted.');
        expect(agent.calls).toBe(2);
        const { branches } = await agent.peek('list_branches', { project_id });
        expect(branches.map((b: { name: string }) => b.name)).toEqual(['main']);
      });
    });

    // Issue 26 item 3: a table never analysed is not reported as empty.
    it('counts the rows of a table never analysed', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', {
          project_id,
          sql: 'CREATE TABLE clicks AS SELECT g AS id FROM generate_series(1, 5000) g',
        });
        const { tables } = await agent.ok('list_tables', { project_id });
        const clicks = tables.find((t: { name: string }) => t.name === 'clicks');
        expect(clicks.row_count).toBe(5000);
        expect(clicks.row_estimate).toBeUndefined();
        expect(agent.calls).toBe(2);
      });
    });

    // Issue 26 item 1: answers sized by what changed, not by the database (300 tables).
    it('on 300 tables: a bounded table list, and a one-column change diffed in under 3,000 characters', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', {
          project_id,
          sql: `DO $$ BEGIN FOR i IN 1..300 LOOP
                  EXECUTE format('CREATE TABLE t_%s (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now())', lpad(i::text, 3, '0'));
                END LOOP; END $$`,
        });
        const page = await agent.call('list_tables', { project_id });
        const listed = page.structuredContent as any;
        expect(JSON.stringify(listed).length).toBeLessThan(13_000);
        expect(listed.total).toBe(300);
        expect(listed.next_offset).toBe(listed.tables.length);
        const branch = await agent.ok('create_branch', { project_id, name: 'add-col', compute: true });
        await agent.ok('run_sql', {
          project_id,
          branch_id: branch.branch.id,
          sql: 'ALTER TABLE t_042 ADD COLUMN note text',
        });
        const diff = await agent.call('compare_schema', { project_id, branch_id: branch.branch.id });
        expect(diff.isError, textOf(diff)).toBeFalsy();
        expect(JSON.stringify(diff.structuredContent).length).toBeLessThanOrEqual(3_000);
        expect(JSON.stringify(diff.structuredContent)).toMatch(/t_042/);
        expect(agent.calls).toBe(5);
      });
    });

    it('takes a snapshot and finds it in the list', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('enable_toolsets', { toolsets: ['snapshots'] });
        const refused = backend.notServed?.snapshots;
        if (refused) {
          // Not served here: each tool answers an error that says why, naming what is missing.
          expect(
            await agent.fails('create_snapshot', { project_id, branch_id: 'main', name: 'before-launch' }),
          ).toMatch(refused);
          expect(await agent.fails('list_snapshots', { project_id })).toMatch(refused);
          expect(agent.calls).toBe(3);
          return;
        }
        const made = await agent.ok('create_snapshot', {
          project_id,
          branch_id: 'main',
          name: 'before-launch',
        });
        const { snapshots } = await agent.ok('list_snapshots', { project_id });
        expect(snapshots).toContainEqual(
          expect.objectContaining({ id: made.snapshot.id, name: 'before-launch' }),
        );
        expect(agent.calls).toBe(3);
      });
    });

    it('answers mistakes with what to do instead', async () => {
      const project_id = await backend.project('shop');
      await session(async (agent) => {
        await agent.ok('run_sql', { project_id, sql: 'CREATE TABLE items (id int)' });
        // An unknown branch: the error lists the branches there are.
        const unknown = await agent.fails('list_tables', { project_id, branch_id: 'staging' });
        expect(unknown).toMatch(/No branch is named "staging"/);
        expect(unknown).toMatch(/\(main\)/);
        // Invalid SQL: Postgres's own message, where, and what to fix.
        const invalid = await agent.fails('run_sql', { project_id, sql: 'SELEC * FROM items' });
        expect(invalid).toMatch(/syntax error at or near "SELEC"/);
        expect(invalid).toMatch(/42601/);
        // A write through the read-only tool: refused, pointing to run_sql, and nothing written.
        const write = await agent.fails('run_sql_readonly', {
          project_id,
          sql: 'INSERT INTO items VALUES (1)',
        });
        expect(write).toMatch(/READ ONLY transaction; use run_sql to change data/);
        expect(agent.calls).toBe(4);
        const rows = await sqlAs(await ownerUri(agent, project_id), 'SELECT count(*)::int AS n FROM items');
        expect(rows.rows).toEqual([{ n: 0 }]);
      });
    });

    it('under --read-only, hands out no credential that can write', async () => {
      const project_id = await backend.project('shop');
      await session(
        async (agent) => {
          const out = await agent.ok('get_connection_string', { project_id });
          expect(new URL(out.uri).password).toBe('');
          expect(out.password_omitted).toMatch(/create_role with access read_only/);
          expect(agent.calls).toBe(1);
          // A URI without a password cannot log in; the tools that write are not offered at all.
          expect((await sqlAs(out.uri, 'SELECT 1')).code).toMatch(/password/);
          const names = (await agent.tools()).map((t) => t.name);
          expect(names).toContain('run_sql_readonly');
          expect(names).not.toContain('run_sql');
        },
        { readOnly: true },
      );
    });
  });
}
