/**
 * Resources and completions by name on local mode (src/mcp/resources.ts, completions.ts): a real MCP
 * client → the server → the local API (src/local, in-process on a loopback port, as `neon-mcp --local`
 * starts it) → a real PostgreSQL. `neon://projects/local/branches/main/schema` reads the schema of the
 * first project's main branch, as `project_id: "local"` and `branch_id: "main"` do in the tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { connections } from '../src/sql/pools.js';
import { connect } from './helpers.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
let local: LocalMode;
let conn: Awaited<ReturnType<typeof connect>>;

beforeAll(async () => {
  server = await startPostgres();
  local = await startLocal({
    postgresUrl: server.uri('postgres'),
    beforeCopy: (branchId) => connections.closeTagged(branchId),
  });
  conn = await connect({ apiKey: local.apiKey, clientOptions: { baseUrl: local.baseUrl } });
}, 90_000);

afterAll(async () => {
  await conn?.close();
  await connections.closeAll();
  await local?.stop();
  await server?.stop();
});

const textOf = (res: { contents: unknown[] }) => String((res.contents[0] as { text: string }).text);

describe('local mode: resources and completions by name', () => {
  it('reads the project and a branch schema by names, each branch its own', async () => {
    await conn.ok('run_sql', { project_id: 'local', sql: 'CREATE TABLE todos (id int PRIMARY KEY)' });
    await conn.ok('create_branch', { project_id: 'local', name: 'feature' });
    await conn.ok('run_sql', {
      project_id: 'local',
      branch_id: 'feature',
      sql: 'ALTER TABLE todos ADD COLUMN done boolean',
    });

    const project = JSON.parse(textOf(await conn.mcp.readResource({ uri: 'neon://projects/local' })));
    expect(project.project.name).toBe('local');
    expect(project.branches.map((b: { name: string }) => b.name)).toEqual(['main']);
    expect(project.branches[0].children.map((b: { name: string }) => b.name)).toEqual(['feature']);

    const main = textOf(await conn.mcp.readResource({ uri: 'neon://projects/local/branches/main/schema' }));
    expect(main).toMatch(/CREATE TABLE public\.todos/);
    expect(main).not.toContain('done');
    const feature = textOf(
      await conn.mcp.readResource({ uri: 'neon://projects/local/branches/feature/schema?database=neondb' }),
    );
    expect(feature).toMatch(/done boolean/);
  });

  it('offers the names of local mode as completions', async () => {
    const template = {
      type: 'ref/resource' as const,
      uri: 'neon://projects/{project_id}/branches/{branch_id}/schema{?database}',
    };
    const projects = await conn.mcp.complete({
      ref: template,
      argument: { name: 'project_id', value: 'lo' },
    });
    expect(projects.completion.values).toEqual(['local']);
    const branches = await conn.mcp.complete({
      ref: template,
      argument: { name: 'branch_id', value: '' },
      context: { arguments: { project_id: 'local' } },
    });
    expect(branches.completion.values).toContain('main');
    const databases = await conn.mcp.complete({
      ref: template,
      argument: { name: 'database', value: '' },
      context: { arguments: { project_id: 'local', branch_id: 'main' } },
    });
    expect(databases.completion.values).toEqual(['neondb']);
  });

  it('a branch name local mode does not have is invalid params naming the branches it has', async () => {
    const err = await conn.mcp
      .readResource({ uri: 'neon://projects/local/branches/nope/schema' })
      .catch((e) => e);
    expect(err.code).toBe(-32602);
    expect(err.message).toMatch(/No branch is named "nope".*\(main\)/);
  });
});
