/**
 * Resources of the neon:// scheme (src/mcp/resources.ts): resources/list paginated over the key's
 * projects, a project as a branch tree with computes, a branch's schema as DDL, and errors as
 * JSON-RPC errors with the tools' texts; --project-id scopes them.
 */
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, TEST_KEY, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

describe('resources/list and templates', () => {
  it("pages through the projects with Neon's cursor, and lists the docs index once", async () => {
    for (let i = 0; i < 130; i++) api.fake.seedProject(`p${String(i).padStart(3, '0')}`);
    conn = await connect();
    // One page is sent by hand; the SDK's listResources() walks every page.
    const first = await conn.mcp.listResources({ cursor: undefined } as any);
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(2);
    const all = first.resources.filter((r) => r.uri.startsWith('neon://projects/'));
    expect(new Set(all.map((r) => r.uri)).size).toBe(130);
    expect(first.resources.filter((r) => r.uri === 'neon://docs')).toHaveLength(1);
    expect(all[0]).toMatchObject({ name: 'p000', mimeType: 'application/json' });
  });

  it('advertises the templates', async () => {
    conn = await connect();
    const { resourceTemplates } = await conn.mcp.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'neon://docs/{+slug}',
      'neon://projects/{project_id}',
      'neon://projects/{project_id}/branches/{branch_id}/schema',
      'neon://projects/{project_id}/branches/{branch_id}/schema{?database}',
    ]);
  });

  it('lists the static resources when Neon is unreachable or refuses the key, and logs why the rest are missing', async () => {
    for (const [why, answer] of [
      ['unreachable', () => HttpResponse.error()],
      ['key refused', () => HttpResponse.json({ message: 'authentication failed' }, { status: 401 })],
    ] as const) {
      api.use(http.get(`${BASE}/projects`, answer));
      const messages: { level: string; data: { message: string } }[] = [];
      // The legacy era has logging/setLevel; the newer one gives messages only to requests that ask.
      const c = await connect({
        era: 'legacy',
        beforeConnect: (mcp) =>
          mcp.setNotificationHandler('notifications/message', (n) => {
            messages.push(n.params as unknown as (typeof messages)[number]);
          }),
      });
      conn = c;
      await c.mcp.setLoggingLevel('warning');
      const { resources } = await c.mcp.listResources();
      expect(
        resources.map((r) => r.uri),
        why,
      ).toEqual(['neon://docs']);
      // Templates are the server's own: no request to Neon at all.
      const before = api.count('GET', '/projects');
      const { resourceTemplates } = await c.mcp.listResourceTemplates();
      expect(resourceTemplates).toHaveLength(4);
      expect(api.count('GET', '/projects')).toBe(before);
      await api.settle();
      expect(messages, why).toEqual([
        expect.objectContaining({
          level: 'warning',
          data: expect.objectContaining({ message: expect.stringMatching(/^Projects not listed: /) }),
        }),
      ]);
      expect(JSON.stringify(messages)).not.toContain(TEST_KEY);
      await c.close();
      conn = undefined;
    }
  });

  it('scoped to a project, lists that project only', async () => {
    const { project } = api.fake.seedProject('mine');
    api.fake.seedProject('other');
    conn = await connect({ projectId: project.id });
    const { resources } = await conn.mcp.listResources();
    expect(resources.filter((r) => r.uri.startsWith('neon://projects/')).map((r) => r.uri)).toEqual([
      `neon://projects/${project.id}`,
    ]);
  });
});

