/**
 * The built server lists its tools from metadata and loads a tool's module on its first call
 * (src/tools/catalog.ts, src/server.ts): these check that the metadata path and the loaded registry
 * cannot drift apart.
 */
import { describe, expect, it } from 'vitest';
import { type Listed, type Selection, selectFrom, TOOL_MODULES } from '../src/tools/catalog.js';
import { ALL_TOOLS, selectTools } from '../src/tools/registry.js';

describe('the tool modules the server loads on demand', () => {
  it('hold every tool of the registry once, in its order', async () => {
    const loaded = [];
    for (const load of Object.values(TOOL_MODULES)) loaded.push(...(await load()));
    // The same objects: a module missing from TOOL_MODULES would leave its tools out of a built server.
    expect(loaded.map((t) => t.name)).toEqual(ALL_TOOLS.map((t) => t.name));
    loaded.forEach((t, i) => {
      expect(t).toBe(ALL_TOOLS[i]);
    });
  });
});

describe('selection from metadata alone', () => {
  // Only what the build writes for a tool: no input shapes, no handler.
  const metas: Listed[] = ALL_TOOLS.map((t) => ({
    name: t.name,
    toolset: t.toolset,
    hints: t.hints,
    accountLevel: t.accountLevel,
    anyPostgres: t.anyPostgres,
  }));
  const cases: Selection[] = [
    {},
    { toolsets: ['all'] },
    { readOnly: true },
    { projectId: 'p-1', toolsets: ['all'] },
    { toolsets: ['computes'], tools: ['get_project'], excludeTools: ['list_computes'] },
    { byDatabaseUrl: true },
    { byDatabaseUrl: true, readOnly: true },
  ];
  it.each(cases)('picks the same tools as the loaded registry: %j', (sel) => {
    const names = (tools: readonly { name: string }[]) => tools.map((t) => t.name);
    expect(names(selectFrom(metas, sel))).toEqual(names(selectTools(sel)));
  });

  it('refuses unknown names the same way', () => {
    expect(() => selectFrom(metas, { tools: ['no_such_tool'] })).toThrow(/Unknown tool "no_such_tool"/);
    expect(() => selectFrom(metas, { toolsets: ['nope'] })).toThrow(/Unknown toolset "nope"/);
  });
});
