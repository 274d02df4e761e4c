import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, text, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function requests() {
  await api.settle();
  return api.requests;
}
const allFinished = () => [...api.fake.operations.values()].every((o) => o.status === 'finished');

describe('list_roles and get_role', () => {
  it('lists roles of the default or a named branch, without passwords', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    const devRole = api.fake.makeRole(dev.id, 'dev_user');
    conn = await connect({ toolsets: ['roles'] });
    const byDefault = await conn.ok('list_roles', { project_id: project.id });
    expect(byDefault).toMatchObject({
      branch_id: main.id,
      roles: [{ name: 'neondb_owner', protected: false }],
    });
    const res = await conn.call('list_roles', { project_id: project.id, branch_id: dev.id });
    expect((res.structuredContent as any).roles.map((r: any) => r.name)).toEqual(['dev_user']);
    expect(text(res)).not.toContain(devRole.password);
    expect(text(res)).not.toContain('password');
  });

  it('gets a role without its password, even when Neon sends one', async () => {
    const { project, branch } = api.fake.seedProject();
    const role = api.fake.roles[0];
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`, () =>
        HttpResponse.json({ role }),
      ),
    );
    conn = await connect({ toolsets: ['roles'] });
    const res = await conn.call('get_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: role.name,
    });
    expect(res.isError).toBeFalsy();
    expect((res.structuredContent as any).role).toMatchObject({ name: 'neondb_owner', branch_id: branch.id });
    expect(text(res)).not.toContain(role.password);
  });

  it('names a missing role', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('get_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'nobody',
    });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/role "nobody" in branch "/);
  });
});

describe('create_role and delete_role', () => {
  it('creates a role and returns its password once, labelled', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', { project_id: project.id, branch_id: branch.id, name: 'app' });
    const stored = api.fake.rolesOf(branch.id).find((r) => r.name === 'app');
    expect(stored).toBeDefined();
    expect(out.password).toBe(stored!.password);
    expect(out.password_note).toMatch(/^SECRET: the password of role app/);
    expect(out.role).toMatchObject({ name: 'app', branch_id: branch.id });
    expect(out.role).not.toHaveProperty('password');
    expect(allFinished()).toBe(true);
  });

  it('creates a role that cannot log in', async () => {
    const { project, branch } = api.fake.seedProject();
    api.use(
      http.post(`${BASE}/projects/:project_id/branches/:branch_id/roles`, async ({ request }) => {
        const { role } = (await request.clone().json()) as any;
        expect(role).toEqual({ name: 'readers', no_login: true });
        const t = new Date().toISOString();
        return HttpResponse.json(
          { role: { branch_id: branch.id, name: 'readers', created_at: t, updated_at: t }, operations: [] },
          { status: 201 },
        );
      }),
    );
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'readers',
      no_login: true,
    });
    expect(out.password).toBeUndefined();
    expect(out.password_note).toMatch(/no password/);
  });

  it('turns a 409 for an existing role into a clear error', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('create_role', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'neondb_owner',
    });
    expect(err).toMatch(/HTTP 409: role "neondb_owner" already exists/);
    expect(api.fake.rolesOf(branch.id)).toHaveLength(1);
  });

  it('deletes a role, which disappears from the list', async () => {
    const { project, branch } = api.fake.seedProject();
    const temp = api.fake.makeRole(branch.id, 'temp');
    conn = await connect({ toolsets: ['roles'] });
    const res = await conn.call('delete_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'temp',
    });
    expect(res.structuredContent).toMatchObject({ deleted: true, role: { name: 'temp' } });
    expect(text(res)).not.toContain(temp.password);
    const list = await conn.ok('list_roles', { project_id: project.id, branch_id: branch.id });
    expect(list.roles.map((r: any) => r.name)).toEqual(['neondb_owner']);
    expect(allFinished()).toBe(true);
  });
});

describe('reveal_role_password and reset_role_password', () => {
  it('reveals the current password', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('reveal_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    expect(out.password).toBe(api.fake.roles[0].password);
    expect(out.password_note).toMatch(/SECRET/);
  });

  it('resets the password: the new one is returned and the old one is gone', async () => {
    const { project, branch } = api.fake.seedProject();
    const old = api.fake.roles[0].password;
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('reset_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    expect(out.password).toBe(api.fake.roles[0].password);
    expect(out.password).not.toBe(old);
    expect(out.role).not.toHaveProperty('password');
    expect(out.password_note).toMatch(/old one no longer works/);
    expect(allFinished()).toBe(true);
    expect((await requests()).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('reports a failed reset with the operation ID and action', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.failNextOperation = 'disk full';
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('reset_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    const op = [...api.fake.operations.values()][0];
    expect(err).toContain(`Neon operation ${op.id} (apply_config)`);
    expect(err).toContain('disk full');
  });

  it('hides every password-returning role tool in read-only mode', async () => {
    conn = await connect({ readOnly: true, toolsets: ['roles'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['list_roles', 'get_role']));
    for (const hidden of ['create_role', 'reveal_role_password', 'reset_role_password', 'delete_role']) {
      expect(names).not.toContain(hidden);
    }
  });
});
