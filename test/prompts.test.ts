/** Prompts (src/mcp/prompts.ts): listed with their arguments, and each names tools that exist. */
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, useMockApi } from './helpers.js';

useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

const TOOL_NAMES = new Set([...ALL_TOOLS.map((t) => t.name), 'enable_toolsets', 'list_toolsets']);

const ARGS: Record<string, Record<string, string>> = {
  safe_migration: { project_id: 'p-1', change: 'add a column' },
  tune_slow_query: { project_id: 'p-1' },
  branch_per_feature: { project_id: 'p-1', feature: 'pr-42' },
  app_role: { project_id: 'p-1', role_name: 'app_reader', access: 'read_write' },
  get_started: { name: 'shop' },
  undo_last_change: { project_id: 'p-1', branch_id: 'br-main' },
};

describe('prompts', () => {
  it('lists the six workflows with their arguments', async () => {
    conn = await connect();
    const { prompts } = await conn.mcp.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(Object.keys(ARGS).sort());
    const migration = prompts.find((p) => p.name === 'safe_migration')!;
    expect(migration.arguments?.map((a) => [a.name, a.required])).toEqual([
      ['project_id', true],
      ['branch_id', false],
      ['database', false],
      ['change', true],
    ]);
  });

  for (const [name, args] of Object.entries(ARGS)) {
    it(`${name}: names only tools that exist, and the arguments given`, async () => {
      conn = await connect();
      const res = await conn.mcp.getPrompt({ name, arguments: args });
      const text = (res.messages[0].content as { text: string }).text;
      const named = [...text.matchAll(/\b[a-z]+(?:_[a-z]+)+\b/g)].map((m) => m[0]);
      const tools = named.filter((n) =>
        /^(list|get|create|delete|run|prepare|complete|discard|compare|explain|reset|enable|describe|undo|read_as)_/.test(
          n,
        ),
      );
      expect(tools.length, text).toBeGreaterThan(1);
      for (const t of tools) expect(TOOL_NAMES.has(t), `${name} names unknown tool ${t}`).toBe(true);
      for (const v of Object.values(args)) expect(text).toContain(v);
    });
  }

  it('app_role names the access levels of create_role', async () => {
    conn = await connect();
    const res = await conn.mcp.getPrompt({ name: 'app_role', arguments: ARGS.app_role });
    const text = (res.messages[0].content as { text: string }).text;
    for (const level of ['read_only', 'read_write', 'owner']) expect(text).toContain(level);
  });
});
