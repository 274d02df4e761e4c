import { afterEach, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { TOOLSETS } from '../src/tools/framework.js';
import {
  ALL_TOOLS,
  DEFAULT_TOOLSETS,
  selectTools,
  validateSelection,
  whyHidden,
} from '../src/tools/registry.js';
import { connect, text, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function listed(options: Parameters<typeof connect>[0] = {}) {
  conn = await connect(options);
  const { tools } = await conn.mcp.listTools();
  return tools;
}

describe('tool definitions', () => {
  it('have unique snake_case verb_noun names, a title, a description and all four hints', () => {
    const names = new Set<string>();
    for (const t of ALL_TOOLS) {
      expect(t.name).toMatch(/^[a-z]+(_[a-z0-9]+)+$/);
      expect(names.has(t.name), `duplicate ${t.name}`).toBe(false);
      names.add(t.name);
      expect(t.title.length).toBeGreaterThan(2);
      expect(t.description.length).toBeGreaterThan(10);
      expect(Object.keys(TOOLSETS)).toContain(t.toolset);
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof t.hints[hint], `${t.name}.${hint}`).toBe('boolean');
      }
      if (t.hints.readOnlyHint)
        expect(t.hints.destructiveHint, `${t.name} is read-only yet destructive`).toBe(false);
    }
  });

  it('are advertised with every hint, an output schema and lean input schemas', async () => {
    const tools = await listed({ toolsets: ['all'] });
    // With list_toolsets and enable_toolsets.
    expect(tools.length).toBe(ALL_TOOLS.length + 2);
    for (const t of tools) {
      expect(Object.keys(t.annotations ?? {}).sort()).toEqual([
        'destructiveHint',
        'idempotentHint',
        'openWorldHint',
        'readOnlyHint',
      ]);
      expect(t.outputSchema?.type).toBe('object');
      const json = JSON.stringify(t.inputSchema);
      expect(json).not.toContain('9007199254740991');
      expect(json).not.toContain('$schema');
    }
  });
});

describe('selection', () => {
  it('exposes the default toolsets plus list_toolsets and enable_toolsets by default', async () => {
    const tools = await listed();
    const expected = ALL_TOOLS.filter((t) => DEFAULT_TOOLSETS.includes(t.toolset)).map((t) => t.name);
    expect(tools.map((t) => t.name).sort()).toEqual(['list_toolsets', 'enable_toolsets', ...expected].sort());
  });

  it('selects toolsets, adds single tools and excludes tools', async () => {
    const tools = await listed({
      toolsets: ['projects'],
      tools: ['list_operations'],
      excludeTools: ['delete_project'],
    });
    const names = tools.map((t) => t.name);
    const projects = ALL_TOOLS.filter((t) => t.toolset === 'projects').map((t) => t.name);
    expect(projects).toContain('delete_project');
    expect(names.sort()).toEqual(
      [
        'list_toolsets',
        'enable_toolsets',
        'list_operations',
        ...projects.filter((n) => n !== 'delete_project'),
      ].sort(),
    );
  });

  it('rejects unknown toolsets and tools with the valid names', () => {
    expect(() => selectTools({ toolsets: ['nope'] })).toThrow(
      `Unknown toolset "nope". Valid: all, ${Object.keys(TOOLSETS).join(', ')}.`,
    );
    expect(Object.keys(TOOLSETS).slice(0, 2)).toEqual(['projects', 'access']);
    expect(() => selectTools({ tools: ['drop_everything'] })).toThrow(/Unknown tool "drop_everything"/);
  });

  it('read-only mode lists only tools with readOnlyHint true, whatever toolsets were asked', async () => {
    const tools = await listed({ readOnly: true, toolsets: ['all'], tools: ['delete_project'] });
    expect(tools.length).toBeGreaterThan(1);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    expect(tools.map((t) => t.name)).not.toContain('delete_project');
    // A hidden tool does not exist for the client: the call is a protocol error, and nothing is sent.
    await expect(conn.call('delete_project', { project_id: 'p-1' })).rejects.toThrow(
      /delete_project not found/,
    );
    expect(api.requests).toHaveLength(0);
  });

  it('project scope removes project_id from schemas, injects it, and hides account-level tools', async () => {
    const { project } = api.fake.seedProject('scoped');
    const tools = await listed({ projectId: project.id, toolsets: ['all'] });
    const names = tools.map((t) => t.name);
    expect(names).not.toContain('list_projects');
    expect(names).not.toContain('create_project');
    expect(names).not.toContain('delete_project');
    for (const t of tools) expect(Object.keys(t.inputSchema.properties ?? {})).not.toContain('project_id');
    const got = await conn.ok('get_project', {});
    expect(got.project.id).toBe(project.id);
    // Naming the same project is tolerated; naming another is refused before any request.
    expect((await conn.ok('get_project', { project_id: project.id })).project.id).toBe(project.id);
    const before = api.requests.length;
    const err = await conn.fails('get_project', { project_id: 'someone-elses-1' });
    expect(err).toMatch(/scoped to project .*"someone-elses-1" cannot be used/);
    await api.settle();
    expect(api.requests.length).toBe(before);
  });

  it('list_toolsets tells what is enabled and what is hidden and why', async () => {
    conn = await connect({ toolsets: ['projects'], tools: ['run_sql_readonly'], readOnly: true });
    const out = await conn.ok('list_toolsets');
    expect(out.read_only).toBe(true);
    const line = (name: string) => out.toolsets.find((l: string) => l.startsWith(`${name}: `));
    expect(line('projects')).toMatch(
      /^projects: \d+ of \d+ tools enabled; read-only mode hides .*delete_project/,
    );
    expect(line('projects')).not.toMatch(/list_projects/);
    expect(line('sql')).toMatch(
      /^sql: 1 of 7 tools enabled; read-only mode hides run_sql, .*; toolset not enabled$/,
    );
    expect(line('billing')).toBe(
      'billing: 0 of 3 tools enabled; read-only mode hides set_spending_limit; toolset not enabled',
    );
    expect(out.enable).toMatch(/^Call enable_toolsets with the toolsets you need/);
    expect(out.enable).toContain(
      'Or restart neon-mcp with --toolsets projects,NAME (or NEON_MCP_TOOLSETS), or --toolsets all; a single tool: --tools TOOL.',
    );
  });

  it('list_toolsets answers in at most 1,000 characters by default, a line per toolset', async () => {
    conn = await connect();
    const res = await conn.call('list_toolsets');
    const out = res.structuredContent as any;
    expect(text(res).length).toBeLessThanOrEqual(1_000);
    expect(out.toolsets).toHaveLength(Object.keys(TOOLSETS).length);
    expect(out.toolsets).toContain('sql: 7 tools, enabled');
    expect(out.toolsets).toContain('access: 6 tools, not enabled');
    expect(out.enable).toContain(`--toolsets ${DEFAULT_TOOLSETS.join(',')},NAME`);
    const all = await connect({ toolsets: ['all'] });
    expect((await all.ok('list_toolsets')).enable).toBe('Every toolset is enabled.');
    await all.close();
  });
});

