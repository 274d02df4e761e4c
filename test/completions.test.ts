/**
 * completion/complete for resource-template and prompt arguments (src/mcp/completions.ts): projects
 * and branches matched by ID or name and offered by name when the name picks one (by ID otherwise),
 * branches within the chosen project (by ID or name), databases and roles of the chosen or default
 * branch, at most 100 values, lists cached briefly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

const template = (uri: string) => ({ type: 'ref/resource' as const, uri });
const PROJECT = template('neon://projects/{project_id}');
const SCHEMA = template('neon://projects/{project_id}/branches/{branch_id}/schema{?database}');

describe('completion/complete', () => {
  it('completes projects by ID or name prefix, offering the name being typed, and caches the list', async () => {
    const blog = api.fake.seedProject('blog').project;
    api.fake.seedProject('shop');
    conn = await connect();
    const byName = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: 'SH' } });
    expect(byName.completion.values).toEqual(['shop']);
    // Typing an ID offers the ID (the name does not start with what was typed).
    const byId = await conn.mcp.complete({
      ref: PROJECT,
      argument: { name: 'project_id', value: blog.id.slice(0, 6) },
    });
    expect(byId.completion.values).toEqual([blog.id]);
    const all = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: '' } });
    expect(all.completion.values.sort()).toEqual(['blog', 'shop']);
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(1);
  });

  it('offers the ID where a name would not resolve back: shared by two, or shaped like an ID', async () => {
    const a = api.fake.seedProject('twin').project;
    const b = api.fake.seedProject('twin').project;
    // "app-2024" has a project ID's shape: the resolver would take it for an ID.
    const dated = api.fake.seedProject('app-2024').project;
    conn = await connect();
    const twins = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: 'tw' } });
    expect(twins.completion.values.sort()).toEqual([a.id, b.id].sort());
    const app = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: 'app' } });
    expect(app.completion.values).toEqual([dated.id]);
  });

  it('offers at most 100 values', async () => {
    for (let i = 0; i < 120; i++) api.fake.seedProject(`app-${i}`);
    conn = await connect();
    const res = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: 'app' } });
    expect(res.completion.values).toHaveLength(100);
  });

  it('completes branches within the chosen project, then databases of that branch', async () => {
    const { project, branch } = api.fake.seedProject('p');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    api.fake.makeDatabase(dev.id, 'devdb', 'neondb_owner');
    const other = api.fake.seedProject('q');
    conn = await connect();
    const branches = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'branch_id', value: 'de' },
      context: { arguments: { project_id: project.id } },
    });
    expect(branches.completion.values).toEqual(['dev']);
    const byId = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'branch_id', value: dev.id },
      context: { arguments: { project_id: project.id } },
    });
    expect(byId.completion.values).toEqual([dev.id]);
    const none = await conn.mcp.complete({ ref: SCHEMA, argument: { name: 'branch_id', value: '' } });
    expect(none.completion.values).toEqual([]);
    const dbs = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'database', value: '' },
      context: { arguments: { project_id: project.id, branch_id: dev.id } },
    });
    expect(dbs.completion.values).toEqual(['devdb']);
    // No branch chosen: the default branch's databases.
    const onDefault = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'database', value: 'n' },
      context: { arguments: { project_id: other.project.id } },
    });
    expect(onDefault.completion.values).toEqual(['neondb']);
  });

  it('takes the project and branch of the context by name, as the URIs do', async () => {
    const { project, branch } = api.fake.seedProject('named');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    api.fake.makeDatabase(dev.id, 'devdb', 'neondb_owner');
    api.fake.seedProject('other');
    conn = await connect();
    const branches = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'branch_id', value: '' },
      context: { arguments: { project_id: 'named' } },
    });
    expect(branches.completion.values.sort()).toEqual(['dev', 'main']);
    const dbs = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'database', value: '' },
      context: { arguments: { project_id: 'named', branch_id: 'dev' } },
    });
    expect(dbs.completion.values).toEqual(['devdb']);
    // A name nothing has: no values rather than another project's.
    const unknown = await conn.mcp.complete({
      ref: SCHEMA,
      argument: { name: 'branch_id', value: '' },
      context: { arguments: { project_id: 'nameless' } },
    });
    expect(unknown.completion.values).toEqual([]);
  });

  it('completes prompt arguments (project, branch, database)', async () => {
    const { project } = api.fake.seedProject('prompted');
    conn = await connect();
    const ref = { type: 'ref/prompt' as const, name: 'safe_migration' };
    const p = await conn.mcp.complete({ ref, argument: { name: 'project_id', value: 'prom' } });
    expect(p.completion.values).toEqual(['prompted']);
    const d = await conn.mcp.complete({
      ref,
      argument: { name: 'database', value: '' },
      context: { arguments: { project_id: project.id } },
    });
    expect(d.completion.values).toEqual(['neondb']);
    const roleRef = { type: 'ref/prompt' as const, name: 'app_role' };
    const b = await conn.mcp.complete({
      ref: roleRef,
      argument: { name: 'branch_id', value: 'br-' },
      context: { arguments: { project_id: project.id } },
    });
    expect(b.completion.values).toEqual([expect.stringMatching(/^br-/)]);
  });

  it('scoped to a project, offers only that project and needs no project_id for branches', async () => {
    const { project, branch } = api.fake.seedProject('mine');
    api.fake.seedProject('other');
    conn = await connect({ projectId: project.id });
    const p = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: '' } });
    expect(p.completion.values).toEqual([project.id]);
    const b = await conn.mcp.complete({ ref: SCHEMA, argument: { name: 'branch_id', value: 'ma' } });
    expect(b.completion.values).toEqual(['main']);
    const byId = await conn.mcp.complete({ ref: SCHEMA, argument: { name: 'branch_id', value: 'br-' } });
    expect(byId.completion.values).toEqual([branch.id]);
  });

  it("scoped to a project, a project_id in the completion's context cannot widen the scope", async () => {
    const mine = api.fake.seedProject('mine');
    const other = api.fake.seedProject('other');
    conn = await connect({ projectId: mine.project.id });
    // A client fills project_id in the context (a prompt's other argument): it names another project,
    // whose branches, databases and roles the scope must keep out of reach.
    const context = { arguments: { project_id: other.project.id } };
    const b = await conn.mcp.complete({ ref: SCHEMA, argument: { name: 'branch_id', value: '' }, context });
    expect(b.completion.values).toEqual(['main']);
    const d = await conn.mcp.complete({ ref: SCHEMA, argument: { name: 'database', value: '' }, context });
    expect(d.completion.values.length).toBeGreaterThan(0);
    const asked = api.requests.map((r) => r.path).filter((p) => p.includes(other.project.id));
    expect(asked).toEqual([]);
  });

  it('answers no values, not an error, when Neon fails', async () => {
    conn = await connect({ apiKey: null });
    const res = await conn.mcp.complete({ ref: PROJECT, argument: { name: 'project_id', value: '' } });
    expect(res.completion.values).toEqual([]);
  });
});
