import { afterEach, describe, expect, it } from 'vitest';
import { withToken } from './confirm-token.js';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

describe('project tools', () => {
  it('lists projects with a search and pages through them with next_cursor', async () => {
    for (let i = 0; i < 5; i++) api.fake.seedProject(`app-${i}`);
    api.fake.seedProject('other');
    conn = await connect();
    const first = await conn.ok('list_projects', { search: 'app', limit: 3 });
    expect(first.projects.map((p: any) => p.name)).toHaveLength(3);
    expect(first.next_cursor).toBeTruthy();
    const second = await conn.ok('list_projects', { search: 'app', limit: 3, cursor: first.next_cursor });
    expect(second.projects).toHaveLength(2);
    expect(second.next_cursor).toBeUndefined();
    const names = [...first.projects, ...second.projects].map((p: any) => p.name).sort();
    expect(names).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4']);
  });

  it('creates a project, waits for its operations and returns the connection string', async () => {
    conn = await connect();
    const progress: string[] = [];
    const res = await conn.mcp.callTool(
      {
        name: 'create_project',
        arguments: { name: 'shop', database: 'shopdb', role: 'shop_owner' },
      },
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(res.isError).toBeFalsy();
    const out = res.structuredContent as any;
    expect(out.project.name).toBe('shop');
    expect(out.databases[0].name).toBe('shopdb');
    expect(out.connection_uri).toMatch(/^postgresql:\/\/shop_owner:/);
    expect(out.roles[0]).not.toHaveProperty('password');
    // Both operations were polled until finished before the tool answered.
    const ops = [...api.fake.operations.values()];
    expect(ops).toHaveLength(2);
    expect(ops.every((o) => o.status === 'finished')).toBe(true);
    expect(progress.at(-1)).toMatch(/2\/2 Neon operations finished/);
    expect(api.count('POST', '/projects')).toBe(1);
  });

  it('gets, updates and deletes a project', async () => {
    const { project } = api.fake.seedProject('alpha');
    conn = await connect();
    expect((await conn.ok('get_project', { project_id: project.id })).project.name).toBe('alpha');
    const updated = await conn.ok('update_project', { project_id: project.id, name: 'beta' });
    expect(updated.project.name).toBe('beta');
    expect(api.fake.projects.get(project.id)?.name).toBe('beta');
    const deleted = await conn.ok(
      'delete_project',
      await withToken(conn, 'delete_project', { project_id: project.id }),
    );
    expect(deleted).toMatchObject({ deleted: true, project: { id: project.id } });
    expect(api.fake.projects.has(project.id)).toBe(false);
  });

  it('names what was not found on a 404', async () => {
    conn = await connect();
    const err = await conn.fails('get_project', { project_id: 'no-such-project-1' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/project "no-such-project-1"/);
  });

  it('takes what is not shaped like an ID as a name, looked up and never put in a path', async () => {
    conn = await connect();
    const err = await conn.fails('get_project', { project_id: '../api_keys' });
    expect(err).toMatch(/No project is named "\.\.\/api_keys"/);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /projects', 'GET /projects']);
    expect(await conn.fails('get_project', { project_id: '' })).toMatch(
      /project_id: must be a project ID or name/,
    );
  });
});