describe('selection rules (selectTools and whyHidden without a server)', () => {
  const names = (sel: Parameters<typeof selectTools>[0]) => selectTools(sel).map((t) => t.name);
  const tool = (name: string) => ALL_TOOLS.find((t) => t.name === name)!;

  it('no toolsets, or an empty list, means the default toolsets', () => {
    const defaults = [
      'list_toolsets',
      'enable_toolsets',
      ...ALL_TOOLS.filter((t) => DEFAULT_TOOLSETS.includes(t.toolset)).map((t) => t.name),
    ];
    expect(names({})).toEqual(defaults);
    expect(names({ toolsets: [] })).toEqual(defaults);
    expect(DEFAULT_TOOLSETS).toEqual(['projects', 'branches', 'databases', 'sql', 'schema']);
  });

  it('"all" selects every tool, in registry order, list_toolsets and enable_toolsets first', () => {
    expect(names({ toolsets: ['all'] })).toEqual([
      'list_toolsets',
      'enable_toolsets',
      ...ALL_TOOLS.map((t) => t.name),
    ]);
  });

  it('list_toolsets can be excluded or named, and is not an unknown tool', () => {
    expect(names({ toolsets: ['projects'], excludeTools: ['list_toolsets'] })).not.toContain('list_toolsets');
    expect(names({ toolsets: ['projects'], excludeTools: ['list_toolsets'] }).length).toBeGreaterThan(0);
    expect(names({ toolsets: ['projects'], tools: ['list_toolsets'] })[0]).toBe('list_toolsets');
    expect(names({ toolsets: ['projects'], excludeTools: ['enable_toolsets'] }).slice(0, 2)).toEqual([
      'list_toolsets',
      'list_projects',
    ]);
    expect(names({ toolsets: ['projects'], tools: ['enable_toolsets'] }).slice(0, 2)).toEqual([
      'list_toolsets',
      'enable_toolsets',
    ]);
    expect(() => selectTools({ excludeTools: ['no_such_tool'] })).toThrow(
      'Unknown tool "no_such_tool". See the README for the list.',
    );
  });

  it('says why a tool is hidden, in order: read-only, scope, excluded, then toolsets (an added tool shows)', () => {
    const del = tool('delete_project');
    const list = tool('list_projects');
    const ops = tool('list_operations');
    expect(whyHidden(del, { readOnly: true, projectId: 'p', excludeTools: ['delete_project'] })).toBe(
      'read-only mode',
    );
    expect(whyHidden(list, { projectId: 'p', excludeTools: ['list_projects'] })).toBe(
      'scoped to one project',
    );
    expect(whyHidden(list, { excludeTools: ['list_projects'], tools: ['list_projects'] })).toBe('excluded');
    expect(whyHidden(ops, { toolsets: ['projects'] })).toBe('toolset operations not enabled');
    expect(whyHidden(ops, { toolsets: ['projects'], tools: ['list_operations'] })).toBeUndefined();
    expect(whyHidden(ops, { toolsets: ['operations'] })).toBeUndefined();
    expect(whyHidden(list, {})).toBeUndefined();
    expect(whyHidden(list, { readOnly: true, projectId: undefined })).toBeUndefined();
    expect(whyHidden(tool('get_project'), { projectId: 'p' })).toBeUndefined();
  });

  it('list_toolsets gives one line per toolset, names hidden tools with the reason, and the scope', async () => {
    conn = await connect({ toolsets: ['all'], projectId: 'p-scope' });
    const out = await conn.ok('list_toolsets');
    expect(out.read_only).toBe(false);
    expect(out.project_id).toBe('p-scope');
    expect(out.enable).toBe('Every toolset is enabled.');
    const expected = Object.keys(TOOLSETS).map((name) => {
      const all = ALL_TOOLS.filter((t) => t.toolset === name);
      const hidden = all.filter((t) => t.accountLevel).map((t) => t.name);
      return hidden.length
        ? `${name}: ${all.length - hidden.length} of ${all.length} tools enabled; scoped to one project hides ${hidden.join(', ')}`
        : `${name}: ${all.length} tools, enabled`;
    });
    expect(out.toolsets).toEqual(expected);
    // Both kinds of line occur, so both branches above ran.
    expect(expected.filter((l) => l.includes(' hides ')).length).toBeGreaterThan(0);
    expect(expected.filter((l) => l.endsWith(', enabled')).length).toBeGreaterThan(0);
    await conn.close();
    conn = await connect({ toolsets: ['all'] });
    const unscoped = await conn.ok('list_toolsets');
    expect(unscoped).not.toHaveProperty('project_id');
  });

  it('list_toolsets: toolsets that are off, a single tool added, read-only, and how to enable the rest', async () => {
    conn = await connect({ toolsets: ['projects'], tools: ['list_operations'], readOnly: true });
    const out = await conn.ok('list_toolsets');
    expect(out.read_only).toBe(true);
    const count = (set: string) => ALL_TOOLS.filter((t) => t.toolset === set).length;
    const writes = ALL_TOOLS.filter((t) => t.toolset === 'projects' && !t.hints.readOnlyHint).map(
      (t) => t.name,
    );
    expect(writes.length).toBeGreaterThan(0);
    expect(out.toolsets[0]).toBe(
      `projects: ${count('projects') - writes.length} of ${count('projects')} tools enabled; read-only mode hides ${writes.join(', ')}`,
    );
    expect(out.toolsets).toContain(
      `operations: 1 of ${count('operations')} tools enabled; toolset not enabled`,
    );
    // docs has only reads: off is its one reason. branches has writes too: both reasons are named.
    expect(out.toolsets).toContain(`docs: ${count('docs')} tools, not enabled`);
    const branchWrites = ALL_TOOLS.filter((t) => t.toolset === 'branches' && !t.hints.readOnlyHint);
    expect(out.toolsets).toContain(
      `branches: 0 of ${count('branches')} tools enabled; read-only mode hides ${branchWrites.map((t) => t.name).join(', ')}; toolset not enabled`,
    );
    expect(out.enable).toBe(
      'Call enable_toolsets with the toolsets you need (read-only mode and the project scope still apply). Or restart neon-mcp with --toolsets projects,NAME (or NEON_MCP_TOOLSETS), or --toolsets all; a single tool: --tools TOOL.',
    );
  });
});

