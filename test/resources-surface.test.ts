/**
 * The edges of the neon:// resources (src/mcp/resources.ts) that resources.test.ts leaves open: when a
 * resources/list page has a next cursor, what one listed project says, a later page that fails, the
 * docs index and pages as resources (and their slug completion), and how a project's branches and
 * computes are laid out. In process against the msw fake.
 */
import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearDocsCache } from '../src/neon/docs-site.js';
import { BASE, connect, TEST_KEY, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});
beforeEach(() => clearDocsCache());

/** One resources/list page, raw (the SDK's listResources() without a cursor walks every page). */
const page = async (cursor?: string) =>
  (await conn?.mcp.request({
    method: 'resources/list',
    params: cursor === undefined ? {} : { cursor },
  })) as { resources: { uri: string; description?: string }[]; nextCursor?: string };

/** Neon's /projects answering one fixed page, whatever is asked; the cursor asked for is recorded. */
function projectsPage(count: number, cursor: string | undefined, asked: (string | null)[] = []) {
  api.use(
    http.get(`${BASE}/projects`, ({ request }) => {
      asked.push(new URL(request.url).searchParams.get('cursor'));
      const projects = Array.from({ length: count }, (_, i) => ({
        id: `proj-${String(i).padStart(3, '0')}`,
        name: `n${i}`,
        region_id: 'aws-eu-central-1',
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
      }));
      return HttpResponse.json({ projects, ...(cursor === undefined ? {} : { pagination: { cursor } }) });
    }),
  );
  return asked;
}

describe('resources/list pages', () => {
  it('a full page with a new cursor has a next cursor; the docs index only on the first page', async () => {
    const asked = projectsPage(100, 'proj-099');
    conn = await connect();
    const first = await page();
    expect(first.nextCursor).toBe('proj-099');
    expect(first.resources).toHaveLength(101);
    expect(first.resources.at(-1)).toEqual({
      uri: 'neon://docs',
      name: 'docs_index',
      title: "Neon's documentation index",
    });
    const second = await page('proj-050');
    expect(second.resources.map((r) => r.uri)).not.toContain('neon://docs');
    expect(second.resources).toHaveLength(100);
    expect(asked).toEqual([null, 'proj-050']);
  });

  it('no next cursor: a short page, no cursor from Neon, or the same cursor again (no endless walk)', async () => {
    for (const [count, cursor, asked] of [
      [99, 'proj-098', undefined],
      [100, undefined, undefined],
      [100, '', undefined],
      [100, 'same', 'same'],
    ] as const) {
      projectsPage(count, cursor);
      conn = await connect();
      const res = await page(asked);
      expect(res.nextCursor, `${count} ${cursor}`).toBeUndefined();
      expect(res.resources.filter((r) => r.uri.startsWith('neon://projects/'))).toHaveLength(count);
      await conn.close();
      conn = undefined;
    }
  });

  it('one listed project: its URI, name, title, region and mime type', async () => {
    projectsPage(1, undefined);
    conn = await connect();
    const [project] = (await page()).resources;
    expect(project).toEqual({
      uri: 'neon://projects/proj-000',
      name: 'n0',
      title: 'Neon project n0',
      description: 'Project proj-000 in aws-eu-central-1: settings, branches, computes.',
      mimeType: 'application/json',
    });
  });

  it('a project without a region says none', async () => {
    api.use(
      http.get(`${BASE}/projects`, () =>
        HttpResponse.json({ projects: [{ id: 'proj-r', name: 'r' }], pagination: { cursor: 'proj-r' } }),
      ),
    );
    conn = await connect();
    const [project] = (await page()).resources;
    expect(project?.description).toBe('Project proj-r: settings, branches, computes.');
  });

  it('a later page that fails is an error (not a first page without projects), with the tool text', async () => {
    api.use(
      http.get(`${BASE}/projects`, () => HttpResponse.json({ message: 'cursor expired' }, { status: 400 })),
    );
    conn = await connect();
    const err = await page('proj-050').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    // An internal error, not resource-not-found: resources/list is no resource.
    expect(err.code).toBe(-32603);
    expect(err.message).toMatch(/cursor expired/);
    expect(JSON.stringify(err)).not.toContain(TEST_KEY);
    // The first page falls back to the static resources.
    expect((await page()).resources.map((r) => r.uri)).toEqual(['neon://docs']);
  });

  it('scoped to a project: that project and the docs index, one request, no cursor', async () => {
    const { project } = api.fake.seedProject('mine', { region_id: 'aws-us-west-2' });
    conn = await connect({ projectId: project.id });
    const res = await page();
    expect(res.resources.map((r) => r.uri)).toEqual([`neon://projects/${project.id}`, 'neon://docs']);
    expect(res.resources[0]?.description).toBe(
      `Project ${project.id} in aws-us-west-2: settings, branches, computes.`,
    );
    expect(res.nextCursor).toBeUndefined();
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(0);
  });
});

