/**
 * Toolsets enabled at run time (src/mcp/toolsets.ts, enable_toolsets in registry.ts): the client hears
 * notifications/tools/list_changed and sees the new tools, and the server's flags still filter them.
 */
import type { Tool } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

const namesOf = (tools: { name: string }[]) => tools.map((t) => t.name);
const inToolset = (set: string) => ALL_TOOLS.filter((t) => t.toolset === set).map((t) => t.name);

/** Connects with a client that records every tools/list_changed it is told of. */
async function watched(options: Parameters<typeof connect>[0] = {}) {
  const changes: Tool[][] = [];
  let notified: () => void = () => undefined;
  const next = () =>
    new Promise<void>((resolve) => {
      notified = resolve;
    });
  let waiting = next();
  conn = await connect({
    ...options,
    mcpClient: {
      listChanged: {
        tools: {
          debounceMs: 0,
          onChanged: (error, tools) => {
            if (error) throw error;
            changes.push(tools ?? []);
            notified();
          },
        },
      },
    },
  });
  return {
    conn,
    changes,
    async changed() {
      await waiting;
      waiting = next();
    },
  };
}

describe('enable_toolsets', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`adds a toolset: the ${era} client is told the list changed and sees the new tools`, async () => {
      const w = await watched({ era });
      const before = namesOf((await w.conn.mcp.listTools()).tools);
      expect(before).not.toContain('list_computes');
      expect(before).toContain('enable_toolsets');

      const out = await w.conn.ok('enable_toolsets', { toolsets: ['computes'] });
      expect(out.added.sort()).toEqual(inToolset('computes').sort());
      expect(out.toolsets).toContain('computes');
      await w.changed();
      expect(namesOf(w.changes.at(-1)!)).toEqual(expect.arrayContaining(inToolset('computes')));

      const after = namesOf((await w.conn.mcp.listTools()).tools);
      expect(after).toEqual(expect.arrayContaining([...before, ...inToolset('computes')]));
      // The new tools work.
      const { project, branch } = api.fake.seedProject();
      const computes = await w.conn.ok('list_computes', { project_id: project.id, branch_id: branch.id });
      expect(computes.computes.map((c: any) => c.branch_id)).toContain(branch.id);
      // Enabling it again adds nothing.
      expect((await w.conn.ok('enable_toolsets', { toolsets: ['computes'] })).added).toEqual([]);
    });
  }

  it('in read-only mode adds only the read tools of a toolset', async () => {
    const w = await watched({ readOnly: true });
    const out = await w.conn.ok('enable_toolsets', { toolsets: ['snapshots', 'computes'] });
    const reads = ALL_TOOLS.filter(
      (t) => (t.toolset === 'snapshots' || t.toolset === 'computes') && t.hints.readOnlyHint,
    ).map((t) => t.name);
    expect(out.added.sort()).toEqual(reads.sort());
    expect(out.added).not.toContain('create_snapshot');
    await w.changed();
    const tools = (await w.conn.mcp.listTools()).tools;
    for (const t of tools) expect(t.annotations?.readOnlyHint, t.name).toBe(true);
    // A mutating tool stays unknown to the server, not merely unlisted.
    await expect(w.conn.call('create_snapshot', { project_id: 'p', branch_id: 'b' })).rejects.toThrow(
      /create_snapshot/,
    );
  });

  it('under --project-id adds no account-wide tools and keeps project_id out of the schemas', async () => {
    const { project } = api.fake.seedProject();
    const w = await watched({ projectId: project.id });
    const out = await w.conn.ok('enable_toolsets', { toolsets: ['all'] });
    expect(out.added).not.toContain('list_organizations');
    expect(out.added).not.toContain('create_api_key');
    await w.changed();
    for (const t of (await w.conn.mcp.listTools()).tools) {
      expect(Object.keys((t.inputSchema as any).properties ?? {}), t.name).not.toContain('project_id');
    }
    expect(namesOf((await w.conn.mcp.listTools()).tools)).toContain('list_computes');
  });

  it('keeps excluded tools out', async () => {
    const w = await watched({ excludeTools: ['delete_compute'] });
    const out = await w.conn.ok('enable_toolsets', { toolsets: ['computes'] });
    expect(out.added).toContain('create_compute');
    expect(out.added).not.toContain('delete_compute');
  });

  it('refuses an unknown toolset, naming the valid ones, and changes nothing', async () => {
    const w = await watched();
    const err = await w.conn.fails('enable_toolsets', { toolsets: ['computes', 'nope'] });
    expect(err).toMatch(/Unknown toolset "nope". Valid: all, projects/);
    expect(namesOf((await w.conn.mcp.listTools()).tools)).not.toContain('list_computes');
    expect(w.changes).toEqual([]);
  });
});

describe('list_toolsets', () => {
  it('says how to enable the rest in one call, and reflects what was enabled', async () => {
    conn = await connect();
    const before = await conn.ok('list_toolsets');
    expect(before.enable).toMatch(/^Call enable_toolsets/);
    expect(before.toolsets).toContain(`snapshots: ${inToolset('snapshots').length} tools, not enabled`);
    await conn.ok('enable_toolsets', { toolsets: ['snapshots'] });
    const after = await conn.ok('list_toolsets');
    expect(after.toolsets).toContain(`snapshots: ${inToolset('snapshots').length} tools, enabled`);
  });
});