describe('selection with --database-url, and the toolset tools on their own', () => {
  const meta = (name: string) => selectTools({ toolsets: ['all'] }).find((t) => t.name === name)!;
  const anyPg = ALL_TOOLS.filter((t) => t.anyPostgres).map((t) => t.name);

  it('--database-url: only the tools that work on any PostgreSQL, whatever the toolsets, no toolset tools', () => {
    expect(anyPg).toEqual(expect.arrayContaining(['run_sql', 'list_tables', 'get_branch_schema']));
    expect(anyPg).not.toContain('create_project');
    expect(selectTools({ byDatabaseUrl: true }).map((t) => t.name)).toEqual(anyPg);
    expect(selectTools({ byDatabaseUrl: true, toolsets: ['projects'] }).map((t) => t.name)).toEqual(anyPg);
    const create = ALL_TOOLS.find((t) => t.name === 'create_project')!;
    expect(whyHidden(create, { byDatabaseUrl: true })).toBe('needs the Neon API (not with --database-url)');
    expect(whyHidden(create, { byDatabaseUrl: true, readOnly: true })).toBe(
      'needs the Neon API (not with --database-url)',
    );
  });

  it('--database-url with a Neon-only tool asked by name: refused at start, naming it and what is available', () => {
    expect(() => validateSelection({ byDatabaseUrl: true, tools: ['run_sql'] })).not.toThrow();
    expect(() => validateSelection({ byDatabaseUrl: true })).not.toThrow();
    expect(() =>
      validateSelection({ byDatabaseUrl: true, tools: ['run_sql', 'create_project', 'list_projects'] }),
    ).toThrow(
      new Error(
        "--tools create_project,list_projects: not available with --database-url (Neon's API is needed). " +
          `Available: ${anyPg.join(', ')}.`,
      ),
    );
    // The meta tools are not in the catalogue, and need Neon's toolsets: refused the same way.
    expect(() => validateSelection({ byDatabaseUrl: true, tools: ['list_toolsets'] })).toThrow(
      /^--tools list_toolsets: not available with --database-url/,
    );
    // Without --database-url the same names are fine.
    expect(() => validateSelection({ tools: ['create_project'] })).not.toThrow();
  });

  it('enable_toolsets takes 1 to 30 toolset names', () => {
    const arg = (meta('enable_toolsets').input as Record<string, z.ZodType>).toolsets;
    const issue = (value: string[]) => arg.safeParse(value).error?.issues[0]?.message;
    expect(issue([])).toBe('must hold 1 to 30 toolset names');
    expect(issue(['roles'])).toBeUndefined();
    expect(issue(Array(30).fill('roles'))).toBeUndefined();
    expect(issue(Array(31).fill('roles'))).toBe('must hold 1 to 30 toolset names');
  });

  it('enable_toolsets outside a running server says so; inside, answers the toolsets now enabled', async () => {
    const tool = meta('enable_toolsets');
    await expect(tool.handler({ toolsets: ['roles'] }, {} as never)).rejects.toThrow(
      /^enable_toolsets works only inside a running server\.$/,
    );
    const toolsets = { enable: () => ['roles'], current: () => ['projects', 'roles'] };
    expect(await tool.handler({ toolsets: ['roles'] }, { toolsets } as never)).toEqual({
      toolsets: ['projects', 'roles'],
      added: ['roles'],
    });
  });

  it('list_toolsets outside a server: the defaults without toolsets; every toolset named is every toolset', async () => {
    const call = (sel: Parameters<typeof selectTools>[0]) =>
      selectTools(sel)
        .find((t) => t.name === 'list_toolsets')!
        .handler({}, {} as never) as Promise<{ enable: string }>;
    expect((await call({})).enable).toMatch(/--toolsets projects,branches,databases,sql,schema,NAME/);
    expect((await call({ toolsets: Object.keys(TOOLSETS) })).enable).toBe('Every toolset is enabled.');
    expect((await call({ toolsets: ['all'] })).enable).toBe('Every toolset is enabled.');
  });
});

describe('protocol eras', () => {
  it('serves a 2025-11-25 client that sends initialize', async () => {
    api.fake.seedProject('legacy');
    conn = await connect({ era: 'legacy' });
    expect(conn.mcp.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    const out = await conn.ok('list_projects');
    expect(out.projects[0].name).toBe('legacy');
  });

  it('serves a 2026-07-28 client', async () => {
    conn = await connect({ era: 'modern' });
    expect(conn.mcp.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  });

  it('without a key, lists tools and answers calls with how to set the key', async () => {
    conn = await connect({ apiKey: null });
    const { tools } = await conn.mcp.listTools();
    expect(tools.length).toBeGreaterThan(1);
    const err = await conn.fails('list_projects');
    expect(err).toMatch(/NEON_API_KEY/);
    expect(api.requests).toHaveLength(0);
  });
});