describe('a project as a resource', () => {
  it('its settings as picked, each branch with its own computes, two roots, an orphan as a root', async () => {
    const { project, branch, endpoint } = api.fake.seedProject('layout');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    const devEp = api.fake.makeEndpoint(project.id, dev.id, 'read_only');
    const orphan = api.fake.makeBranch(project.id, { name: 'orphan', parent_id: 'br-gone-000000' });
    conn = await connect();
    const res = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` });
    expect(res.contents[0]).toMatchObject({
      uri: `neon://projects/${project.id}`,
      mimeType: 'application/json',
    });
    const body = String((res.contents[0] as { text: string }).text);
    // Pretty-printed, two spaces.
    expect(body).toMatch(/^\{\n {2}"project": \{\n {4}"id"/);
    const view = JSON.parse(body);
    expect(Object.keys(view.project).sort()).toEqual(
      [
        'id',
        'name',
        'region_id',
        'pg_version',
        'org_id',
        'created_at',
        'history_retention_seconds',
        'settings',
        'default_endpoint_settings',
      ]
        .filter((k) => k in project)
        .sort(),
    );
    expect(view.branches.map((b: { name: string }) => b.name).sort()).toEqual(['main', 'orphan']);
    const main = view.branches.find((b: { name: string }) => b.name === 'main');
    expect(main.computes.map((c: { id: string }) => c.id)).toEqual([endpoint.id]);
    expect(main.children).toHaveLength(1);
    expect(main.children[0]).toMatchObject({ id: dev.id, name: 'dev', parent_id: branch.id });
    expect(main.children[0].computes.map((c: { id: string }) => c.id)).toEqual([devEp.id]);
    const lone = view.branches.find((b: { name: string }) => b.name === 'orphan');
    expect(lone).toMatchObject({ id: orphan.id, children: [], computes: [] });
    for (const key of Object.keys(main))
      expect([
        'id',
        'name',
        'parent_id',
        'default',
        'protected',
        'current_state',
        'created_at',
        'logical_size',
        'computes',
        'children',
      ]).toContain(key);
  });

  it("the safety net's restore points: counted, not shown, unless one has become a parent", async () => {
    const { project, branch } = api.fake.seedProject('points');
    api.fake.makeBranch(project.id, { name: 'mcp-change-aaaaaaaaaaaa', parent_id: branch.id });
    api.fake.makeBranch(project.id, { name: 'mcp-change-bbbbbbbbbbbb', parent_id: branch.id });
    const parent = api.fake.makeBranch(project.id, { name: 'mcp-change-cccccccccccc', parent_id: branch.id });
    api.fake.makeBranch(project.id, { name: 'from-a-point', parent_id: parent.id });
    // A name that only contains the prefix is an ordinary branch.
    api.fake.makeBranch(project.id, { name: 'x-mcp-change-1', parent_id: branch.id });
    conn = await connect();
    const res = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` });
    const view = JSON.parse(String((res.contents[0] as { text: string }).text));
    const main = view.branches.find((b: { name: string }) => b.name === 'main');
    expect(main.children.map((b: { name: string }) => b.name).sort()).toEqual([
      'mcp-change-cccccccccccc',
      'x-mcp-change-1',
    ]);
    const kept = main.children.find((b: { name: string }) => b.name === 'mcp-change-cccccccccccc');
    expect(kept.children.map((b: { name: string }) => b.name)).toEqual(['from-a-point']);
    expect(view.restore_points).toBe(2);
    expect(view.restore_points_note).toMatch(/^2 branches named mcp-change-… /);

    const offered = await conn.mcp.complete({
      ref: { type: 'ref/resource', uri: 'neon://projects/{project_id}/branches/{branch_id}/schema' },
      argument: { name: 'branch_id', value: '' },
      context: { arguments: { project_id: project.id } },
    });
    expect(offered.completion.values.filter((v) => v.includes('mcp-change')).sort()).toEqual([
      'x-mcp-change-1',
    ]);
  });

  it('without restore points the view has no count', async () => {
    const { project } = api.fake.seedProject('plain');
    conn = await connect();
    const res = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` });
    const view = JSON.parse(String((res.contents[0] as { text: string }).text));
    expect(view.restore_points).toBeUndefined();
    expect(view.restore_points_note).toBeUndefined();
  });

  it('scoped: the refusal names the scope and the project asked for', async () => {
    const { project } = api.fake.seedProject('mine');
    conn = await connect({ projectId: project.id });
    const err = await conn.mcp.readResource({ uri: 'neon://projects/proj-elsewhere-1' }).catch((e) => e);
    expect(err.code).toBe(-32602);
    expect(err.message).toContain(
      `This server is scoped to project ${project.id}; proj-elsewhere-1 is out of its scope.`,
    );
    // Its own project reads.
    const own = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` });
    expect(JSON.parse(String((own.contents[0] as { text: string }).text)).project.id).toBe(project.id);
  });

  it('a Neon failure other than 404 is an internal error, not resource-not-found', async () => {
    const { project } = api.fake.seedProject();
    api.use(
      http.get(`${BASE}/projects/:project_id`, () => HttpResponse.json({ message: 'boom' }, { status: 500 })),
    );
    conn = await connect({ clientOptions: { retries: 0 } });
    const err = await conn.mcp.readResource({ uri: `neon://projects/${project.id}` }).catch((e) => e);
    expect(err.code).toBe(-32603);
  });
});