describe('resources/read', () => {
  it('a project: settings, branches as a tree with parents, computes', async () => {
    const { project, branch, endpoint } = api.fake.seedProject('tree');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    const feature = api.fake.makeBranch(project.id, { name: 'feature', parent_id: dev.id });
    conn = await connect();
    const res = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` });
    expect(res.contents[0].mimeType).toBe('application/json');
    const view = JSON.parse(String((res.contents[0] as any).text));
    expect(view.project).toMatchObject({ id: project.id, name: 'tree' });
    expect(view.branches).toHaveLength(1);
    const root = view.branches[0];
    expect(root).toMatchObject({ id: branch.id, name: 'main', default: true });
    expect(root.computes.map((c: any) => c.id)).toEqual([endpoint.id]);
    expect(root.children.map((c: any) => c.name)).toEqual(['dev']);
    expect(root.children[0].children.map((c: any) => [c.id, c.parent_id])).toEqual([[feature.id, dev.id]]);
  });

  it("a branch's schema as DDL, of the database named in ?database=", async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeDatabase(branch.id, 'shop', 'neondb_owner');
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/schema`, ({ request }) =>
        HttpResponse.json({
          sql: `CREATE TABLE ${new URL(request.url).searchParams.get('db_name')}_items (id int);`,
        }),
      ),
    );
    conn = await connect();
    const base = `neon://projects/${project.id}/branches/${branch.id}/schema`;
    const plain = await conn.mcp.readResource({ uri: base });
    expect((plain.contents[0] as any).text).toBe('CREATE TABLE neondb_items (id int);');
    expect(plain.contents[0].mimeType).toBe('application/sql');
    const shop = await conn.mcp.readResource({ uri: `${base}?database=shop` });
    expect((shop.contents[0] as any).text).toBe('CREATE TABLE shop_items (id int);');
    await expect(conn.mcp.readResource({ uri: `${base}?database=nope` })).rejects.toThrow(
      /Database "nope" does not exist/,
    );
  });

  it('takes project and branch names as the tools do, a name with a slash percent-encoded', async () => {
    const { project, branch } = api.fake.seedProject('shop');
    const feature = api.fake.makeBranch(project.id, { name: 'feature/x', parent_id: branch.id });
    api.fake.makeDatabase(feature.id, 'neondb', 'neondb_owner');
    api.fake.seedProject('blog');
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/schema`, ({ params }) =>
        HttpResponse.json({ sql: `-- ${params.project_id} ${params.branch_id}` }),
      ),
    );
    conn = await connect();
    const byName = await conn.mcp.readResource({ uri: 'neon://projects/shop' });
    expect(JSON.parse(String((byName.contents[0] as any).text)).project.id).toBe(project.id);
    // The contents keep the URI that was asked for.
    expect(byName.contents[0].uri).toBe('neon://projects/shop');
    const main = await conn.mcp.readResource({ uri: 'neon://projects/shop/branches/main/schema' });
    expect((main.contents[0] as any).text).toBe(`-- ${project.id} ${branch.id}`);
    const slashed = await conn.mcp.readResource({
      uri: 'neon://projects/shop/branches/feature%2Fx/schema?database=neondb',
    });
    expect((slashed.contents[0] as any).text).toBe(`-- ${project.id} ${feature.id}`);
  });

  it('a name nothing has, or two share, is invalid params listing the candidates by ID and name', async () => {
    const { project } = api.fake.seedProject('shop');
    const a = api.fake.seedProject('twin').project;
    api.fake.seedProject('twin');
    conn = await connect();
    const missing = await conn.mcp
      .readResource({ uri: 'neon://projects/shop/branches/nope/schema' })
      .catch((e) => e);
    expect(missing.code).toBe(-32602);
    expect(missing.message).toMatch(/No branch is named "nope" in project .*main/);
    const twins = await conn.mcp.readResource({ uri: 'neon://projects/twin' }).catch((e) => e);
    expect(twins.code).toBe(-32602);
    expect(twins.message).toContain(`2 projects are named "twin"`);
    expect(twins.message).toContain(a.id);
    expect(project.id).not.toBe(a.id);
  });

  it('scoped to a project, takes its name and refuses another name', async () => {
    const { project } = api.fake.seedProject('mine');
    api.fake.seedProject('other');
    conn = await connect({ projectId: project.id });
    const mine = await conn.mcp.readResource({ uri: 'neon://projects/mine' });
    expect(JSON.parse(String((mine.contents[0] as any).text)).project.id).toBe(project.id);
    await expect(conn.mcp.readResource({ uri: 'neon://projects/other' })).rejects.toThrow(
      /scoped to project/,
    );
    await api.settle();
    // The scope is checked against the scoped project itself: the account's projects are never listed.
    expect(api.count('GET', '/projects')).toBe(0);
  });

  it('a missing project is resource-not-found with the tool error text; no key in it', async () => {
    conn = await connect();
    const err = await conn.mcp.readResource({ uri: 'neon://projects/gone-123' }).catch((e) => e);
    expect(err.code).toBe(-32602);
    expect(err.message).toMatch(/HTTP 404/);
    expect(JSON.stringify(err)).not.toContain(TEST_KEY);
  });

  it('a failing Neon answer is an error with the same text a tool gets', async () => {
    const { project } = api.fake.seedProject();
    api.use(
      http.get(`${BASE}/projects/:project_id`, () => HttpResponse.json({ message: 'no' }, { status: 403 })),
    );
    conn = await connect();
    const viaTool = await conn.fails('get_project', { project_id: project.id });
    const err = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` }).catch((e) => e);
    expect(err.message).toContain(viaTool.split(' (request_id')[0]);
  });

  it('scoped to a project, refuses to read another one without asking Neon', async () => {
    const { project } = api.fake.seedProject('mine');
    const other = api.fake.seedProject('other').project;
    conn = await connect({ projectId: project.id });
    await expect(conn.mcp.readResource({ uri: `neon://projects/${other.id}` })).rejects.toThrow(
      /scoped to project/,
    );
    await api.settle();
    expect(api.requests.filter((r) => r.path.includes(other.id))).toEqual([]);
  });
});

describe('without an API key', () => {
  it('lists the docs index, and reading a project says how to set the key', async () => {
    conn = await connect({ apiKey: null });
    const { resources } = await conn.mcp.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['neon://docs']);
    await expect(conn.mcp.readResource({ uri: 'neon://projects/p-1' })).rejects.toThrow(/NEON_API_KEY/);
  });
});
