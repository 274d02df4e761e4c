import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function lastUriQuery() {
  await api.settle();
  return api.requests.filter((r) => r.path.endsWith('/connection_uri')).at(-1)?.query;
}

describe('get_connection_string', () => {
  it('defaults to the default branch, its first database and that database owner', async () => {
    const { project, branch, endpoint } = api.fake.seedProject();
    const password = api.fake.roles[0].password;
    conn = await connect();
    const out = await conn.ok('get_connection_string', { project_id: project.id });
    expect(out).toEqual({
      uri: `postgresql://neondb_owner:${password}@${endpoint.host}/neondb?sslmode=require`,
      project_id: project.id,
      branch_id: branch.id,
      database: 'neondb',
      role: 'neondb_owner',
      pooled: false,
    });
    const q = await lastUriQuery();
    expect(Object.fromEntries(q!)).toEqual({
      branch_id: branch.id,
      database_name: 'neondb',
      role_name: 'neondb_owner',
      pooled: 'false',
    });
  });

  it('uses the branch, database, role, compute and pooler asked for', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    const ep = api.fake.makeEndpoint(project.id, dev.id, 'read_write');
    api.fake.makeDatabase(dev.id, 'shop', 'shop_owner');
    const role = api.fake.makeRole(dev.id, 'app');
    conn = await connect();
    const out = await conn.ok('get_connection_string', {
      project_id: project.id,
      branch_id: dev.id,
      database: 'shop',
      role: 'app',
      compute_id: ep.id,
      pooled: true,
    });
    expect(out).toMatchObject({ branch_id: dev.id, database: 'shop', role: 'app', pooled: true });
    expect(out.uri).toBe(
      `postgresql://app:${role.password}@${ep.id}-pooler.us-east-2.aws.neon.tech/shop?sslmode=require`,
    );
    expect((await lastUriQuery())?.get('endpoint_id')).toBe(ep.id);
    // Database and role were both given: nothing else had to be looked up.
    await api.settle();
    expect(api.count('GET', `/projects/${project.id}/branches/${dev.id}/databases`)).toBe(0);
  });

  it("takes the named database's owner when only the database is given", async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeRole(branch.id, 'shop_owner');
    api.fake.makeDatabase(branch.id, 'shop', 'shop_owner');
    conn = await connect();
    const out = await conn.ok('get_connection_string', { project_id: project.id, database: 'shop' });
    expect(out).toMatchObject({ database: 'shop', role: 'shop_owner' });
    expect(out.uri).toMatch(/^postgresql:\/\/shop_owner:/);
  });

  it('explains a missing database, listing those that exist', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('get_connection_string', { project_id: project.id, database: 'nope' });
    expect(err).toMatch(/Database "nope" does not exist on branch br-[^ ]+\. Existing: neondb\./);
    expect(err).not.toMatch(/bug/);
  });

  it('names a missing project and a missing role', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    expect(await conn.fails('get_connection_string', { project_id: 'no-such-1' })).toMatch(
      /HTTP 404.*project "no-such-1"/,
    );
    expect(await conn.fails('get_connection_string', { project_id: project.id, role: 'ghost' })).toMatch(
      /role "ghost" was not found on branch br-[^ ]+: Neon's API does not list it, and the database's own roles \(made with SQL\) could not be read: Could not connect/,
    );
  });

  it('stays available in read-only mode, and injects project_id when scoped', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ readOnly: true, projectId: project.id });
    const tool = (await conn.mcp.listTools()).tools.find((t) => t.name === 'get_connection_string');
    expect(tool?.annotations?.readOnlyHint).toBe(true);
    expect(Object.keys((tool!.inputSchema as any).properties ?? {})).not.toContain('project_id');
    const out = await conn.ok('get_connection_string', {});
    expect(out).toMatchObject({ project_id: project.id, branch_id: branch.id });
  });
});