describe('docs as resources', () => {
  const SITE = 'https://docs.example.test';
  const INDEX = [
    '# Neon',
    '',
    '## Docs',
    ...Array.from({ length: 120 }, (_, i) => `- [Guide ${i}](${SITE}/docs/guides/g${i}.md): guide ${i}`),
    `- [Branching](${SITE}/docs/introduction/branching.md): Copy-on-write branches`,
    '',
  ].join('\n');
  beforeEach(() => {
    api.use(
      http.get(`${SITE}/*`, ({ request }) => {
        const path = new URL(request.url).pathname;
        if (path === '/docs/llms.txt')
          return new HttpResponse(INDEX, { headers: { 'content-type': 'text/plain' } });
        if (path === '/docs/introduction/branching.md')
          return new HttpResponse('# Branching\n\nCopy on write.', {
            headers: { 'content-type': 'text/markdown' },
          });
        return new HttpResponse('not found', { status: 404 });
      }),
    );
  });

  it('neon://docs is the index as markdown; neon://docs/{slug} one page', async () => {
    conn = await connect({ docsUrl: SITE });
    const index = await conn.mcp.readResource({ uri: 'neon://docs' });
    expect(index.contents[0]).toMatchObject({ uri: 'neon://docs', mimeType: 'text/markdown' });
    expect(String((index.contents[0] as { text: string }).text)).toContain('introduction/branching');
    const one = await conn.mcp.readResource({ uri: 'neon://docs/introduction/branching' });
    expect(one.contents[0]).toMatchObject({
      uri: 'neon://docs/introduction/branching',
      mimeType: 'text/markdown',
      text: expect.stringContaining('Copy on write.'),
    });
    const missing = await conn.mcp.readResource({ uri: 'neon://docs/introduction/nope' }).catch((e) => e);
    expect(missing).toBeInstanceOf(Error);
  });

  it('completes slugs by prefix, at most 100', async () => {
    conn = await connect({ docsUrl: SITE });
    const ref = { type: 'ref/resource' as const, uri: 'neon://docs/{+slug}' };
    const intro = await conn.mcp.complete({ ref, argument: { name: 'slug', value: 'intro' } });
    expect(intro.completion.values).toEqual(['introduction/branching']);
    const guides = await conn.mcp.complete({ ref, argument: { name: 'slug', value: 'guides/' } });
    expect(guides.completion.values).toHaveLength(100);
    expect(guides.completion.values[0]).toBe('guides/g0');
    const none = await conn.mcp.complete({ ref, argument: { name: 'slug', value: 'zzz' } });
    expect(none.completion.values).toEqual([]);
  });

  it('the templates say what each is', async () => {
    conn = await connect();
    const { resourceTemplates } = await conn.mcp.listResourceTemplates();
    const by = Object.fromEntries(resourceTemplates.map((t) => [t.name, t]));
    expect(by.project).toMatchObject({ title: 'Neon project', mimeType: 'application/json' });
    expect(by.branch_schema).toMatchObject({
      title: 'Branch schema',
      description: "One database's schema on a branch (project and branch by ID or name), as SQL DDL.",
      mimeType: 'application/sql',
    });
    expect(by.branch_schema_default_database?.description).toBe(
      "The schema of a branch's only (or first) database (by ID or name), as SQL DDL.",
    );
    expect(by.docs_page).toMatchObject({ title: 'Neon docs page', mimeType: 'text/markdown' });
  });
});
